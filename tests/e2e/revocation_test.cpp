// hsmca revoke and hsmca crl on a CA made with hsmca alone, checked with
// stock openssl as the relying party.
#include <gtest/gtest.h>

#include <regex>

#include "cli_runner.hpp"

namespace hsmca::test {
namespace {

namespace fs = std::filesystem;

class RevocationTest : public ::testing::Test {
 protected:
  void SetUp() override { make_test_ca(dir_.path()); }

  std::string config() const { return (dir_ / "ca.yaml").string(); }

  // Signs a server certificate for NAME.example.test into DIR/NAME.crt; returns its serial.
  std::string issue(const std::string& name) {
    auto csr = openssl_csr(dir_.path(), name, "/CN=" + name + ".example.test", "DNS:" + name + ".example.test");
    auto r = hsmca({"sign", "--config", config(), "--csr", csr.string(), "--profile", "server", "--out",
                    (dir_ / (name + ".crt")).string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::smatch m;
    EXPECT_TRUE(std::regex_search(r.out, m, std::regex("serial ([0-9a-f]+)"))) << r.out;
    return m.size() > 1 ? m[1].str() : "";
  }

  ProcessResult revoke(const std::string& serial, const std::string& reason) {
    return hsmca({"revoke", "--config", config(), "--serial", serial, "--reason", reason});
  }

  ProcessResult crl(const fs::path& out, bool der = false) {
    std::vector<std::string> args = {"crl", "--config", config(), "--out", out.string()};
    if (der) args.push_back("--der");
    return hsmca(args);
  }

  // `openssl verify -crl_check` of DIR/NAME.crt against the root, the issuing CA and the CRL.
  ProcessResult verify_with_crl(const std::string& name, const fs::path& crl_file) {
    return openssl({"verify", "-crl_check", "-CAfile", (dir_ / "root.crt").string(), "-untrusted",
                    (dir_ / "issuing.crt").string(), "-CRLfile", crl_file.string(),
                    (dir_ / (name + ".crt")).string()});
  }

  std::string crl_text(const fs::path& crl_file, const std::string& inform = "PEM") {
    auto r = openssl({"crl", "-inform", inform, "-in", crl_file.string(), "-noout", "-text"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  nlohmann::json ledger() {
    auto r = hsmca({"certs", "list", "--config", config(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  TempDir dir_;
};

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

TEST_F(RevocationTest, ARevokedLeafFailsCrlCheckedVerificationAndAGoodOnePasses) {
  const std::string bad = issue("bad");
  const std::string good = issue("good");
  ASSERT_FALSE(bad.empty());

  auto r = revoke(bad, "keyCompromise");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_match(r.out, std::regex("revoked " + bad + R"( \(keyCompromise\) at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n)")))
      << r.out;

  r = crl(dir_ / "crl.pem");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("CRL number 1"), std::string::npos) << r.out;

  // The CRL verifies under the issuing CA, found through the chain.
  write_file(dir_ / "chain.pem", read_file(dir_ / "issuing.crt") + read_file(dir_ / "root.crt"));
  auto check = openssl({"crl", "-in", (dir_ / "crl.pem").string(), "-CAfile", (dir_ / "chain.pem").string(), "-noout"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.err.find("verify OK"), std::string::npos) << check.err;

  const auto text = crl_text(dir_ / "crl.pem");
  EXPECT_NE(text.find("Version 2 (0x1)"), std::string::npos) << text;
  EXPECT_NE(text.find("Serial Number: " + upper(bad)), std::string::npos) << text;
  EXPECT_EQ(text.find("Serial Number: " + upper(good)), std::string::npos) << text;
  EXPECT_NE(text.find("Key Compromise"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 Authority Key Identifier"), std::string::npos) << text;
  EXPECT_NE(text.find("Next Update"), std::string::npos) << text;

  auto revoked = verify_with_crl("bad", dir_ / "crl.pem");
  EXPECT_NE(revoked.exit_code, 0) << revoked.out;
  EXPECT_NE((revoked.out + revoked.err).find("certificate revoked"), std::string::npos) << revoked.out << revoked.err;
  auto fine = verify_with_crl("good", dir_ / "crl.pem");
  EXPECT_EQ(fine.exit_code, 0) << fine.out << fine.err;
}

TEST_F(RevocationTest, RevokingAgainIsHarmlessAndKeepsTheFirstTimeAndReason) {
  const std::string serial = issue("web");
  ASSERT_EQ(revoke(serial, "superseded").exit_code, 0);
  auto again = revoke(serial, "keyCompromise");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(std::regex_match(again.out, std::regex(serial + R"( was already revoked at \S+Z \(superseded\); nothing changed\n)")))
      << again.out;
  // Colons and capitals, as openssl prints serials, name the same certificate.
  std::string colons;
  for (std::size_t i = 0; i < serial.size(); i += 2) colons += (colons.empty() ? "" : ":") + upper(serial.substr(i, 2));
  auto third = revoke(colons, "superseded");
  EXPECT_EQ(third.exit_code, 0) << third.err;
  EXPECT_NE(third.out.find("already revoked"), std::string::npos) << third.out;
}

TEST_F(RevocationTest, AnUnknownSerialOrReasonIsAOneLineErrorAndChangesNothing) {
  const std::string serial = issue("web");
  auto unknown = revoke("0123456789abcdef", "keyCompromise");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_EQ(std::count(unknown.err.begin(), unknown.err.end(), '\n'), 1) << unknown.err;
  EXPECT_NE(unknown.err.find("no certificate with serial 0123456789abcdef"), std::string::npos) << unknown.err;

  auto reason = revoke(serial, "stolen");
  EXPECT_EQ(reason.exit_code, 1);
  EXPECT_EQ(std::count(reason.err.begin(), reason.err.end(), '\n'), 1) << reason.err;
  EXPECT_NE(reason.err.find("'stolen'"), std::string::npos) << reason.err;
  EXPECT_NE(reason.err.find("keyCompromise"), std::string::npos) << reason.err;
  EXPECT_NE(reason.err.find("privilegeWithdrawn"), std::string::npos) << reason.err;

  auto not_hex = revoke("xyz", "keyCompromise");
  EXPECT_EQ(not_hex.exit_code, 1);

  auto entries = ledger();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["status"], "issued");
}

TEST_F(RevocationTest, EachCrlHasAHigherNumberAndReplacesTheFileWithTheCurrentRevocations) {
  const std::string first = issue("first");
  const std::string second = issue("second");
  ASSERT_EQ(revoke(first, "cessationOfOperation").exit_code, 0);
  ASSERT_EQ(crl(dir_ / "crl.pem").exit_code, 0);
  auto text = crl_text(dir_ / "crl.pem");
  EXPECT_NE(text.find("X509v3 CRL Number: \n                1\n"), std::string::npos) << text;
  EXPECT_EQ(text.find(upper(second)), std::string::npos) << text;

  ASSERT_EQ(revoke(second, "unspecified").exit_code, 0);
  auto r = crl(dir_ / "crl.pem");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("CRL number 2  2 revoked"), std::string::npos) << r.out;
  text = crl_text(dir_ / "crl.pem");
  EXPECT_NE(text.find("X509v3 CRL Number: \n                2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Serial Number: " + upper(first)), std::string::npos) << text;
  EXPECT_NE(text.find("Serial Number: " + upper(second)), std::string::npos) << text;
  EXPECT_NE(text.find("Cessation Of Operation"), std::string::npos) << text;
  EXPECT_EQ(verify_with_crl("second", dir_ / "crl.pem").exit_code, 2 /* openssl verify: revoked */);

  // DER, and the number goes on.
  ASSERT_EQ(crl(dir_ / "crl.der", true).exit_code, 0);
  text = crl_text(dir_ / "crl.der", "DER");
  EXPECT_NE(text.find("X509v3 CRL Number: \n                3\n"), std::string::npos) << text;
  // No temporary file is left beside the output.
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    EXPECT_NE(e.path().filename().string().rfind(".crl", 0), 0u) << e.path();
  }
}

TEST_F(RevocationTest, RevocationsAreKeptInTheLedgerAndShownByCertsListAndShow) {
  const std::string revoked = issue("gone");
  const std::string kept = issue("kept");
  ASSERT_EQ(revoke(revoked, "affiliationChanged").exit_code, 0);

  auto entries = ledger();
  ASSERT_EQ(entries.size(), 2u);
  for (const auto& e : entries) {
    if (e["serial"] == revoked) {
      EXPECT_EQ(e["status"], "revoked");
      EXPECT_EQ(e["revocation_reason"], "affiliationChanged");
      EXPECT_TRUE(e.contains("revoked_at"));
    } else {
      EXPECT_EQ(e["serial"], kept);
      EXPECT_EQ(e["status"], "issued");
      EXPECT_FALSE(e.contains("revoked_at"));
    }
  }
  auto list = hsmca({"certs", "list", "--config", config()});
  EXPECT_NE(list.out.find(revoked + "  revoked"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(kept + "  issued"), std::string::npos) << list.out;
  auto show = hsmca({"certs", "show", "--config", config(), revoked});
  EXPECT_NE(show.out.find("revocation_reason: affiliationChanged"), std::string::npos) << show.out;
}

}  // namespace
}  // namespace hsmca::test
