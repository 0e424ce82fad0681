#include "hsmca/signer/secret_file.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <filesystem>
#include <string>

#include "hsmca/signer/strict_yaml.hpp"
#include "softhsm_env.hpp"

namespace hsmca::signer {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

class SecretFileTest : public ::testing::Test {
 protected:
  // A secret file with exactly these permission bits, whatever the umask.
  std::string file_with(fs::perms perms) {
    const fs::path path = dir_ / "secret";
    test::write_file(path, "1234-user\n");
    fs::permissions(path, perms, fs::perm_options::replace);
    return path.string();
  }

  // The ConfigError's message, or a note that none was thrown.
  static std::string error_of(const std::string& path) {
    try {
      check_secret_file(path, "appliance.tls.key");
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(no ConfigError)";
  }

  TempDir dir_;
};

constexpr auto kOwnerReadWrite = fs::perms::owner_read | fs::perms::owner_write;

TEST_F(SecretFileTest, AcceptsAFileOnlyItsOwnerAndGroupCanRead) {
  for (auto perms : {kOwnerReadWrite, fs::perms::owner_read, kOwnerReadWrite | fs::perms::group_read}) {
    EXPECT_NO_THROW(check_secret_file(file_with(perms), "appliance.tls.key"));
  }
}

TEST_F(SecretFileTest, RefusesAFileOthersCanReadInOneLineThatSaysTheFix) {
  const auto path = file_with(kOwnerReadWrite | fs::perms::group_read | fs::perms::others_read);
  EXPECT_EQ(error_of(path), "appliance.tls.key: " + path + " is readable by others: chmod 600 " + path);
}

TEST_F(SecretFileTest, RefusesAFileGroupOrOthersCanWrite) {
  for (auto perms : {fs::perms::group_write, fs::perms::others_write}) {
    const auto path = file_with(kOwnerReadWrite | perms);
    EXPECT_EQ(error_of(path), "appliance.tls.key: " + path + " is writable by group or others: chmod 600 " + path);
  }
}

TEST_F(SecretFileTest, ChecksAnOpenFileByItsDescriptor) {
  const auto path = file_with(kOwnerReadWrite);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_NO_THROW(check_secret_file(fd, path, "the user PIN file"));
  // What is read is what is checked: the mode of the open file, now.
  fs::permissions(path, fs::perms::others_read, fs::perm_options::add);
  try {
    check_secret_file(fd, path, "the user PIN file");
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "the user PIN file: " + path + " is readable by others: chmod 600 " + path);
  }
  close(fd);
}

TEST_F(SecretFileTest, NamesAFileThatCannotBeExamined) {
  const auto path = (dir_ / "absent").string();
  EXPECT_EQ(error_of(path).rfind("appliance.tls.key: cannot examine " + path + ":", 0), 0u) << error_of(path);
}

// Mode 0640 shown, yet an ACL entry lets user 65534 read it: the group
// bits of such a file are only the ACL's mask.
TEST_F(SecretFileTest, RefusesAFileWithAnAccessControlList) {
  const std::string path = file_with(fs::perms::owner_read | fs::perms::owner_write);
  auto entry = [](std::string& out, std::uint16_t tag, std::uint16_t perm, std::uint32_t id) {
    out.append(reinterpret_cast<const char*>(&tag), 2).append(reinterpret_cast<const char*>(&perm), 2);
    out.append(reinterpret_cast<const char*>(&id), 4);
  };
  std::string acl;
  const std::uint32_t version = 2, none = 0xffffffff;
  acl.append(reinterpret_cast<const char*>(&version), 4);
  entry(acl, 0x01, 6, none);   // ACL_USER_OBJ rw-
  entry(acl, 0x02, 4, 65534);  // ACL_USER nobody r--
  entry(acl, 0x04, 4, none);   // ACL_GROUP_OBJ r--
  entry(acl, 0x10, 4, none);   // ACL_MASK r--
  entry(acl, 0x20, 0, none);   // ACL_OTHER ---
  ASSERT_EQ(setxattr(path.c_str(), "system.posix_acl_access", acl.data(), acl.size(), 0), 0) << std::strerror(errno);
  EXPECT_NE(error_of(path).find("carries an access control list"), std::string::npos) << error_of(path);
}

// Whoever owns the file may rewrite it whatever its mode (the suite runs as root, as CI does).
TEST_F(SecretFileTest, RefusesAFileOwnedByAnotherUser) {
  const std::string path = file_with(fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_EQ(chown(path.c_str(), 65534, 65534), 0) << "needs root: " << std::strerror(errno);
  EXPECT_NE(error_of(path).find("is owned by uid 65534"), std::string::npos) << error_of(path);
}

}  // namespace
}  // namespace hsmca::signer
