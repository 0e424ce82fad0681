#include "hsmca/signer/ca_config.hpp"

#include <gtest/gtest.h>

#include "hsmca/signer/strict_yaml.hpp"
#include "softhsm_env.hpp"

namespace hsmca::signer {
namespace {

constexpr const char* kBase =
    "pkcs11: {module: /usr/lib/softhsm/libsofthsm2.so, token: Example Issuing Token}\n"
    "issuer:\n"
    "  key_label: issuing-1\n"
    "  certificate: issuing.crt\n"
    "  chain: [root.crt]\n"
    "ledger: var/ledger.db\n"
    "profiles:\n"
    "  server: {validity_days: 90, extended_key_usage: [server_auth], allowed_dns_suffixes: [Example.TEST]}\n";

// The CA file as operators write it: what hsmca sign, hsmca crl and
// hsmca-appliance read. Relative paths are the file's; unknown keys and values
// out of range are one ConfigError naming the key.
class CaConfigTest : public ::testing::Test {
 protected:
  CaConfig load(const std::string& extra) {
    test::write_file(dir_ / "ca.yaml", std::string(kBase) + extra);
    return CaConfig::load(dir_ / "ca.yaml");
  }
  std::string error_of(const std::string& extra) {
    try {
      load(extra);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(no ConfigError)";
  }
  test::TempDir dir_;
};

TEST_F(CaConfigTest, ResolvesPathsAgainstTheFileAndDefaultsWhatIsLeftOut) {
  const auto c = load("");
  EXPECT_EQ(c.issuer_certificate, dir_.path() / "issuing.crt");
  ASSERT_EQ(c.chain.size(), 1u);
  EXPECT_EQ(c.chain.front(), dir_.path() / "root.crt");
  EXPECT_EQ(c.ledger, dir_.path() / "var/ledger.db");
  EXPECT_EQ(c.pkcs11.sessions, 4);
  ASSERT_NE(c.profile("server"), nullptr);
  EXPECT_EQ(c.profile("server")->allowed_dns_suffixes, std::vector<std::string>{"example.test"});
  EXPECT_EQ(c.profile("client"), nullptr);
  EXPECT_FALSE(c.revocation.crl_url);
  EXPECT_EQ(c.revocation.crl_validity_hours, 24);
  EXPECT_EQ(c.revocation.ocsp_validity_hours, 24);
  EXPECT_EQ(c.revocation.ocsp_fresh_signatures_per_second, 50);
  EXPECT_FALSE(c.revocation.ocsp_signer);
  EXPECT_TRUE(c.appliance.IsNull()) << "no appliance block";
}

TEST_F(CaConfigTest, ReadsTheRevocationBlockWithADelegatedOcspResponder) {
  const auto c = load(
      "revocation:\n"
      "  crl_url: http://ca.example.test/crl\n"
      "  ocsp_url: http://ca.example.test/ocsp\n"
      "  issuer_url: https://ca.example.test/ca/issuer.crt\n"
      "  crl_validity_hours: 48\n"
      "  ocsp_validity_hours: 6\n"
      "  ocsp_fresh_signatures_per_second: 0\n"
      "  ocsp_signer: {key_label: ocsp-1, certificate: responders/ocsp-signer.crt}\n");
  EXPECT_EQ(c.revocation.crl_url.value_or(""), "http://ca.example.test/crl");
  EXPECT_EQ(c.revocation.ocsp_url.value_or(""), "http://ca.example.test/ocsp");
  EXPECT_EQ(c.revocation.issuer_url.value_or(""), "https://ca.example.test/ca/issuer.crt");
  EXPECT_EQ(c.revocation.crl_validity_hours, 48);
  EXPECT_EQ(c.revocation.ocsp_validity_hours, 6);
  EXPECT_EQ(c.revocation.ocsp_fresh_signatures_per_second, 0) << "0: only cached answers";
  ASSERT_TRUE(c.revocation.ocsp_signer);
  EXPECT_EQ(c.revocation.ocsp_signer->key_label, "ocsp-1");
  EXPECT_EQ(c.revocation.ocsp_signer->certificate, dir_.path() / "responders/ocsp-signer.crt");
}

TEST_F(CaConfigTest, RefusesRevocationSettingsItCannotHonourNamingTheKey) {
  EXPECT_NE(error_of("revocation: {crl_url: ldap://ca.example.test/crl}\n").find("revocation.crl_url"),
            std::string::npos);
  EXPECT_NE(error_of("revocation: {ocsp_validity_hours: 0}\n").find("ocsp_validity_hours"), std::string::npos);
  EXPECT_NE(error_of("revocation: {ocsp_validity_hours: 337}\n").find("ocsp_validity_hours"), std::string::npos)
      << "at most two weeks";
  EXPECT_NE(error_of("revocation: {crl_validity_hours: 0}\n").find("crl_validity_hours"), std::string::npos);
  EXPECT_NE(error_of("revocation: {ocsp_fresh_signatures_per_second: -1}\n").find("ocsp_fresh_signatures_per_second"),
            std::string::npos);
  EXPECT_NE(error_of("revocation: {ocsp_signer: {certificate: ocsp.crt}}\n").find("key_label"), std::string::npos);
  EXPECT_NE(error_of("revocation: {ocsp_signer: {key_label: ocsp-1}}\n").find("certificate"), std::string::npos);
  EXPECT_NE(error_of("revocation: {ocsp_signer: {key_label: ocsp-1, certificate: o.crt, pin: 1234}}\n").find("pin"),
            std::string::npos);
  EXPECT_NE(error_of("revocation: {crl_urls: http://x/crl}\n").find("crl_urls"), std::string::npos);
}

TEST_F(CaConfigTest, RefusesAnUnknownTopLevelKeyAndAMissingRequiredOne) {
  EXPECT_NE(error_of("profile_defaults: {validity_days: 30}\n").find("profile_defaults"), std::string::npos);
  test::write_file(dir_ / "ca.yaml", "pkcs11: {module: /m.so, token: T}\nissuer: {key_label: k, certificate: c.crt}\n");
  try {
    CaConfig::load(dir_ / "ca.yaml");
    ADD_FAILURE() << "a CA file without a ledger loaded";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("ledger"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hsmca::signer
