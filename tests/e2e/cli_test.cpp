// hsmca token and key commands, as an operator types them.
#include <gtest/gtest.h>

#include <algorithm>

#include "cli_runner.hpp"

namespace hsmca::test {
namespace {

namespace fs = std::filesystem;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { SoftHsmEnv::get(); }
  TempDir dir_;
};

ProcessResult init(const std::string& label, std::map<std::string, std::string> env = {}) {
  env.try_emplace("HSMCA_SO_PIN", kSoPin);
  return hsmca({"token", "init", "--module", kSoftHsmModule, "--label", label}, env);
}

TEST_F(CliTest, TokenInitPrintsTheSerialThatTokenListShows) {
  auto r = init("CA Token");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto pos = r.out.find("serial ");
  ASSERT_NE(pos, std::string::npos) << r.out;
  std::string serial = r.out.substr(pos + 7);
  serial.erase(serial.find_last_not_of("\n") + 1);
  EXPECT_FALSE(serial.empty());

  auto list = hsmca({"token", "list", "--module", kSoftHsmModule, "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto tokens = nlohmann::json::parse(list.out);
  auto it = std::find_if(tokens.begin(), tokens.end(), [](const auto& t) { return t["label"] == "CA Token"; });
  ASSERT_NE(it, tokens.end()) << list.out;
  EXPECT_EQ((*it)["serial"], serial);
  EXPECT_EQ((*it)["initialized"], true);

  auto text = hsmca({"token", "list", "--module", kSoftHsmModule});
  EXPECT_NE(text.out.find("CA Token  serial " + serial), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("token=CA%20Token"), std::string::npos) << text.out;
}

TEST_F(CliTest, TokenInitRefusesALabelInUseAndNeedsBothPins) {
  ASSERT_EQ(init("CA Token").exit_code, 0);
  auto again = init("CA Token");
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;

  auto no_so = hsmca({"token", "init", "--module", kSoftHsmModule, "--label", "Other"}, {{"HSMCA_SO_PIN", ""}});
  EXPECT_NE(no_so.exit_code, 0);
  EXPECT_NE(no_so.err.find("HSMCA_SO_PIN"), std::string::npos) << no_so.err;
}

TEST_F(CliTest, KeyGeneratePrintsUriAndSpkiHashThatKeyShowConfirms) {
  ASSERT_EQ(init("CA Token").exit_code, 0);
  auto gen = hsmca({"key", "generate", "--module", kSoftHsmModule, "--token", "CA Token", "--label", "issuing",
                    "--type", "ec-p256"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  EXPECT_NE(gen.out.find("uri:         pkcs11:"), std::string::npos) << gen.out;
  EXPECT_NE(gen.out.find("token=CA%20Token"), std::string::npos) << gen.out;
  EXPECT_NE(gen.out.find("object=issuing"), std::string::npos) << gen.out;
  auto pos = gen.out.find("spki_sha256: ");
  ASSERT_NE(pos, std::string::npos);
  std::string spki = gen.out.substr(pos + 13, 64);

  auto show = hsmca({"key", "show", "--module", kSoftHsmModule, "--token", "CA Token", "--label", "issuing", "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  auto j = nlohmann::json::parse(show.out);
  EXPECT_EQ(j["label"], "issuing");
  EXPECT_EQ(j["type"], "ec-p256");
  EXPECT_EQ(j["spki_sha256"], spki);
  EXPECT_GE(j["id"].get<std::string>().size(), 16u);  // at least 8 bytes, as hex
  for (const char* flag : {"local", "sensitive", "always_sensitive", "never_extractable"}) {
    ASSERT_TRUE(j[flag].is_boolean()) << flag;
    EXPECT_TRUE(j[flag].get<bool>()) << flag;
  }
  ASSERT_TRUE(j["extractable"].is_boolean());
  EXPECT_FALSE(j["extractable"].get<bool>());

  auto text = hsmca({"key", "show", "--module", kSoftHsmModule, "--token", "CA Token", "--label", "issuing"});
  EXPECT_NE(text.out.find("never_extractable: true"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("generated in the token and can never leave it"), std::string::npos);
}

TEST_F(CliTest, KeyCommandsAcceptAPkcs11UriWithPinSourceFile) {
  ASSERT_EQ(init("CA Token").exit_code, 0);
  fs::path pin = dir_ / "pin";
  write_secret_file(pin, std::string(kUserPin) + "\n");
  std::string uri = "pkcs11:token=CA%20Token?pin-source=file:" + pin.string();
  auto gen = hsmca({"key", "generate", "--module", kSoftHsmModule, "--token", uri, "--label", "k", "--type", "ed25519"},
                   {{"HSMCA_PIN", ""}});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto show = hsmca({"key", "show", "--token", uri + "&module-path=" + kSoftHsmModule, "--label", "k", "--json"},
                    {{"HSMCA_PIN", ""}});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(nlohmann::json::parse(show.out)["type"], "ed25519");
}

TEST_F(CliTest, APinSourceOthersMayReadIsRefusedBeforeLoggingIn) {
  ASSERT_EQ(init("CA Token").exit_code, 0);
  fs::path pin = dir_ / "pin";
  write_secret_file(pin, std::string(kUserPin) + "\n");
  fs::permissions(pin, fs::perms::group_read | fs::perms::others_read, fs::perm_options::add);
  std::string uri = "pkcs11:token=CA%20Token?pin-source=file:" + pin.string();
  auto gen = hsmca({"key", "generate", "--module", kSoftHsmModule, "--token", uri, "--label", "k", "--type", "ec-p256"},
                   {{"HSMCA_PIN", ""}});
  EXPECT_NE(gen.exit_code, 0);
  EXPECT_EQ(gen.err, "hsmca: error: the user PIN file: " + pin.string() + " is readable by others: chmod 600 " +
                         pin.string() + "\n");
  auto show = hsmca({"key", "show", "--module", kSoftHsmModule, "--token", "CA Token", "--label", "k"});
  EXPECT_NE(show.exit_code, 0) << "a key was generated: " << show.out;
}

TEST_F(CliTest, APinTypedWhereItsSourceBelongsIsNeverPrinted) {
  ASSERT_EQ(init("CA Token").exit_code, 0);
  for (const std::string uri : {"pkcs11:token=CA%20Token?pin-source=s3cr3t-pin-value",
                                "pkcs11:token=CA%20Token?s3cr3t-pin-value"}) {
    auto r = hsmca({"key", "generate", "--module", kSoftHsmModule, "--token", uri, "--label", "k", "--type", "ec-p256"},
                   {{"HSMCA_PIN", ""}});
    EXPECT_NE(r.exit_code, 0) << uri;
    EXPECT_EQ(r.err.find("s3cr3t-pin-value"), std::string::npos) << "the value was echoed: " << r.err;
    EXPECT_EQ(r.out.find("s3cr3t-pin-value"), std::string::npos) << r.out;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST_F(CliTest, RefusalsAreOneLineThatNamesTheProblem) {
  ASSERT_EQ(init("CA Token").exit_code, 0);
  auto gen = [](std::vector<std::string> extra, std::map<std::string, std::string> env = {}) {
    std::vector<std::string> args{"key", "generate", "--module", kSoftHsmModule, "--token", "CA Token"};
    args.insert(args.end(), extra.begin(), extra.end());
    return hsmca(args, env);
  };
  struct Case {
    ProcessResult result;
    std::string message;
  };
  ASSERT_EQ(gen({"--label", "taken", "--type", "ec-p256"}).exit_code, 0);
  std::vector<Case> cases = {
      {gen({"--label", "x", "--type", "dsa-512"}), "unknown key type 'dsa-512' (use one of ec-p256"},
      {gen({"--label", "taken", "--type", "ec-p384"}), "a key labelled 'taken' already exists"},
      {gen({"--label", "x", "--type", "ec-p256"}, {{"HSMCA_PIN", "bad-pin-7c3e9"}}), "C_Login: CKR_PIN_INCORRECT"},
      {gen({"--label", "x", "--type", "ec-p256"}, {{"HSMCA_PIN", ""}}), "set HSMCA_PIN"},
      {hsmca({"key", "show", "--module", kSoftHsmModule, "--token", "No Such", "--label", "x"}),
       "no initialized token 'No Such'"},
      {hsmca({"key", "show", "--module", kSoftHsmModule, "--token", "CA Token", "--label", "absent"}),
       "no private key labelled 'absent'"},
      {hsmca({"token", "list", "--module", "/no/such/module.so"}), "cannot load PKCS#11 module /no/such/module.so"},
      {hsmca({"key", "show", "--module", kSoftHsmModule, "--token", "pkcs11:token=CA%20Token?pin-value=1234", "--label",
              "taken"}),
       "pin-value is refused"},
  };
  for (const auto& c : cases) {
    EXPECT_NE(c.result.exit_code, 0) << c.message;
    EXPECT_NE(c.result.err.find(c.message), std::string::npos) << "wanted: " << c.message << "\ngot: " << c.result.err;
    EXPECT_EQ(std::count(c.result.err.begin(), c.result.err.end(), '\n'), 1) << c.result.err;
    EXPECT_EQ(c.result.err.find("bad-pin-7c3e9"), std::string::npos) << "a PIN was echoed: " << c.result.err;
  }
}

TEST_F(CliTest, EveryCommandHasHelp) {
  for (std::vector<std::string> cmd : std::vector<std::vector<std::string>>{
           {}, {"token"}, {"token", "init"}, {"token", "list"}, {"key"}, {"key", "generate"}, {"key", "show"},
           {"ceremony"}, {"ceremony", "run"}}) {
    cmd.push_back("--help");
    auto r = hsmca(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd.front();
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace hsmca::test
