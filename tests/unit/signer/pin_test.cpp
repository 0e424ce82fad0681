#include "hsmca/signer/pin.hpp"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "hsmca/signer/strict_yaml.hpp"
#include "softhsm_env.hpp"

namespace hsmca::signer {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// The ConfigError's message, or a note that none was thrown.
std::string error_of(const std::string& source) {
  try {
    read_pin(PinRole::user, source, "CA Token");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

bool in_environment(const std::string& name) {
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, name.c_str(), name.size()) == 0 && (*e)[name.size()] == '=') return true;
  }
  return false;
}

TEST(PinTest, ReadsTheFirstLineOfAPinFileOnlyItsOwnerCanRead) {
  TempDir dir;
  test::write_secret_file(dir / "pin", "1234-user\nsecond line\n");
  EXPECT_EQ(read_pin(PinRole::user, "file:" + (dir / "pin").string(), "CA Token").view(), "1234-user");
}

TEST(PinTest, RefusesAPinFileOthersCanReadSayingTheFixAndNotThePin) {
  TempDir dir;
  const auto pin = (dir / "pin").string();
  test::write_secret_file(pin, "1234-user\n");
  fs::permissions(pin, fs::perms::others_read, fs::perm_options::add);
  EXPECT_EQ(error_of("file:" + pin), "the user PIN file: " + pin + " is readable by others: chmod 600 " + pin);
  fs::permissions(pin, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_write,
                  fs::perm_options::replace);
  EXPECT_EQ(error_of("file:" + pin), "the user PIN file: " + pin + " is writable by group or others: chmod 600 " + pin);
}

TEST(PinTest, NeverRepeatsAPinSourceItDoesNotKnow) {
  // A PIN typed where its source belongs (pin-source=THE-PIN, pin_source: THE-PIN).
  const auto message = error_of("s3cr3t-pin-value");
  EXPECT_EQ(message.find("s3cr3t-pin-value"), std::string::npos) << message;
  EXPECT_NE(message.find("env:NAME or file:PATH"), std::string::npos) << message;
}

TEST(PinTest, TakesTheUserPinOutOfTheEnvironmentAndKeepsItForTheNextLogin) {
  setenv("HSMCA_PIN", "1234-user", 1);
  EXPECT_EQ(read_pin(PinRole::user, "", "Root Token").view(), "1234-user");
  EXPECT_EQ(std::getenv("HSMCA_PIN"), nullptr);
  EXPECT_FALSE(in_environment("HSMCA_PIN"));
  // A ceremony logs in to the issuer's token and its own with the one variable.
  EXPECT_EQ(read_pin(PinRole::user, "", "Issuing Token").view(), "1234-user");
}

TEST(PinTest, TakesTheSoPinAndANamedVariableOutOfTheEnvironment) {
  setenv("HSMCA_SO_PIN", "5678-so", 1);
  setenv("HSMCA_TEST_ROOT_PIN", "9012-root", 1);
  EXPECT_EQ(read_pin(PinRole::security_officer, "", "CA Token").view(), "5678-so");
  EXPECT_EQ(read_pin(PinRole::user, "env:HSMCA_TEST_ROOT_PIN", "CA Token").view(), "9012-root");
  EXPECT_FALSE(in_environment("HSMCA_SO_PIN"));
  EXPECT_FALSE(in_environment("HSMCA_TEST_ROOT_PIN"));
}

// A putenv string belongs to its caller (here read-only memory): taken out of
// the environment, never written to.
TEST(PinTest, LeavesAStringPutenvHandedInAlone) {
  static char entry[] = "HSMCA_TEST_PUTENV_PIN=2468-put";
  ASSERT_EQ(putenv(entry), 0);
  EXPECT_EQ(read_pin(PinRole::user, "env:HSMCA_TEST_PUTENV_PIN", "CA Token").view(), "2468-put");
  EXPECT_FALSE(in_environment("HSMCA_TEST_PUTENV_PIN"));
  EXPECT_STREQ(entry, "HSMCA_TEST_PUTENV_PIN=2468-put") << "the caller's buffer is the caller's";
}

TEST(PinTest, ForgetsAVariableItWillNeverRead) {
  setenv("HSMCA_TEST_UNUSED_PIN", "1357-unused", 1);
  forget_environment_secret("HSMCA_TEST_UNUSED_PIN");
  EXPECT_FALSE(in_environment("HSMCA_TEST_UNUSED_PIN"));
}

TEST(PinTest, AnUnsetVariableIsNamedAndCanBeSetLater) {
  unsetenv("HSMCA_TEST_LATE_PIN");
  EXPECT_EQ(error_of("env:HSMCA_TEST_LATE_PIN"), "pin source env:HSMCA_TEST_LATE_PIN names an unset or empty variable");
  setenv("HSMCA_TEST_LATE_PIN", "3456-late", 1);
  EXPECT_EQ(read_pin(PinRole::user, "env:HSMCA_TEST_LATE_PIN", "CA Token").view(), "3456-late");
}

TEST(PinTest, MakesTheProcessUndumpableBeforeItReadsAPin) {
  // In a child, so this test process keeps its own flag.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const bool dumpable_before = prctl(PR_SET_DUMPABLE, 1) == 0 && prctl(PR_GET_DUMPABLE) == 1;
    setenv("HSMCA_TEST_CHILD_PIN", "7890-child", 1);
    const bool read = read_pin(PinRole::user, "env:HSMCA_TEST_CHILD_PIN", "CA Token").view() == "7890-child";
    _exit(!dumpable_before ? 2 : !read ? 3 : prctl(PR_GET_DUMPABLE) == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: still dumpable after reading a PIN; "
                                       "2: could not be made dumpable to start with; 3: the PIN was not read";
}

}  // namespace
}  // namespace hsmca::signer
