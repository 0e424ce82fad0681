#include "hsmca/signer/secret_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::signer {
namespace {

void check_mode(mode_t mode, const std::filesystem::path& path, const std::string& what) {
  const char* problem = nullptr;
  if ((mode & (S_IWGRP | S_IWOTH)) != 0) {
    problem = "is writable by group or others";
  } else if ((mode & S_IROTH) != 0) {
    problem = "is readable by others";
  }
  if (problem != nullptr) {
    throw ConfigError(what + ": " + path.string() + " " + problem + ": chmod 600 " + path.string());
  }
}

}  // namespace

void check_secret_file(const std::filesystem::path& path, const std::string& what) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    throw ConfigError(what + ": cannot examine " + path.string() + ": " + std::strerror(errno));
  }
  check_mode(st.st_mode, path, what);
}

void check_secret_file(int fd, const std::filesystem::path& path, const std::string& what) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    throw ConfigError(what + ": cannot examine " + path.string() + ": " + std::strerror(errno));
  }
  check_mode(st.st_mode, path, what);
}

}  // namespace hsmca::signer
