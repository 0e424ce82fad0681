#include "hsmca/signer/secret_file.hpp"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::signer {
namespace {

// Present only when a file has entries beyond owner, group and other (acl(5)).
constexpr const char* kAclAttribute = "system.posix_acl_access";

void check_mode(const struct stat& st, bool has_acl, const std::filesystem::path& path, const std::string& what) {
  const char* problem = nullptr;
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    problem = "is writable by group or others";
  } else if ((st.st_mode & S_IROTH) != 0) {
    problem = "is readable by others";
  }
  if (problem != nullptr) {
    throw ConfigError(what + ": " + path.string() + " " + problem + ": chmod 600 " + path.string());
  }
  // Whoever owns the file may rewrite it, whatever its mode says.
  if (st.st_uid != geteuid() && st.st_uid != 0) {
    throw ConfigError(what + ": " + path.string() + " is owned by uid " + std::to_string(st.st_uid) +
                      ", neither this user nor root: chown " + std::to_string(geteuid()) + " " + path.string());
  }
  // With an access control list the group bits are only its mask: entries
  // for other users hide behind a mode that looks private.
  if (has_acl) {
    throw ConfigError(what + ": " + path.string() + " carries an access control list (getfacl " + path.string() +
                      "): setfacl -b " + path.string() + " && chmod 600 " + path.string());
  }
}

}  // namespace

void check_secret_file(const std::filesystem::path& path, const std::string& what) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    throw ConfigError(what + ": cannot examine " + path.string() + ": " + std::strerror(errno));
  }
  check_mode(st, getxattr(path.c_str(), kAclAttribute, nullptr, 0) >= 0, path, what);
}

void check_secret_file(int fd, const std::filesystem::path& path, const std::string& what) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    throw ConfigError(what + ": cannot examine " + path.string() + ": " + std::strerror(errno));
  }
  check_mode(st, fgetxattr(fd, kAclAttribute, nullptr, 0) >= 0, path, what);
}

}  // namespace hsmca::signer
