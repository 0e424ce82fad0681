#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "hsmca/signer/leaf.hpp"
#include "hsmca/signer/signed_object.hpp"
#include "process.hpp"
#include "signing_key_doubles.hpp"
#include "softhsm_env.hpp"
#include "test_certificates.hpp"
#include "test_keys.hpp"

namespace hsmca::signer {
namespace {

using namespace std::chrono;
using test::make_root;
using test::MismatchedKey;
using test::octets;
using token::KeyType;
using token::SignatureScheme;

SubordinateSpec sub_spec(int path_length = 0) {
  return {DistinguishedName{.country = "DE", .organization = "Example", .common_name = "Example Issuing CA"},
          system_clock::now() - hours{1}, system_clock::now() + days{1825}, path_length};
}

IssuerContext context(const IssuedCertificate& cert, const SigningKey& key) { return {cert.x509(), &key, {}, {}, {}}; }

const SoftwareSigningKey& ec_key() { return test::key_for(SignatureScheme::ecdsa_sha256); }
const SoftwareSigningKey& sub_key() { return test::key_for(SignatureScheme::ecdsa_sha384); }

std::time_t time_of(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) throw OpenSslError("ASN1_TIME_to_tm");
  return timegm(&tm);
}

TEST(SubordinateTest, IsVerifiedByOpensslStrictUnderTheRootForEveryKeyType) {
  const test::TempDir dir;
  const std::string root_path = (dir / "root.pem").string();
  const std::string sub_path = (dir / "sub.pem").string();
  const auto& keys = test::every_key();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& subject_key = keys[(i + 1) % keys.size()].key;
    SCOPED_TRACE("root " + keys[i].name + ", subordinate " + keys[(i + 1) % keys.size()].name);
    const IssuedCertificate root = make_root(keys[i].key);
    const SubordinateCertificate sub =
        issue_subordinate_ca(context(root, keys[i].key), subject_key.spki_der(), sub_spec());
    test::write_file(root_path, root.pem());
    test::write_file(sub_path, sub.certificate.pem());
    const auto r = test::run_process({"openssl", "verify", "-x509_strict", "-CAfile", root_path, sub_path});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out, sub_path + ": OK\n") << r.err;
  }
}

TEST(SubordinateTest, IsVerifiedByGnutlsUnderTheRootForEveryKeyType) {
  const test::TempDir dir;
  const std::string path = (dir / "chain.pem").string();
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    const IssuedCertificate root = make_root(c.key);
    const SubordinateCertificate sub = issue_subordinate_ca(context(root, c.key), sub_key().spki_der(), sub_spec());
    test::write_file(path, sub.certificate.pem() + root.pem());
    const auto r = test::run_process({"certtool", "--verify-chain", "--verify-profile=medium", "--infile", path});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("Chain verification output: Verified."), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("Not verified"), std::string::npos) << r.out;
  }
}

TEST(SubordinateTest, IsACaWithCriticalPathLengthAndCertificateSigningUsage) {
  const IssuedCertificate root = make_root(ec_key());
  for (int path_length : {0, 2}) {
    SCOPED_TRACE(path_length);
    const SubordinateCertificate sub =
        issue_subordinate_ca(context(root, ec_key()), sub_key().spki_der(), sub_spec(path_length));
    X509* x = sub.certificate.x509();
    int critical = -1;
    BasicConstraintsPtr basic(
        static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(x, NID_basic_constraints, &critical, nullptr)));
    ASSERT_TRUE(basic);
    EXPECT_EQ(critical, 1);
    EXPECT_NE(basic->ca, 0);
    ASSERT_NE(basic->pathlen, nullptr);
    EXPECT_EQ(ASN1_INTEGER_get(basic->pathlen), path_length);
    EXPECT_EQ(X509_check_ca(x), 1);
    EXPECT_EQ(X509_get_pathlen(x), path_length);

    Asn1BitStringPtr usage(static_cast<ASN1_BIT_STRING*>(X509_get_ext_d2i(x, NID_key_usage, &critical, nullptr)));
    ASSERT_TRUE(usage);
    EXPECT_EQ(critical, 1);
    EXPECT_EQ(X509_get_key_usage(x),
              static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    EXPECT_EQ(X509_get_extended_key_usage(x), UINT32_MAX) << "no extendedKeyUsage";
    EXPECT_EQ(X509_get_ext_count(x), 4);  // basicConstraints, keyUsage, SKI, AKI
    EXPECT_EQ(X509_get_version(x), X509_VERSION_3);
  }
}

TEST(SubordinateTest, IdentifiesItsOwnKeyAndItsIssuersKey) {
  const IssuedCertificate root = make_root(ec_key());
  const SubordinateCertificate sub = issue_subordinate_ca(context(root, ec_key()), sub_key().spki_der(), sub_spec());
  X509* x = sub.certificate.x509();
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(x);
  unsigned char sha1[20];
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(key->data, static_cast<std::size_t>(key->length), sha1, &len, EVP_sha1(), nullptr), 1);
  EXPECT_EQ(octets(X509_get0_subject_key_id(x)), to_hex(sha1));
  EXPECT_EQ(octets(X509_get0_authority_key_id(x)), octets(X509_get0_subject_key_id(root.x509())));
  EXPECT_NE(octets(X509_get0_authority_key_id(x)), octets(X509_get0_subject_key_id(x)));
  EXPECT_EQ(X509_check_issued(root.x509(), x), X509_V_OK);
}

TEST(SubordinateTest, CertifiesExactlyTheGivenKeyAndSubject) {
  const IssuedCertificate root = make_root(ec_key());
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    const SubordinateCertificate sub = issue_subordinate_ca(context(root, ec_key()), c.key.spki_der(), sub_spec());
    unsigned char* der = nullptr;
    const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(sub.certificate.x509()), &der);
    EXPECT_EQ(Bytes(der, der + len), c.key.spki_der());
    OPENSSL_free(der);
    EXPECT_EQ(sub.certificate.subject(), "CN=Example Issuing CA,O=Example,C=DE");
    EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(sub.certificate.x509()), X509_get_subject_name(root.x509())), 0);
  }
}

TEST(SubordinateTest, ClampsNotAfterToTheIssuersAndSaysSo) {
  const auto root_end = system_clock::now() + days{365};
  const IssuedCertificate root = make_root(ec_key(), root_end);
  const SubordinateCertificate sub = issue_subordinate_ca(context(root, ec_key()), sub_key().spki_der(), sub_spec());
  EXPECT_TRUE(sub.clamped);
  EXPECT_EQ(ASN1_TIME_compare(X509_get0_notAfter(sub.certificate.x509()), X509_get0_notAfter(root.x509())), 0);
}

TEST(SubordinateTest, KeepsAValidityWithinTheIssuersAndSaysSo) {
  const IssuedCertificate root = make_root(ec_key());
  SubordinateSpec spec = sub_spec();
  spec.not_before = sys_days{2026y / 1 / 1};
  spec.not_after = sys_days{2030y / 6 / 30} + 12h;
  const SubordinateCertificate sub = issue_subordinate_ca(context(root, ec_key()), sub_key().spki_der(), spec);
  EXPECT_FALSE(sub.clamped);
  EXPECT_EQ(sub.certificate.not_before(), "2026-01-01T00:00:00Z");
  EXPECT_EQ(sub.certificate.not_after(), "2030-06-30T12:00:00Z");
  EXPECT_EQ(time_of(X509_get0_notAfter(sub.certificate.x509())), system_clock::to_time_t(spec.not_after));
}

TEST(SubordinateTest, NamesTheIssuersCrlAndAiaUrlsWhenItHasThem) {
  const IssuedCertificate root = make_root(ec_key());
  IssuerContext issuer = context(root, ec_key());
  issuer.crl_url = "http://crl.example.test/root.crl";
  issuer.ocsp_url = "http://ocsp.example.test/root";
  issuer.issuer_url = "http://pki.example.test/root.crt";
  const SubordinateCertificate sub = issue_subordinate_ca(issuer, sub_key().spki_der(), sub_spec());

  const test::TempDir dir;
  const std::string path = (dir / "sub.pem").string();
  test::write_file(path, sub.certificate.pem());
  const auto r = test::run_process({"openssl", "x509", "-in", path, "-noout", "-text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("X509v3 CRL Distribution Points"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("URI:http://crl.example.test/root.crl"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Authority Information Access"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("OCSP - URI:http://ocsp.example.test/root"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CA Issuers - URI:http://pki.example.test/root.crt"), std::string::npos) << r.out;
}

TEST(SubordinateTest, IsRefusedWhenTheIssuersPathLengthForbidsIt) {
  const IssuedCertificate root = make_root(ec_key());
  const SubordinateCertificate one = issue_subordinate_ca(context(root, ec_key()), sub_key().spki_der(), sub_spec(1));
  const IssuerContext issuer = context(one.certificate, sub_key());
  // Under pathLenConstraint 1 one more CA fits, itself with path length 0.
  const SubordinateCertificate two = issue_subordinate_ca(issuer, ec_key().spki_der(), sub_spec(0));
  EXPECT_THROW(issue_subordinate_ca(issuer, ec_key().spki_der(), sub_spec(1)), std::invalid_argument);
  EXPECT_THROW(issue_subordinate_ca(context(two.certificate, ec_key()), sub_key().spki_der(), sub_spec(0)),
               std::invalid_argument);
}

TEST(SubordinateTest, IsRefusedWithANegativePathLength) {
  const IssuedCertificate root = make_root(ec_key());
  EXPECT_THROW(issue_subordinate_ca(context(root, ec_key()), sub_key().spki_der(), sub_spec(-1)),
               std::invalid_argument);
}

TEST(SubordinateTest, IsRefusedWithAValidityThatEndsBeforeItBegins) {
  const IssuedCertificate root = make_root(ec_key());
  SubordinateSpec spec = sub_spec();
  std::swap(spec.not_before, spec.not_after);
  EXPECT_THROW(issue_subordinate_ca(context(root, ec_key()), sub_key().spki_der(), spec), std::invalid_argument);
}

TEST(SubordinateTest, IsRefusedWhenTheIssuerExpiresBeforeItWouldBegin) {
  const IssuedCertificate root = make_root(ec_key(), system_clock::now() + days{30});
  SubordinateSpec spec = sub_spec();
  spec.not_before = system_clock::now() + days{60};
  EXPECT_THROW(issue_subordinate_ca(context(root, ec_key()), sub_key().spki_der(), spec), std::invalid_argument);
}

TEST(SubordinateTest, IsNotIssuedWhenTheKeySignsWithAnotherPrivateKey) {
  const IssuedCertificate root = make_root(ec_key());
  const auto other = SoftwareSigningKey::generate(KeyType::ec_p256, SignatureScheme::ecdsa_sha256);
  const MismatchedKey mismatched(ec_key(), other);
  EXPECT_THROW(issue_subordinate_ca(context(root, mismatched), sub_key().spki_der(), sub_spec()), VerificationError);
}

TEST(SubordinateTest, IsNotIssuedByAKeyThatIsNotTheIssuerCertificates) {
  const IssuedCertificate root = make_root(ec_key());
  const auto other = SoftwareSigningKey::generate(KeyType::ec_p256, SignatureScheme::ecdsa_sha256);
  EXPECT_THROW(issue_subordinate_ca(context(root, other), sub_key().spki_der(), sub_spec()), VerificationError);
}

}  // namespace
}  // namespace hsmca::signer
