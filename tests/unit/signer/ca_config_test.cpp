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
  EXPECT_TRUE(c.profile("server")->names.restricted) << "allowed_dns_suffixes, the older spelling of names.dns";
  EXPECT_EQ(c.profile("server")->names.dns, std::vector<std::string>{"example.test"});
  EXPECT_TRUE(c.profile("server")->requesters.empty()) << "only hsmca sign on the CA host";
  EXPECT_EQ(c.profile("client"), nullptr);
  EXPECT_FALSE(c.revocation.crl_url);
  EXPECT_EQ(c.revocation.crl_validity_hours, 24);
  EXPECT_EQ(c.revocation.ocsp_validity_hours, 24);
  EXPECT_EQ(c.revocation.ocsp_fresh_signatures_per_second, 50);
  EXPECT_FALSE(c.revocation.ocsp_signer);
  EXPECT_TRUE(c.appliance.IsNull()) << "no appliance block";
}

TEST_F(CaConfigTest, BoundsEachSignatureBy5SecondsUnlessTheFileSaysOtherwise) {
  const std::string base = "pkcs11: {module: /usr/lib/softhsm/libsofthsm2.so, token: Example Issuing Token}\n";
  const std::string rest = std::string(kBase).substr(base.size());
  auto with = [&](const std::string& pkcs11) {
    test::write_file(dir_ / "ca.yaml", pkcs11 + rest);
    return CaConfig::load(dir_ / "ca.yaml");
  };
  EXPECT_EQ(load("").pkcs11.call_timeout, std::chrono::milliseconds(5000));
  const std::string prefix = "pkcs11: {module: /usr/lib/softhsm/libsofthsm2.so, token: Example Issuing Token, ";
  EXPECT_EQ(with(prefix + "call_timeout_ms: 800}\n").pkcs11.call_timeout, std::chrono::milliseconds(800));
  EXPECT_EQ(with(prefix + "call_timeout_ms: 0}\n").pkcs11.call_timeout, std::chrono::milliseconds(0)) << "no bound";
  try {
    with(prefix + "call_timeout_ms: 50}\n");
    ADD_FAILURE() << "50 ms accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("pkcs11.call_timeout_ms must be 0 (no bound) or at least 100"), std::string::npos)
        << e.what();
  }
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

TEST_F(CaConfigTest, ReadsAProfilesNamePolicyAndRequesters) {
  const auto c = load(
      "  web:\n"
      "    validity_days: 30\n"
      "    extended_key_usage: [client_auth]\n"
      "    requesters: [enroll, acme, \"sha256:" + std::string(64, 'a') + "\", \"user:alice\"]\n"
      "    names:\n"
      "      dns: [Example.TEST, localhost]\n"
      "      wildcards: true\n"
      "      ip: [10.0.0.0/8, \"fd00::/8\", 192.0.2.7]\n"
      "      email: [Example.TEST, Ops@Example.TEST]\n"
      "      uri: [\"SPIFFE://Prod/ns/\", \"https://example.test\"]\n"
      "      common_name: text\n"
      "    key_types: [ec-p256, rsa-3072, ec-p256]\n");
  const Profile* web = c.profile("web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->key_types, (std::vector<std::string>{"ec-p256", "rsa-3072"})) << "a repeat counts once";
  EXPECT_EQ(web->requesters,
            (std::vector<std::string>{"enroll", "acme", "sha256:" + std::string(64, 'a'), "user:alice"}));
  EXPECT_TRUE(web->names.restricted);
  EXPECT_EQ(web->names.dns, (std::vector<std::string>{"example.test", "localhost"}));
  EXPECT_TRUE(web->names.wildcards);
  ASSERT_EQ(web->names.ip.size(), 3u);
  EXPECT_EQ(web->names.ip[0].str(), "10.0.0.0/8");
  EXPECT_EQ(web->names.ip[1].str(), "fd00::/8");
  EXPECT_EQ(web->names.ip[2].str(), "192.0.2.7/32") << "a bare address is one address";
  EXPECT_EQ(web->names.email, (std::vector<std::string>{"example.test", "Ops@example.test"}))
      << "domains lowercase; a mailbox's local part is its owner's";
  EXPECT_EQ(web->names.uri, (std::vector<std::string>{"spiffe://prod/ns/", "https://example.test"}));
  EXPECT_EQ(web->names.common_name, NamePolicy::CommonName::text);
}

// README: "with it, default deny" — a names block that lists only the CN's
// rule still restricts every kind of name it does not list.
TEST_F(CaConfigTest, RestrictsAProfileWithANamesBlockWhateverTheBlockLists) {
  const auto c = load(
      "  text: {extended_key_usage: [client_auth], names: {common_name: text, wildcards: false}}\n"
      "  empty: {extended_key_usage: [client_auth], names: {}}\n"
      "  bare: {extended_key_usage: [client_auth]}\n");
  EXPECT_TRUE(c.profile("text")->names.restricted);
  EXPECT_EQ(c.profile("text")->names.common_name, NamePolicy::CommonName::text);
  EXPECT_TRUE(c.profile("empty")->names.restricted);
  EXPECT_FALSE(c.profile("bare")->names.restricted) << "only a profile without the block takes any name";
  EXPECT_EQ(c.profile("bare")->names.common_name, NamePolicy::CommonName::name);
}

TEST_F(CaConfigTest, RefusesANamesBlockThatIsNoBlock) {
  const auto message = error_of("  odd: {extended_key_usage: [client_auth], names: }\n");
  EXPECT_EQ(message.rfind("profiles.odd.names must be a block", 0), 0u) << message;
}

TEST_F(CaConfigTest, RefusesAFreeTextCommonNameInAServerProfile) {
  // TLS clients fall back to the CN when a certificate has no DNS name.
  const auto message = error_of("  srv: {extended_key_usage: [server_auth], names: {ip: [10.0.0.0/8], common_name: text}}\n");
  EXPECT_NE(message.find("common_name: text is not allowed in a profile with server_auth"), std::string::npos)
      << message;
}

TEST_F(CaConfigTest, RestrictsAProfileWhoseNamesBlockListsAKindEvenWithNoEntries) {
  const auto c = load("  none: {extended_key_usage: [client_auth], names: {email: []}}\n");
  EXPECT_TRUE(c.profile("none")->names.restricted) << "a written kind with nothing in it allows nothing";
  EXPECT_TRUE(c.profile("none")->names.email.empty());
}

TEST_F(CaConfigTest, ReadsASingleLabelDnsSuffixInEitherSpelling) {
  const auto c = load(
      "  old: {extended_key_usage: [server_auth], allowed_dns_suffixes: [localhost]}\n"
      "  new: {extended_key_usage: [server_auth], names: {dns: [build01]}}\n");
  EXPECT_EQ(c.profile("old")->names.dns, std::vector<std::string>{"localhost"});
  EXPECT_EQ(c.profile("new")->names.dns, std::vector<std::string>{"build01"});
}

TEST_F(CaConfigTest, RefusesBothSpellingsOfTheDnsSuffixes) {
  const std::string error = error_of(
      "  web: {extended_key_usage: [server_auth], allowed_dns_suffixes: [a.test], names: {dns: [b.test]}}\n");
  EXPECT_NE(error.find("profiles.web.allowed_dns_suffixes"), std::string::npos) << error;
  EXPECT_NE(error.find("profiles.web.names.dns"), std::string::npos) << error;
}

TEST_F(CaConfigTest, RefusesOcspSigningInAProfile) {
  EXPECT_EQ(error_of("  responder: {extended_key_usage: [ocsp_signing]}\n"),
            "profiles.responder.extended_key_usage: ocsp_signing is not allowed in a profile: a delegated OCSP "
            "responder comes only from `ceremony: ocsp-signer` (it could answer for every certificate of the CA)");
  EXPECT_NE(error_of("  both: {extended_key_usage: [server_auth, ocsp_signing]}\n").find("ocsp_signing"),
            std::string::npos);
}

TEST_F(CaConfigTest, RefusesARangeWithHostBitsNamingItAndTheNetwork) {
  const std::string error = error_of("  web: {extended_key_usage: [server_auth], names: {ip: [10.0.0.1/8]}}\n");
  EXPECT_NE(error.find("profiles.web.names.ip"), std::string::npos) << error;
  EXPECT_NE(error.find("10.0.0.1/8"), std::string::npos) << error;
  EXPECT_NE(error.find("10.0.0.0/8"), std::string::npos) << "suggests the network: " << error;
  const std::string v6 = error_of("  web: {extended_key_usage: [server_auth], names: {ip: [\"fd00::1/8\"]}}\n");
  EXPECT_NE(v6.find("fd00::1/8"), std::string::npos) << v6;
}

// Each bad value: the key path and the value in one line.
struct BadValue {
  std::string yaml;  // the profile's names block or requesters line
  std::string path;
  std::string value;
};

TEST_F(CaConfigTest, RefusesEveryValueItCannotHonourNamingTheKeyAndTheValue) {
  const std::vector<BadValue> cases = {
      {"requesters: [root]", "profiles.p.requesters", "root"},
      {"key_types: [rsa-1024]", "profiles.p.key_types", "rsa-1024"},
      {"key_types: [EC-P256]", "profiles.p.key_types", "EC-P256"},
      {"requesters: [Enroll]", "profiles.p.requesters", "Enroll"},
      {"requesters: [\"sha256:" + std::string(64, 'A') + "\"]", "profiles.p.requesters", std::string(64, 'A')},
      {"requesters: [\"sha256:abc\"]", "profiles.p.requesters", "sha256:abc"},
      {"requesters: [\"user:\"]", "profiles.p.requesters", "user:"},
      {"names: {dns: [\"*.example.test\"]}", "profiles.p.names.dns", "*.example.test"},
      {"names: {dns: [.example.test]}", "profiles.p.names.dns", ".example.test"},
      {"names: {dns: [example.test.]}", "profiles.p.names.dns", "example.test."},
      {"names: {dns: [\"exa mple.test\"]}", "profiles.p.names.dns", "exa mple.test"},
      {"allowed_dns_suffixes: [\"\"]", "profiles.p.allowed_dns_suffixes", "\"\""},
      {"names: {wildcards: maybe}", "profiles.p.names.wildcards", "maybe"},
      {"names: {ip: [10.0.0.0/33]}", "profiles.p.names.ip", "10.0.0.0/33"},
      {"names: {ip: [10.0.0.0/08]}", "profiles.p.names.ip", "10.0.0.0/08"},
      {"names: {ip: [10.1/16]}", "profiles.p.names.ip", "10.1/16"},
      {"names: {ip: [\"fd00::/129\"]}", "profiles.p.names.ip", "fd00::/129"},
      {"names: {email: [\"a@b@example.test\"]}", "profiles.p.names.email", "a@b@example.test"},
      {"names: {email: [\"@example.test\"]}", "profiles.p.names.email", "@example.test"},
      {"names: {email: [\"*.example.test\"]}", "profiles.p.names.email", "*.example.test"},
      {"names: {uri: [prod/ns]}", "profiles.p.names.uri", "prod/ns"},
      {"names: {uri: [\"spiffe://evil@prod/\"]}", "profiles.p.names.uri", "spiffe://evil@prod/"},
      {"names: {uri: [\"https://example.test:8443/\"]}", "profiles.p.names.uri", "https://example.test:8443/"},
      {"names: {uri: [\"https://example.test/a/../b\"]}", "profiles.p.names.uri", "https://example.test/a/../b"},
      {"names: {uri: [\"urn:example:a\"]}", "profiles.p.names.uri", "urn:example:a"},
      {"names: {common_name: free}", "profiles.p.names.common_name", "free"},
      {"names: {dnss: [example.test]}", "profiles.p.names.dnss", ""},
  };
  for (const BadValue& c : cases) {
    SCOPED_TRACE(c.yaml);
    const std::string error = error_of("  p: {extended_key_usage: [server_auth], " + c.yaml + "}\n");
    EXPECT_NE(error.find(c.path), std::string::npos) << error;
    EXPECT_NE(error.find(c.value), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace hsmca::signer
