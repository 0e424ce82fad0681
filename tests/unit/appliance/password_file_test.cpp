#include "hsmca/appliance/password_file.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "hsmca/signer/strict_yaml.hpp"
#include "process.hpp"
#include "softhsm_env.hpp"

namespace hsmca::appliance {
namespace {

// htpasswd from Debian's apache2-utils, as operators make the file.
std::string htpasswd_line(const std::vector<std::string>& options, const std::string& user, const std::string& password) {
  std::vector<std::string> argv{"htpasswd", "-n", "-b"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {user, password});
  const auto r = test::run_process(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n')) + "\n";
}

class PasswordFileTest : public ::testing::Test {
 protected:
  PasswordFile load(const std::string& text) {
    test::write_secret_file(dir_ / "users", text);
    return PasswordFile::load(dir_ / "users");
  }
  std::string error_of(const std::string& text) {
    try {
      load(text);
    } catch (const signer::ConfigError& e) {
      return e.what();
    }
    return "(no ConfigError)";
  }
  test::TempDir dir_;
};

TEST_F(PasswordFileTest, VerifiesBcryptAndSha512CryptPasswordsFromHtpasswd) {
  const auto sha = load(htpasswd_line({"-5"}, "other", "x"));
  EXPECT_TRUE(sha.verify("other", "x"));
  EXPECT_FALSE(sha.verify("other", "y"));
  const auto file = load(htpasswd_line({"-B"}, "device", "s3cret pass") + htpasswd_line({"-B"}, "other", "x"));
  EXPECT_TRUE(file.verify("device", "s3cret pass"));
  EXPECT_FALSE(file.verify("device", "s3cret pas"));
  EXPECT_FALSE(file.verify("device", "s3cret pass "));
  EXPECT_FALSE(file.verify("device", ""));
  EXPECT_FALSE(file.verify("Device", "s3cret pass")) << "names are exact";
  EXPECT_FALSE(file.verify("nobody", "s3cret pass"));
}

TEST_F(PasswordFileTest, RefusesWeakFormatsNamingTheLineAndUserButNeverTheHash) {
  const std::string md5 = htpasswd_line({"-m"}, "legacy", "pw");
  const auto why = error_of(htpasswd_line({"-B"}, "fine", "pw") + md5);
  EXPECT_NE(why.find("users:2: user 'legacy' has an apr1 MD5 hash"), std::string::npos) << why;
  EXPECT_NE(why.find("htpasswd -B"), std::string::npos) << why;
  EXPECT_EQ(why.find(md5.substr(md5.find(':') + 1, 20)), std::string::npos) << "the hash is not repeated";
  EXPECT_NE(error_of(htpasswd_line({"-s"}, "sha", "pw")).find("{SHA}"), std::string::npos);
  EXPECT_NE(error_of(htpasswd_line({"-d"}, "des", "pw")).find("DES"), std::string::npos);
  EXPECT_NE(error_of(htpasswd_line({"-p"}, "plain", "pw")).find("plain-text"), std::string::npos);
  EXPECT_NE(error_of("nocolon\n").find("expected NAME:HASH"), std::string::npos);
  EXPECT_NE(error_of(htpasswd_line({"-B"}, "twice", "a") + htpasswd_line({"-B"}, "twice", "b")).find("appears twice"),
            std::string::npos);
  EXPECT_NE(error_of("cut:$2y$05$abc\n").find("damaged"), std::string::npos);
  const std::string whole = htpasswd_line({"-B"}, "short", "pw");
  EXPECT_NE(error_of(whole.substr(0, whole.size() - 2) + "\n").find("damaged"), std::string::npos)
      << "a line cut by one character";
}

TEST_F(PasswordFileTest, RefusesUsersWhoseHashesCostDifferently) {
  // A cheap hash beside a dear one would let an answer's time tell the names apart.
  const auto why = error_of(htpasswd_line({"-B", "-C", "10"}, "dear", "a") + htpasswd_line({"-B", "-C", "4"}, "cheap", "b"));
  EXPECT_NE(why.find("users:2: user 'cheap' has a bcrypt 04 hash, the users before it a bcrypt 10 one"), std::string::npos)
      << why;
  EXPECT_NE(error_of(htpasswd_line({"-B"}, "b", "a") + htpasswd_line({"-5"}, "s", "b")).find("same kind and cost"),
            std::string::npos);
}

TEST_F(PasswordFileTest, AnUnknownUserTakesAsLongAsAWrongPassword) {
  // Cost 10: a few tens of ms per check, far above the timer's noise.
  const auto file = load(htpasswd_line({"-B", "-C", "10"}, "device", "right"));
  auto median_ms = [&](const std::string& user) {
    std::vector<double> ms;
    for (int i = 0; i < 5; ++i) {
      const auto start = std::chrono::steady_clock::now();
      EXPECT_FALSE(file.verify(user, "wrong"));
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[2];
  };
  const double wrong = median_ms("device"), unknown = median_ms("nobody");
  EXPECT_GT(std::min(wrong, unknown) / std::max(wrong, unknown), 0.5) << wrong << " ms vs " << unknown << " ms";
}

}  // namespace
}  // namespace hsmca::appliance
