#include "hsmca/signer/certificate.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>

#include "hsmca/signer/algorithm.hpp"
#include "hsmca/signer/signed_object.hpp"
#include "process.hpp"
#include "signing_key_doubles.hpp"
#include "softhsm_env.hpp"
#include "test_keys.hpp"

namespace hsmca::signer {
namespace {

using namespace std::chrono;
using test::MismatchedKey;
using token::KeyType;
using token::SignatureScheme;

RootCertificateSpec root_spec() {
  return {DistinguishedName{.country = "DE", .organization = "Example", .common_name = "Example Root"},
          sys_days{2025y / 1 / 1}, sys_days{2045y / 1 / 1}};
}

template <typename T>
T* extension(X509* cert, int nid, int& critical) {
  return static_cast<T*>(X509_get_ext_d2i(cert, nid, &critical, nullptr));
}

std::string openssl_output_field(const std::string& out, const std::string& prefix) {
  const auto start = out.find(prefix);
  if (start == std::string::npos) return {};
  const auto end = out.find('\n', start);
  return out.substr(start + prefix.size(), end - start - prefix.size());
}

std::string lowercase_without_colons(std::string s) {
  std::erase(s, ':');
  std::ranges::transform(s, s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Returns random bytes of a plausible length instead of a signature.
class GarbageKey : public SigningKey {
 public:
  explicit GarbageKey(const SigningKey& claimed) : claimed_(claimed) {}
  const Bytes& spki_der() const override { return claimed_.spki_der(); }
  SignatureScheme scheme() const override { return claimed_.scheme(); }
  Bytes sign(std::span<const unsigned char> message) const override {
    Bytes garbage = claimed_.sign(message);
    RAND_bytes(garbage.data(), static_cast<int>(garbage.size()));
    return garbage;
  }

 private:
  const SigningKey& claimed_;
};

TEST(RootCertificateTest, ParsesAndVerifiesUnderItsOwnKeyForEveryKeyType) {
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    const IssuedCertificate root = issue_self_signed_ca(c.key, root_spec());
    X509* x = root.x509();
    EXPECT_EQ(X509_get_version(x), X509_VERSION_3);
    EvpPkeyPtr pub = public_key_from_spki(c.key.spki_der());
    EXPECT_EQ(X509_verify(x, pub.get()), 1);
    EXPECT_EQ(X509_check_issued(x, x), X509_V_OK);
    EXPECT_EQ(root.der(), to_der(x));

    const X509_ALGOR* outer = nullptr;
    X509_get0_signature(nullptr, &outer, x);
    EXPECT_EQ(X509_ALGOR_cmp(outer, signature_algorithm(c.key.scheme()).get()), 0);
    EXPECT_EQ(X509_ALGOR_cmp(X509_get0_tbs_sigalg(x), outer), 0);
  }
}

TEST(RootCertificateTest, IsVerifiedByOpensslForEveryKeyType) {
  const test::TempDir dir;
  const std::string path = (dir / "root.pem").string();
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    test::write_file(path, issue_self_signed_ca(c.key, root_spec()).pem());
    // -check_ss_sig: also check the trust anchor's own signature, which
    // openssl verify otherwise takes on trust.
    const auto r = test::run_process(
        {"openssl", "verify", "-x509_strict", "-check_ss_sig", "-CAfile", path, path});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out, path + ": OK\n") << r.err;
  }
}

TEST(RootCertificateTest, IsVerifiedByGnutlsForEveryKeyType) {
  const test::TempDir dir;
  const std::string path = (dir / "root.pem").string();
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    test::write_file(path, issue_self_signed_ca(c.key, root_spec()).pem());
    const auto r = test::run_process(
        {"certtool", "--verify", "--load-ca-certificate", path, "--infile", path});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("Chain verification output: Verified."), std::string::npos) << r.out;
  }
}

TEST(RootCertificateTest, IsACaWithCriticalBasicConstraintsAndNoPathLength) {
  const IssuedCertificate root = issue_self_signed_ca(test::every_key()[0].key, root_spec());
  int critical = -1;
  BasicConstraintsPtr basic(extension<BASIC_CONSTRAINTS>(root.x509(), NID_basic_constraints, critical));
  ASSERT_TRUE(basic);
  EXPECT_EQ(critical, 1);
  EXPECT_NE(basic->ca, 0);
  EXPECT_EQ(basic->pathlen, nullptr);
  EXPECT_EQ(X509_check_ca(root.x509()), 1);
}

TEST(RootCertificateTest, MayOnlySignCertificatesAndCrlsAndSaysSoCritically) {
  const IssuedCertificate root = issue_self_signed_ca(test::every_key()[0].key, root_spec());
  int critical = -1;
  Asn1BitStringPtr usage(extension<ASN1_BIT_STRING>(root.x509(), NID_key_usage, critical));
  ASSERT_TRUE(usage);
  EXPECT_EQ(critical, 1);
  EXPECT_EQ(X509_get_key_usage(root.x509()), static_cast<std::uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_get_extended_key_usage(root.x509()), UINT32_MAX) << "no extendedKeyUsage";
  EXPECT_EQ(X509_get_ext_count(root.x509()), 4);  // basicConstraints, keyUsage, SKI, AKI
}

TEST(RootCertificateTest, IdentifiesItsKeyBySha1OfThePublicKeyInBothKeyIdentifiers) {
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    const IssuedCertificate root = issue_self_signed_ca(c.key, root_spec());
    const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(root.x509());
    const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(root.x509());
    ASSERT_NE(ski, nullptr);
    ASSERT_NE(aki, nullptr);
    EXPECT_EQ(ASN1_OCTET_STRING_cmp(ski, aki), 0);

    const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(root.x509());
    unsigned char sha1[20];
    unsigned int len = 0;
    ASSERT_EQ(EVP_Digest(key->data, static_cast<std::size_t>(key->length), sha1, &len, EVP_sha1(), nullptr), 1);
    EXPECT_EQ(to_hex(std::span(ASN1_STRING_get0_data(ski), static_cast<std::size_t>(ASN1_STRING_length(ski)))),
              to_hex(sha1));

    int critical = -1;
    AuthorityKeyIdPtr authority(extension<AUTHORITY_KEYID>(root.x509(), NID_authority_key_identifier, critical));
    ASSERT_TRUE(authority);
    EXPECT_EQ(critical, 0);
    EXPECT_EQ(authority->issuer, nullptr);
    EXPECT_EQ(authority->serial, nullptr);
  }
}

TEST(RootCertificateTest, HasAPositiveRandomSerialOfAtLeast64Bits) {
  const auto& key = test::every_key()[0].key;
  const IssuedCertificate first = issue_self_signed_ca(key, root_spec());
  const IssuedCertificate second = issue_self_signed_ca(key, root_spec());
  for (const IssuedCertificate* root : {&first, &second}) {
    const ASN1_INTEGER* serial = X509_get0_serialNumber(root->x509());
    BignumPtr n(ASN1_INTEGER_to_BN(serial, nullptr));
    ASSERT_TRUE(n);
    EXPECT_FALSE(BN_is_negative(n.get()));
    EXPECT_GE(BN_num_bits(n.get()), 64);
    EXPECT_LE(ASN1_STRING_length(serial), 20);
  }
  EXPECT_NE(first.serial_hex(), second.serial_hex());
}

TEST(RootCertificateTest, NamesItselfInConventionalOrderWithUtf8Strings) {
  RootCertificateSpec spec = root_spec();
  spec.subject = {.country = "DE",
                  .state = "Berlin",
                  .locality = "Berlin",
                  .organization = "Exämple GmbH",
                  .organizational_unit = "PKI",
                  .common_name = "Exämple Root CA 2025"};
  const IssuedCertificate root = issue_self_signed_ca(test::every_key()[0].key, spec);
  X509_NAME* name = X509_get_subject_name(root.x509());
  const int expected[] = {NID_countryName, NID_stateOrProvinceName, NID_localityName,
                          NID_organizationName, NID_organizationalUnitName, NID_commonName};
  ASSERT_EQ(X509_NAME_entry_count(name), 6);
  for (int i = 0; i < 6; ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    EXPECT_EQ(OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry)), expected[i]);
    EXPECT_EQ(ASN1_STRING_type(X509_NAME_ENTRY_get_data(entry)),
              i == 0 ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING);
  }
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(root.x509()), name), 0);
  EXPECT_EQ(root.subject(), "CN=Exämple Root CA 2025,OU=PKI,O=Exämple GmbH,L=Berlin,ST=Berlin,C=DE");
}

TEST(RootCertificateTest, LeavesOutAbsentNameAttributes) {
  RootCertificateSpec spec = root_spec();
  spec.subject = {.common_name = "Only A Name"};
  const IssuedCertificate root = issue_self_signed_ca(test::every_key()[0].key, spec);
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(root.x509())), 1);
  EXPECT_EQ(root.subject(), "CN=Only A Name");
}

TEST(RootCertificateTest, UsesUtcTimeThrough2049AndGeneralizedTimeFrom2050) {
  RootCertificateSpec spec = root_spec();
  spec.not_before = sys_days{2049y / 12 / 31} + 23h + 59min + 59s + 750ms;
  spec.not_after = sys_days{2050y / 1 / 1};
  const IssuedCertificate root = issue_self_signed_ca(test::every_key()[0].key, spec);
  EXPECT_EQ(ASN1_STRING_type(X509_get0_notBefore(root.x509())), V_ASN1_UTCTIME);
  EXPECT_EQ(ASN1_STRING_type(X509_get0_notAfter(root.x509())), V_ASN1_GENERALIZEDTIME);
  EXPECT_EQ(root.not_before(), "2049-12-31T23:59:59Z");  // fractions of a second dropped
  EXPECT_EQ(root.not_after(), "2050-01-01T00:00:00Z");
}

TEST(RootCertificateTest, ReportsSerialFingerprintSubjectAndPemAsOpensslSeesThem) {
  const test::TempDir dir;
  const IssuedCertificate root = issue_self_signed_ca(test::every_key()[0].key, root_spec());
  const std::string path = (dir / "root.pem").string();
  test::write_file(path, root.pem());
  const auto r = test::run_process({"openssl", "x509", "-in", path, "-noout", "-serial", "-fingerprint",
                                    "-sha256", "-subject", "-nameopt", "RFC2253"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lowercase_without_colons(openssl_output_field(r.out, "serial=")), root.serial_hex());
  EXPECT_EQ(lowercase_without_colons(openssl_output_field(r.out, "sha256 Fingerprint=")),
            root.sha256_fingerprint());
  EXPECT_EQ(openssl_output_field(r.out, "subject="), root.subject());
  EXPECT_EQ(root.serial_hex().size(), 32u);
  EXPECT_EQ(root.sha256_fingerprint(), sha256_hex(root.der()));

  const std::string pem = root.pem();
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr parsed(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(to_der(parsed.get()), root.der());
}

TEST(RootCertificateTest, CertifiesExactlyTheSigningKeysPublicKey) {
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    const IssuedCertificate root = issue_self_signed_ca(c.key, root_spec());
    unsigned char* der = nullptr;
    const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(root.x509()), &der);
    EXPECT_EQ(Bytes(der, der + len), c.key.spki_der());
    OPENSSL_free(der);
    EXPECT_TRUE(spki_matches(root.x509(), c.key.spki_der()));
    for (const auto& other : test::every_key()) {
      if (&other != &c) {
        EXPECT_FALSE(spki_matches(root.x509(), other.key.spki_der())) << other.name;
      }
    }
  }
}

TEST(RootCertificateTest, IsNotIssuedWhenTheKeyReturnsGarbage) {
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    EXPECT_THROW(issue_self_signed_ca(GarbageKey(c.key), root_spec()), VerificationError);
  }
}

TEST(RootCertificateTest, IsNotIssuedWhenTheKeySignsWithAnotherPrivateKey) {
  const struct {
    KeyType type;
    SignatureScheme scheme;
  } cases[] = {{KeyType::ec_p256, SignatureScheme::ecdsa_sha256},
               {KeyType::rsa_2048, SignatureScheme::rsa_pss_sha256},
               {KeyType::ed25519, SignatureScheme::ed25519}};
  for (const auto& c : cases) {
    SCOPED_TRACE(token::scheme_name(c.scheme));
    const auto other = SoftwareSigningKey::generate(c.type, c.scheme);
    EXPECT_THROW(issue_self_signed_ca(MismatchedKey(test::key_for(c.scheme), other), root_spec()),
                 VerificationError);
  }
}

TEST(RootCertificateTest, IsNotIssuedWhenTheKeySignsUnderAnotherScheme) {
  const SoftwareSigningKey& pss = test::key_for(SignatureScheme::rsa_pss_sha256);
  EVP_PKEY_up_ref(pss.pkey());
  const SoftwareSigningKey pkcs1(EvpPkeyPtr(pss.pkey()), SignatureScheme::rsa_pkcs1_sha256);
  EXPECT_THROW(issue_self_signed_ca(MismatchedKey(pss, pkcs1), root_spec()), VerificationError);
}

TEST(RootCertificateTest, IsNotIssuedWithAValidityThatEndsBeforeItBegins) {
  RootCertificateSpec spec = root_spec();
  std::swap(spec.not_before, spec.not_after);
  EXPECT_THROW(issue_self_signed_ca(test::every_key()[0].key, spec), std::invalid_argument);
}

}  // namespace
}  // namespace hsmca::signer
