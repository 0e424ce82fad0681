#include "hsmca/signer/leaf.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hsmca/signer/signed_object.hpp"
#include "process.hpp"
#include "signing_key_doubles.hpp"
#include "softhsm_env.hpp"
#include "test_certificates.hpp"
#include "test_keys.hpp"
#include "test_requests.hpp"

namespace hsmca::signer {
namespace {

using namespace std::chrono;
using test::make_root;
using test::make_request;
using test::MismatchedKey;
using test::octets;
using test::RequestSpec;
using token::KeyType;
using token::SignatureScheme;
using Kind = SubjectAltName::Kind;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES_free>>;
using ExtendedKeyUsagePtr = std::unique_ptr<EXTENDED_KEY_USAGE, Free<EXTENDED_KEY_USAGE_free>>;

constexpr std::int64_t kDay = 86400;

std::int64_t unix_time(system_clock::time_point t) { return floor<seconds>(t).time_since_epoch().count(); }

std::int64_t unix_time(const ASN1_TIME* t) {
  Asn1TimePtr epoch(ASN1_TIME_set(nullptr, 0));
  int days = 0;
  int secs = 0;
  if (ASN1_TIME_diff(&days, &secs, epoch.get(), t) != 1) throw OpenSslError("ASN1_TIME_diff");
  return std::int64_t{days} * kDay + secs;
}

IssuedCertificate make_subordinate(const IssuerContext& root, const SigningKey& key) {
  SubordinateSpec spec{DistinguishedName{.country = "DE", .organization = "Example",
                                         .common_name = "Example Issuing CA"},
                       system_clock::now() - hours{1}, system_clock::now() + days{1825}, 0};
  return issue_subordinate_ca(root, key.spki_der(), spec).certificate;
}

// What example.test's servers may be called: names under the given
// suffixes, addresses in the documentation ranges (RFC 5737, RFC 3849), its
// mailboxes and its own https URLs.
Profile server_profile(std::vector<std::string> suffixes = {"example.test"}) {
  return {.name = "server",
          .validity_days = 90,
          .extended_key_usage = {ExtendedKeyUsage::server_auth},
          .names = {.restricted = true,
                    .dns = std::move(suffixes),
                    .ip = {*IpRange::parse("192.0.2.0/24"), *IpRange::parse("2001:db8::/32")},
                    .email = {"example.test"},
                    .uri = {"https://example.test/"}}};
}

// A server profile without a name policy: any valid name of every kind.
Profile unrestricted_server_profile() {
  return {.name = "server", .validity_days = 90, .extended_key_usage = {ExtendedKeyUsage::server_auth}};
}

Profile client_profile(NamePolicy::CommonName common_name = NamePolicy::CommonName::name) {
  return {.name = "client",
          .validity_days = 30,
          .extended_key_usage = {ExtendedKeyUsage::client_auth},
          .names = {.common_name = common_name}};
}

const SoftwareSigningKey& ec_key() { return test::key_for(SignatureScheme::ecdsa_sha256); }
const SoftwareSigningKey& rsa_key() { return test::key_for(SignatureScheme::rsa_pkcs1_sha256); }

RequestSpec web_request() {
  return {{{NID_organizationName, "Example"}, {NID_commonName, "www.example.test"}},
          {{Kind::dns, "api.example.test"}, {Kind::ip, "192.0.2.7"}}};
}

// A root for the tests that need one issuer; made once, as RSA keys are slow.
struct Issuer {
  const SoftwareSigningKey& key;
  IssuedCertificate certificate;
  IssuerContext context() const { return {certificate.x509(), &key, {}, {}, {}}; }
};

const Issuer& p256_root() {
  static const Issuer issuer{ec_key(), make_root(ec_key())};
  return issuer;
}

LeafPlan planned(Outcome<LeafPlan> outcome) {
  if (!outcome.ok()) throw std::runtime_error(outcome.rejection().code + ": " + outcome.rejection().message);
  return std::move(outcome).value();
}

LeafPlan plan(const CertificateRequest& request, const Profile& profile = server_profile(),
              std::optional<int> days = std::nullopt, const IssuerContext& issuer = p256_root().context()) {
  return planned(plan_leaf(request, profile, issuer, days, system_clock::now()));
}

IssuedCertificate issue(const CertificateRequest& request, const Profile& profile = server_profile(),
                        const IssuerContext& issuer = p256_root().context()) {
  return sign_planned(plan(request, profile, std::nullopt, issuer), issuer);
}

std::vector<std::string> san_strings(X509* cert, int* critical = nullptr) {
  int crit = -1;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr)));
  if (critical != nullptr) *critical = crit;
  std::vector<std::string> out;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    const ASN1_STRING* s = name->d.ia5;
    const std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<std::size_t>(ASN1_STRING_length(s)));
    switch (name->type) {
      case GEN_DNS: out.push_back("DNS:" + text); break;
      case GEN_EMAIL: out.push_back("email:" + text); break;
      case GEN_URI: out.push_back("URI:" + text); break;
      case GEN_IPADD: {
        std::array<char, INET6_ADDRSTRLEN> ip{};
        inet_ntop(ASN1_STRING_length(s) == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), ip.data(), ip.size());
        out.push_back(std::string("IP:") + ip.data());
        break;
      }
      default: out.push_back("other"); break;
    }
  }
  return out;
}

std::vector<int> extension_nids(X509* cert) {
  std::vector<int> nids;
  for (int i = 0; i < X509_get_ext_count(cert); ++i) {
    nids.push_back(OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(cert, i))));
  }
  return nids;
}

std::vector<int> eku_nids(X509* cert) {
  ExtendedKeyUsagePtr eku(
      static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  std::vector<int> nids;
  for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    nids.push_back(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), i)));
  }
  return nids;
}

Bytes tbs_of(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_re_X509_tbs(cert, &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

struct Chain {
  std::string name;
  IssuedCertificate root;
  IssuedCertificate sub;
  IssuedCertificate leaf;
};

// A root, a subordinate and a leaf for every key type as the root's key; the
// subordinate and the leaf key take the next key types along, so each type
// signs as root and as issuing CA and is certified as a leaf.
std::vector<Chain> chains_for_every_key_type() {
  const auto& keys = test::every_key();
  std::vector<Chain> chains;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& root_key = keys[i].key;
    const auto& sub_key = keys[(i + 1) % keys.size()].key;
    const auto& leaf_key = keys[(i + 2) % keys.size()].key;
    IssuedCertificate root = make_root(root_key);
    IssuedCertificate sub = make_subordinate({root.x509(), &root_key, {}, {}, {}}, sub_key);
    const IssuerContext issuer{sub.x509(), &sub_key, "http://crl.example.test/issuing.crl",
                               "http://ocsp.example.test", "http://pki.example.test/issuing.crt"};
    IssuedCertificate leaf = issue(make_request(leaf_key.pkey(), web_request()), server_profile(), issuer);
    chains.push_back({"root " + keys[i].name + ", issuing CA " + keys[(i + 1) % keys.size()].name + ", leaf " +
                          keys[(i + 2) % keys.size()].name,
                      std::move(root), std::move(sub), std::move(leaf)});
  }
  return chains;
}

TEST(LeafTest, ChainFromRootThroughSubordinateIsVerifiedByOpensslForEveryIssuerKeyType) {
  const test::TempDir dir;
  const std::string root = (dir / "root.pem").string();
  const std::string sub = (dir / "sub.pem").string();
  const std::string leaf = (dir / "leaf.pem").string();
  for (const Chain& chain : chains_for_every_key_type()) {
    SCOPED_TRACE(chain.name);
    test::write_file(root, chain.root.pem());
    test::write_file(sub, chain.sub.pem());
    test::write_file(leaf, chain.leaf.pem());
    const auto r = test::run_process({"openssl", "verify", "-x509_strict", "-purpose", "sslserver",
                                      "-verify_hostname", "www.example.test", "-CAfile", root, "-untrusted", sub,
                                      leaf});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out, leaf + ": OK\n") << r.err;
  }
}

TEST(LeafTest, ChainFromRootThroughSubordinateIsVerifiedByGnutlsForEveryIssuerKeyType) {
  const test::TempDir dir;
  const std::string path = (dir / "chain.pem").string();
  for (const Chain& chain : chains_for_every_key_type()) {
    SCOPED_TRACE(chain.name);
    test::write_file(path, chain.leaf.pem() + chain.sub.pem() + chain.root.pem());
    const auto r = test::run_process({"certtool", "--verify-chain", "--verify-profile=medium", "--infile", path});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("Chain verification output: Verified."), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("Not verified"), std::string::npos) << r.out;
  }
}

TEST(LeafTest, HasExactlyTheExtensionsTheCaDecides) {
  const IssuedCertificate leaf = issue(make_request(ec_key().pkey(), web_request()));
  X509* x = leaf.x509();
  EXPECT_EQ(X509_get_version(x), X509_VERSION_3);
  EXPECT_EQ(extension_nids(x),
            (std::vector<int>{NID_basic_constraints, NID_key_usage, NID_ext_key_usage, NID_subject_key_identifier,
                              NID_authority_key_identifier, NID_subject_alt_name}));

  int critical = -1;
  BasicConstraintsPtr basic(
      static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(x, NID_basic_constraints, &critical, nullptr)));
  ASSERT_TRUE(basic);
  EXPECT_EQ(critical, 1);
  EXPECT_EQ(basic->ca, 0);
  EXPECT_EQ(basic->pathlen, nullptr);
  EXPECT_EQ(X509_check_ca(x), 0);

  Asn1BitStringPtr usage(static_cast<ASN1_BIT_STRING*>(X509_get_ext_d2i(x, NID_key_usage, &critical, nullptr)));
  ASSERT_TRUE(usage);
  EXPECT_EQ(critical, 1);
  EXPECT_EQ(X509_get_key_usage(x), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE)) << "no keyEncipherment for EC";

  EXPECT_EQ(eku_nids(x), std::vector<int>{NID_server_auth});
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(x, X509_get_ext_by_NID(x, NID_ext_key_usage, -1))), 0);

  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(x);
  unsigned char sha1[20];
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(key->data, static_cast<std::size_t>(key->length), sha1, &len, EVP_sha1(), nullptr), 1);
  EXPECT_EQ(octets(X509_get0_subject_key_id(x)), to_hex(sha1));
  EXPECT_EQ(octets(X509_get0_authority_key_id(x)), octets(X509_get0_subject_key_id(p256_root().certificate.x509())));
  AuthorityKeyIdPtr authority(
      static_cast<AUTHORITY_KEYID*>(X509_get_ext_d2i(x, NID_authority_key_identifier, &critical, nullptr)));
  ASSERT_TRUE(authority);
  EXPECT_EQ(critical, 0);
  EXPECT_EQ(authority->issuer, nullptr);
  EXPECT_EQ(authority->serial, nullptr);

  EXPECT_EQ(san_strings(x, &critical),
            (std::vector<std::string>{"DNS:api.example.test", "IP:192.0.2.7", "DNS:www.example.test"}));
  EXPECT_EQ(critical, 0);

  EXPECT_EQ(leaf.subject(), "CN=www.example.test,O=Example");
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(p256_root().certificate.x509())), 0);
  EXPECT_TRUE(spki_matches(x, ec_key().spki_der()));
  EXPECT_EQ(X509_check_issued(p256_root().certificate.x509(), x), X509_V_OK);
}

TEST(LeafTest, GivesRsaKeysKeyEnciphermentOnlyInServerProfiles) {
  const CertificateRequest request = make_request(rsa_key().pkey(), web_request());
  EXPECT_EQ(X509_get_key_usage(issue(request).x509()),
            static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(X509_get_key_usage(issue(request, client_profile()).x509()),
            static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
  const CertificateRequest ed25519 = make_request(test::key_for(SignatureScheme::ed25519).pkey(), web_request());
  EXPECT_EQ(X509_get_key_usage(issue(ed25519).x509()), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
}

TEST(LeafTest, CarriesEveryExtendedKeyUsageTheProfileNames) {
  const Profile profile{.name = "everything",
                        .validity_days = 30,
                        .extended_key_usage = {ExtendedKeyUsage::server_auth, ExtendedKeyUsage::client_auth,
                                               ExtendedKeyUsage::code_signing, ExtendedKeyUsage::email_protection,
                                               ExtendedKeyUsage::time_stamping, ExtendedKeyUsage::ocsp_signing}};
  const IssuedCertificate leaf = issue(make_request(ec_key().pkey(), web_request()), profile);
  EXPECT_EQ(eku_nids(leaf.x509()), (std::vector<int>{NID_server_auth, NID_client_auth, NID_code_sign,
                                                     NID_email_protect, NID_time_stamp, NID_OCSP_sign}));
}

TEST(LeafTest, AddsTheCommonNameAsADnsNameOrIpAddressOnlyWhenItIsOneAndMissing) {
  {
    SCOPED_TRACE("CN is a DNS name and missing from the SANs");
    const LeafPlan p = plan(make_request(ec_key().pkey(), {{{NID_commonName, "www.example.test"}}, {}}));
    EXPECT_EQ(p.sans, std::vector<std::string>{"DNS:www.example.test"});
  }
  {
    SCOPED_TRACE("CN already requested, in another case");
    const LeafPlan p = plan(make_request(
        ec_key().pkey(), {{{NID_commonName, "WWW.Example.TEST"}}, {{Kind::dns, "www.example.test"}}}));
    EXPECT_EQ(p.sans, std::vector<std::string>{"DNS:www.example.test"});
    EXPECT_EQ(p.subject, "CN=WWW.Example.TEST") << "the subject itself is the requester's";
  }
  {
    SCOPED_TRACE("CN is a person's name, in a profile that reads the CN as free text");
    const LeafPlan p = plan(make_request(ec_key().pkey(), {{{NID_commonName, "Alice Example"}},
                                                           {{Kind::email, "alice@example.test"}}}),
                            client_profile(NamePolicy::CommonName::text));
    EXPECT_EQ(p.sans, std::vector<std::string>{"email:alice@example.test"});
  }
  {
    SCOPED_TRACE("CN is a person's name, in a profile that reads the CN as a name");
    const auto outcome = plan_leaf(make_request(ec_key().pkey(), {{{NID_commonName, "Alice Example"}},
                                                                  {{Kind::email, "alice@example.test"}}}),
                                   client_profile(), p256_root().context(), std::nullopt, system_clock::now());
    ASSERT_FALSE(outcome.ok());
    EXPECT_EQ(outcome.rejection().code, "name_policy");
  }
  {
    SCOPED_TRACE("CN is an IP address");
    const LeafPlan p = plan(make_request(ec_key().pkey(), {{{NID_commonName, "192.0.2.1"}}, {}}), client_profile());
    EXPECT_EQ(p.sans, std::vector<std::string>{"IP:192.0.2.1"});
  }
  {
    SCOPED_TRACE("CN is an IP address, in a profile that reads the CN as free text");
    const LeafPlan p = plan(make_request(ec_key().pkey(), {{{NID_commonName, "192.0.2.1"}}, {}}),
                            client_profile(NamePolicy::CommonName::text));
    EXPECT_TRUE(p.sans.empty());
  }
}

TEST(LeafTest, GrantsEveryKindOfRequestedNameOnceInCanonicalForm) {
  Profile profile = server_profile();
  profile.names.common_name = NamePolicy::CommonName::text;
  const IssuedCertificate leaf = issue(
      make_request(ec_key().pkey(), {{{NID_commonName, "Example Service"}},
                                     {{Kind::dns, "A.Example.Test"},
                                      {Kind::dns, "a.example.test"},
                                      {Kind::ip, "2001:DB8:0:0::1"},
                                      {Kind::ip, "192.0.2.7"},
                                      {Kind::email, "ops@example.test"},
                                      {Kind::uri, "https://example.test/service"}}}),
      profile);
  EXPECT_EQ(san_strings(leaf.x509()),
            (std::vector<std::string>{"DNS:a.example.test", "IP:2001:db8::1", "IP:192.0.2.7", "email:ops@example.test",
                                      "URI:https://example.test/service"}));
}

TEST(LeafTest, RejectsTheWholeRequestWhenOneDnsNameIsOutsideTheAllowedSuffixes) {
  const auto outcome = plan_leaf(
      make_request(ec_key().pkey(), {{{NID_commonName, "www.example.test"}},
                                     {{Kind::dns, "api.example.test"}, {Kind::dns, "www.other.test"}}}),
      server_profile(), p256_root().context(), std::nullopt, system_clock::now());
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.rejection().code, "name_policy");
  EXPECT_NE(outcome.rejection().message.find("www.other.test"), std::string::npos) << outcome.rejection().message;
}

TEST(LeafTest, RejectsACommonNameOutsideTheAllowedSuffixes) {
  const auto outcome = plan_leaf(make_request(ec_key().pkey(), {{{NID_commonName, "www.other.test"}}, {}}),
                                 server_profile(), p256_root().context(), std::nullopt, system_clock::now());
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.rejection().code, "name_policy");
}

TEST(LeafTest, AllowsASuffixOnlyOnALabelBoundary) {
  Profile with_wildcards = server_profile();
  with_wildcards.names.wildcards = true;
  for (const char* name : {"example.test", "a.example.test", "b.a.example.test", "*.example.test"}) {
    SCOPED_TRACE(name);
    const auto outcome = plan_leaf(make_request(ec_key().pkey(), {{}, {{Kind::dns, name}}}), with_wildcards,
                                   p256_root().context(), std::nullopt, system_clock::now());
    EXPECT_TRUE(outcome.ok()) << outcome.rejection().message;
  }
  for (const char* name : {"badexample.test", "example.test.evil", "test", "xexample.test", "*.test"}) {
    SCOPED_TRACE(name);
    const auto outcome = plan_leaf(make_request(ec_key().pkey(), {{}, {{Kind::dns, name}}}), with_wildcards,
                                   p256_root().context(), std::nullopt, system_clock::now());
    ASSERT_FALSE(outcome.ok());
    EXPECT_EQ(outcome.rejection().code, "name_policy");
  }
}

TEST(LeafTest, MatchesSuffixesCaseInsensitivelyAndIssuesLowercaseNames) {
  const LeafPlan p = plan(make_request(ec_key().pkey(), {{}, {{Kind::dns, "WWW.Example.Test"}}}),
                          server_profile({".EXAMPLE.test"}));
  EXPECT_EQ(p.sans, std::vector<std::string>{"DNS:www.example.test"});
  EXPECT_EQ(san_strings(sign_planned(p, p256_root().context()).x509()), p.sans);
}

TEST(LeafTest, AllowsAnyDnsNameWhenTheProfileRestrictsNoNames) {
  const LeafPlan p = plan(make_request(ec_key().pkey(), {{}, {{Kind::dns, "anything.else.test"}}}),
                          unrestricted_server_profile());
  EXPECT_EQ(p.sans, std::vector<std::string>{"DNS:anything.else.test"});
}

TEST(LeafTest, RejectsARequestedDnsNameThatIsNotOne) {
  for (const char* name : {"exa mple.example.test", "-a.example.test", "a..example.test", "a.example.test."}) {
    SCOPED_TRACE(name);
    const auto outcome = plan_leaf(make_request(ec_key().pkey(), {{{NID_commonName, "x"}}, {{Kind::dns, name}}}),
                                   unrestricted_server_profile(), p256_root().context(), std::nullopt,
                                   system_clock::now());
    ASSERT_FALSE(outcome.ok());
    EXPECT_EQ(outcome.rejection().code, "name_policy");
  }
}

TEST(LeafTest, IssuesCaFalseWhenTheRequestAsksForCaTrue) {
  RequestSpec spec = web_request();
  spec.ask_ca = true;
  const CertificateRequest request = make_request(ec_key().pkey(), spec);
  const IssuedCertificate leaf = issue(request);
  BasicConstraintsPtr basic(
      static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(leaf.x509(), NID_basic_constraints, nullptr, nullptr)));
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->ca, 0);
  EXPECT_EQ(X509_check_ca(leaf.x509()), 0);
  EXPECT_EQ(X509_get_key_usage(leaf.x509()) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN), 0u) << "requested keyUsage ignored";
}

TEST(LeafTest, StartsAMinuteBeforeNowAndLastsTheProfilesValidity) {
  const auto now = system_clock::now();
  const LeafPlan p = planned(plan_leaf(make_request(ec_key().pkey(), web_request()), server_profile(),
                                       p256_root().context(), std::nullopt, now));
  EXPECT_EQ(p.not_before, unix_time(now) - 60);
  EXPECT_EQ(p.not_after, unix_time(now) + 90 * kDay);
  const IssuedCertificate leaf = sign_planned(p, p256_root().context());
  EXPECT_EQ(unix_time(X509_get0_notBefore(leaf.x509())), p.not_before);
  EXPECT_EQ(unix_time(X509_get0_notAfter(leaf.x509())), p.not_after);
}

TEST(LeafTest, HonoursFewerDaysThanTheProfileAllows) {
  const auto now = system_clock::now();
  const LeafPlan p = planned(
      plan_leaf(make_request(ec_key().pkey(), web_request()), server_profile(), p256_root().context(), 7, now));
  EXPECT_EQ(p.not_after, unix_time(now) + 7 * kDay);
}

TEST(LeafTest, CapsRequestedDaysAtTheProfilesValidity) {
  const auto now = system_clock::now();
  const LeafPlan p = planned(
      plan_leaf(make_request(ec_key().pkey(), web_request()), server_profile(), p256_root().context(), 3650, now));
  EXPECT_EQ(p.not_after, unix_time(now) + 90 * kDay);
}

TEST(LeafTest, EndsNoLaterThanItsIssuer) {
  const auto now = system_clock::now();
  const IssuedCertificate short_root = make_root(ec_key(), now + days{10});
  const IssuerContext issuer{short_root.x509(), &ec_key(), {}, {}, {}};
  const LeafPlan p =
      planned(plan_leaf(make_request(ec_key().pkey(), web_request()), server_profile(), issuer, std::nullopt, now));
  EXPECT_EQ(p.not_after, unix_time(now + days{10}));
  const IssuedCertificate leaf = sign_planned(p, issuer);
  EXPECT_EQ(ASN1_TIME_compare(X509_get0_notAfter(leaf.x509()), X509_get0_notAfter(short_root.x509())), 0);
}

TEST(LeafTest, RejectsFewerThanOneDay) {
  for (int days : {0, -1}) {
    const auto outcome = plan_leaf(make_request(ec_key().pkey(), web_request()), server_profile(),
                                   p256_root().context(), days, system_clock::now());
    ASSERT_FALSE(outcome.ok());
    EXPECT_EQ(outcome.rejection().code, "invalid_validity");
  }
}

TEST(LeafTest, RejectsARequestWithNeitherCommonNameNorSubjectAltName) {
  const auto outcome = plan_leaf(make_request(ec_key().pkey(), {{{NID_organizationName, "Example"}}, {}}),
                                 client_profile(), p256_root().context(), std::nullopt, system_clock::now());
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.rejection().code, "no_identity");
}

TEST(LeafTest, RejectsAServerCertificateWithoutAnyNameAClientCanCheck) {
  // With the CN read as free text nothing becomes a SAN; the lint catches it.
  Profile profile = server_profile();
  profile.names.common_name = NamePolicy::CommonName::text;
  const auto outcome = plan_leaf(make_request(ec_key().pkey(), {{{NID_commonName, "Example Web Server"}}, {}}),
                                 profile, p256_root().context(), std::nullopt, system_clock::now());
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.rejection().code, "lint");
  EXPECT_NE(outcome.rejection().message.find("subjectAltName"), std::string::npos) << outcome.rejection().message;
}

TEST(LeafTest, MakesTheSubjectAltNameCriticalWhenTheSubjectIsEmpty) {
  const IssuedCertificate leaf = issue(make_request(ec_key().pkey(), {{}, {{Kind::dns, "www.example.test"}}}));
  int critical = -1;
  EXPECT_EQ(san_strings(leaf.x509(), &critical), std::vector<std::string>{"DNS:www.example.test"});
  EXPECT_EQ(critical, 1);
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(leaf.x509())), 0);
}

TEST(LeafTest, NamesTheIssuersCrlAndAiaUrlsWhenItHasThem) {
  IssuerContext issuer = p256_root().context();
  issuer.crl_url = "http://crl.example.test/root.crl";
  issuer.ocsp_url = "http://ocsp.example.test";
  issuer.issuer_url = "http://pki.example.test/root.crt";
  const IssuedCertificate leaf = issue(make_request(ec_key().pkey(), web_request()), server_profile(), issuer);

  const test::TempDir dir;
  const std::string path = (dir / "leaf.pem").string();
  test::write_file(path, leaf.pem());
  const auto r = test::run_process({"openssl", "x509", "-in", path, "-noout", "-text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("X509v3 CRL Distribution Points"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("URI:http://crl.example.test/root.crl"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Authority Information Access"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("OCSP - URI:http://ocsp.example.test"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CA Issuers - URI:http://pki.example.test/root.crt"), std::string::npos) << r.out;
  EXPECT_EQ(X509_get_ext_count(leaf.x509()), 8);
}

TEST(LeafTest, LeavesOutCrlAndAiaWhenTheIssuerHasNoUrls) {
  const IssuedCertificate leaf = issue(make_request(ec_key().pkey(), web_request()));
  EXPECT_LT(X509_get_ext_by_NID(leaf.x509(), NID_crl_distribution_points, -1), 0);
  EXPECT_LT(X509_get_ext_by_NID(leaf.x509(), NID_info_access, -1), 0);
}

TEST(LeafTest, SignsExactlyThePlannedCertificate) {
  const LeafPlan p = plan(make_request(ec_key().pkey(), web_request()));
  const Bytes planned_tbs = tbs_of(p.tbs.get());
  EXPECT_EQ(sha256_hex(planned_tbs), p.tbs_sha256);
  const IssuedCertificate leaf = sign_planned(p, p256_root().context());
  EXPECT_EQ(tbs_of(leaf.x509()), planned_tbs);
  EXPECT_EQ(leaf.serial_hex(), p.serial_hex);
  EXPECT_EQ(leaf.subject(), p.subject);
  EXPECT_EQ(san_strings(leaf.x509()), p.sans);
  EXPECT_EQ(leaf.der(), to_der(leaf.x509()));
  EvpPkeyPtr issuer_key = public_key_from_spki(ec_key().spki_der());
  EXPECT_EQ(X509_verify(leaf.x509(), issuer_key.get()), 1);
}

TEST(LeafTest, PlansSignatureAlgorithmsFromTheIssuerKeysScheme) {
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    const IssuedCertificate root = make_root(c.key);
    const IssuerContext issuer{root.x509(), &c.key, {}, {}, {}};
    const LeafPlan p = plan(make_request(ec_key().pkey(), web_request()), server_profile(), std::nullopt, issuer);
    EXPECT_EQ(X509_ALGOR_cmp(X509_get0_tbs_sigalg(p.tbs.get()), X509_get0_tbs_sigalg(root.x509())), 0);
    const IssuedCertificate leaf = sign_planned(p, issuer);
    EvpPkeyPtr issuer_key = public_key_from_spki(c.key.spki_der());
    EXPECT_EQ(X509_verify(leaf.x509(), issuer_key.get()), 1);
  }
}

TEST(LeafTest, GivesEveryPlanItsOwnSerial) {
  const CertificateRequest request = make_request(ec_key().pkey(), web_request());
  std::set<std::string> serials;
  for (int i = 0; i < 1000; ++i) {
    const LeafPlan p = plan(request);
    ASSERT_EQ(p.serial_hex.size(), 32u);
    ASSERT_TRUE(serials.insert(p.serial_hex).second) << "repeated serial " << p.serial_hex;
  }
}

TEST(LeafTest, IsNotSignedWhenTheKeySignsWithAnotherPrivateKey) {
  const LeafPlan p = plan(make_request(ec_key().pkey(), web_request()));
  const auto other = SoftwareSigningKey::generate(KeyType::ec_p256, SignatureScheme::ecdsa_sha256);
  const MismatchedKey mismatched(ec_key(), other);
  IssuerContext issuer = p256_root().context();
  issuer.key = &mismatched;
  EXPECT_THROW(sign_planned(p, issuer), VerificationError);
}

TEST(LeafTest, IsNotSignedByAKeyThatIsNotTheIssuerCertificates) {
  // The key's own signature verifies under its own SPKI; only the issuer
  // certificate's public key shows the certificate would not chain.
  const auto other = SoftwareSigningKey::generate(KeyType::ec_p256, SignatureScheme::ecdsa_sha256);
  IssuerContext issuer = p256_root().context();
  issuer.key = &other;
  const LeafPlan p = plan(make_request(ec_key().pkey(), web_request()), server_profile(), std::nullopt, issuer);
  EXPECT_THROW(sign_planned(p, issuer), VerificationError);
}

TEST(LeafTest, IsNotSignedWhenThePlanChangedAfterItWasChecked) {
  LeafPlan p = plan(make_request(ec_key().pkey(), web_request()));
  ASSERT_EQ(ASN1_INTEGER_set(X509_get_serialNumber(p.tbs.get()), 0x7fffffff), 1);
  EXPECT_THROW(sign_planned(p, p256_root().context()), VerificationError);
}

// Replaces the extension `nid` of `cert` (keeping its place) with one made from OpenSSL's config syntax.
void replace_extension(X509* cert, int nid, const char* conf) {
  const int index = X509_get_ext_by_NID(cert, nid, -1);
  ASSERT_GE(index, 0);
  X509ExtensionPtr old(X509_delete_ext(cert, index));
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, nullptr, nid, conf));
  ASSERT_TRUE(ext);
  ASSERT_EQ(X509_add_ext(cert, ext.get(), index), 1);
}

void expect_lint(X509* tbs, const std::string& words) {
  const auto rejection = check_before_signing(tbs, p256_root().context());
  ASSERT_TRUE(rejection.has_value()) << "expected: " << words;
  EXPECT_EQ(rejection->code, "lint");
  EXPECT_NE(rejection->message.find(words), std::string::npos) << rejection->message;
}

TEST(CheckBeforeSigningTest, PassesEveryPlannedCertificate) {
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    const LeafPlan p = plan(make_request(c.key.pkey(), web_request()));
    EXPECT_FALSE(check_before_signing(p.tbs.get(), p256_root().context()).has_value());
  }
}

TEST(CheckBeforeSigningTest, CatchesCaTrue) {
  LeafPlan p = plan(make_request(ec_key().pkey(), web_request()));
  replace_extension(p.tbs.get(), NID_basic_constraints, "critical,CA:TRUE");
  expect_lint(p.tbs.get(), "CA:FALSE");
}

TEST(CheckBeforeSigningTest, CatchesAWrongIssuerName) {
  LeafPlan p = plan(make_request(ec_key().pkey(), web_request()));
  X509NamePtr other = to_x509_name({.common_name = "Some Other CA"});
  ASSERT_EQ(X509_set_issuer_name(p.tbs.get(), other.get()), 1);
  expect_lint(p.tbs.get(), "issuer name");
}

TEST(CheckBeforeSigningTest, CatchesANotAfterBeyondTheIssuers) {
  LeafPlan p = plan(make_request(ec_key().pkey(), web_request()));
  Asn1TimePtr later(ASN1_TIME_adj(nullptr, 0, 1, 0));
  ASSERT_EQ(ASN1_TIME_set_string_X509(later.get(), "20991231235959Z"), 1);
  ASSERT_EQ(X509_set1_notAfter(p.tbs.get(), later.get()), 1);
  expect_lint(p.tbs.get(), "notAfter");
}

TEST(CheckBeforeSigningTest, CatchesAValidityThatEndsBeforeItBegins) {
  LeafPlan p = plan(make_request(ec_key().pkey(), web_request()));
  ASSERT_EQ(X509_set1_notAfter(p.tbs.get(), X509_get0_notBefore(p.tbs.get())), 1);
  expect_lint(p.tbs.get(), "notBefore");
}

TEST(CheckBeforeSigningTest, CatchesKeyEnciphermentForAnEcKey) {
  LeafPlan p = plan(make_request(ec_key().pkey(), web_request()));
  replace_extension(p.tbs.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  expect_lint(p.tbs.get(), "keyEncipherment");
}

TEST(CheckBeforeSigningTest, CatchesKeyCertSignInALeaf) {
  LeafPlan p = plan(make_request(ec_key().pkey(), web_request()));
  replace_extension(p.tbs.get(), NID_key_usage, "critical,digitalSignature,keyCertSign");
  expect_lint(p.tbs.get(), "keyCertSign");
}

TEST(CheckBeforeSigningTest, CatchesAServerCertificateWithoutSubjectAltName) {
  LeafPlan p = plan(make_request(ec_key().pkey(), web_request()));
  X509ExtensionPtr san(X509_delete_ext(p.tbs.get(), X509_get_ext_by_NID(p.tbs.get(), NID_subject_alt_name, -1)));
  ASSERT_TRUE(san);
  expect_lint(p.tbs.get(), "subjectAltName");
}

TEST(CheckBeforeSigningTest, CatchesADuplicateExtension) {
  LeafPlan p = plan(make_request(ec_key().pkey(), web_request()));
  X509ExtensionPtr copy(X509_EXTENSION_dup(X509_get_ext(p.tbs.get(), 0)));
  ASSERT_EQ(X509_add_ext(p.tbs.get(), copy.get(), -1), 1);
  expect_lint(p.tbs.get(), "duplicate");
}

TEST(CheckBeforeSigningTest, CatchesASerialThatIsShortOrNotPositive) {
  for (long serial : {12345L, 0L, -5L}) {
    SCOPED_TRACE(serial);
    LeafPlan p = plan(make_request(ec_key().pkey(), web_request()));
    ASSERT_EQ(ASN1_INTEGER_set(X509_get_serialNumber(p.tbs.get()), serial), 1);
    expect_lint(p.tbs.get(), "serial");
  }
}

TEST(CheckBeforeSigningTest, CatchesAnAuthorityKeyIdentifierOfAnotherKey) {
  LeafPlan p = plan(make_request(ec_key().pkey(), web_request()));
  AuthorityKeyIdPtr authority(AUTHORITY_KEYID_new());
  authority->keyid = ASN1_OCTET_STRING_new();
  const unsigned char other_key_id[20] = {0x01, 0x23, 0x45, 0x67, 0x89};
  ASSERT_EQ(ASN1_OCTET_STRING_set(authority->keyid, other_key_id, sizeof other_key_id), 1);
  ASSERT_EQ(X509_add1_ext_i2d(p.tbs.get(), NID_authority_key_identifier, authority.get(), 0, X509V3_ADD_REPLACE), 1);
  expect_lint(p.tbs.get(), "authorityKeyIdentifier");
}

TEST(CheckBeforeSigningTest, CatchesASignatureAlgorithmOtherThanTheIssuerKeys) {
  const IssuedCertificate rsa_root = make_root(rsa_key());
  const IssuerContext rsa_issuer{rsa_root.x509(), &rsa_key(), {}, {}, {}};
  const LeafPlan p = plan(make_request(ec_key().pkey(), web_request()), server_profile(), std::nullopt, rsa_issuer);
  IssuerContext pss_issuer = rsa_issuer;
  pss_issuer.key = &test::key_for(SignatureScheme::rsa_pss_sha256);
  const auto rejection = check_before_signing(p.tbs.get(), pss_issuer);
  ASSERT_TRUE(rejection.has_value());
  EXPECT_EQ(rejection->code, "lint");
  EXPECT_NE(rejection->message.find("signature algorithm"), std::string::npos) << rejection->message;
}

}  // namespace
}  // namespace hsmca::signer
