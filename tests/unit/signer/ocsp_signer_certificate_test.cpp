// issue_ocsp_responder: the delegated OCSP responder's certificate (RFC 6960
// 4.2.2.2), checked field by field, by openssl, and by the OcspResponder that
// signs with it.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "hsmca/signer/leaf.hpp"
#include "hsmca/signer/ocsp.hpp"
#include "hsmca/signer/request.hpp"
#include "process.hpp"
#include "signing_key_doubles.hpp"
#include "softhsm_env.hpp"
#include "test_certificates.hpp"
#include "test_keys.hpp"

namespace hsmca::signer {
namespace {

using namespace std::chrono;
using test::make_root;
using test::octets;
using token::KeyType;
using token::SignatureScheme;

OcspResponderSpec responder_spec(seconds validity = days{30}) {
  const auto now = floor<seconds>(system_clock::now());
  return {DistinguishedName{.country = "DE", .organization = "Example", .common_name = "Example OCSP Responder"}, now,
          now + validity};
}

const SoftwareSigningKey& root_key() { return test::key_for(SignatureScheme::ecdsa_sha384); }
const SoftwareSigningKey& issuing_key() { return test::key_for(SignatureScheme::ecdsa_sha256); }
const SoftwareSigningKey& responder_key() { return test::key_for(SignatureScheme::ed25519); }

// A root and an issuing CA under it: the responder answers for the issuing CA.
struct Pki {
  IssuedCertificate root;
  IssuedCertificate issuing;
  IssuerContext context() const { return {issuing.x509(), &issuing_key(), {}, {}, {}}; }
};

Pki make_pki(system_clock::time_point issuing_not_after = system_clock::now() + days{1825}) {
  IssuedCertificate root = make_root(root_key());
  const SubordinateSpec spec{DistinguishedName{.country = "DE", .organization = "Example", .common_name = "Issuing"},
                             system_clock::now() - hours{1}, issuing_not_after, 0};
  IssuedCertificate issuing =
      issue_subordinate_ca({root.x509(), &root_key(), {}, {}, {}}, issuing_key().spki_der(), spec).certificate;
  return {std::move(root), std::move(issuing)};
}

template <typename T>
struct Extension {
  std::unique_ptr<T, void (*)(T*)> value;
  int critical = -1;
};

template <typename T>
Extension<T> extension(X509* cert, int nid, void (*free_fn)(T*)) {
  int critical = -1;
  T* value = static_cast<T*>(X509_get_ext_d2i(cert, nid, &critical, nullptr));
  return {std::unique_ptr<T, void (*)(T*)>(value, free_fn), critical};
}

TEST(OcspSignerCertificateTest, IsAnEndEntityForOcspSigningOnlyWithNoCheck) {
  const Pki pki = make_pki();
  const auto cert = issue_ocsp_responder(pki.context(), responder_key().spki_der(), responder_spec());
  X509* x = cert.certificate.x509();
  EXPECT_EQ(X509_get_version(x), X509_VERSION_3);

  auto basic = extension<BASIC_CONSTRAINTS>(x, NID_basic_constraints, BASIC_CONSTRAINTS_free);
  ASSERT_TRUE(basic.value);
  EXPECT_EQ(basic.critical, 1);
  EXPECT_EQ(basic.value->ca, 0);
  EXPECT_EQ(X509_check_ca(x), 0);

  auto usage = extension<ASN1_BIT_STRING>(x, NID_key_usage, ASN1_BIT_STRING_free);
  ASSERT_TRUE(usage.value);
  EXPECT_EQ(usage.critical, 1);
  EXPECT_EQ(X509_get_key_usage(x), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));

  auto eku = extension<EXTENDED_KEY_USAGE>(x, NID_ext_key_usage, EXTENDED_KEY_USAGE_free);
  ASSERT_TRUE(eku.value);
  EXPECT_EQ(eku.critical, 0);
  ASSERT_EQ(sk_ASN1_OBJECT_num(eku.value.get()), 1);
  EXPECT_EQ(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.value.get(), 0)), NID_OCSP_sign);

  // id-pkix-ocsp-nocheck: present, non-critical, its value a DER NULL.
  const int at = X509_get_ext_by_NID(x, NID_id_pkix_OCSP_noCheck, -1);
  ASSERT_GE(at, 0);
  X509_EXTENSION* nocheck = X509_get_ext(x, at);
  EXPECT_EQ(X509_EXTENSION_get_critical(nocheck), 0);
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(nocheck);
  EXPECT_EQ(octets(value), "0500");

  EXPECT_EQ(octets(X509_get0_authority_key_id(x)), octets(X509_get0_subject_key_id(pki.issuing.x509())));
  EXPECT_NE(octets(X509_get0_subject_key_id(x)), "(none)");
  // basicConstraints, keyUsage, EKU, nocheck, SKI, AKI: nothing else, no CRL or AIA URLs.
  EXPECT_EQ(X509_get_ext_count(x), 6);
  EXPECT_EQ(X509_get_ext_by_NID(x, NID_crl_distribution_points, -1), -1);
  EXPECT_EQ(X509_get_ext_by_NID(x, NID_info_access, -1), -1);
}

TEST(OcspSignerCertificateTest, CertifiesExactlyTheGivenKeyAndSubjectUnderTheIssuer) {
  const Pki pki = make_pki();
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    const auto cert = issue_ocsp_responder(pki.context(), c.key.spki_der(), responder_spec());
    EXPECT_TRUE(spki_matches(cert.certificate.x509(), c.key.spki_der()));
    EXPECT_EQ(cert.certificate.subject(), "CN=Example OCSP Responder,O=Example,C=DE");
    EXPECT_EQ(X509_check_issued(pki.issuing.x509(), cert.certificate.x509()), X509_V_OK);
    EXPECT_FALSE(cert.clamped);
  }
}

TEST(OcspSignerCertificateTest, IsAcceptedByOcspResponderAndItsResponsesVerifyWithOpenssl) {
  const Pki pki = make_pki();
  const auto cert = issue_ocsp_responder(pki.context(), responder_key().spki_der(), responder_spec());
  const OcspResponder responder(pki.context(), responder_key(), cert.certificate.x509());

  // A leaf of the issuing CA for a client to ask about.
  const Bytes csr = make_certificate_request(test::key_for(SignatureScheme::ecdsa_sha384),
                                             DistinguishedName{.common_name = "host.example.test"});
  auto request = parse_certificate_request(std::span<const unsigned char>(csr));
  ASSERT_TRUE(request.ok());
  const Profile server{.name = "server", .validity_days = 90, .extended_key_usage = {ExtendedKeyUsage::server_auth}};
  auto plan = plan_leaf(request.value(), server, pki.context(), std::nullopt, system_clock::now());
  ASSERT_TRUE(plan.ok()) << plan.rejection().message;
  const IssuedCertificate leaf = sign_planned(plan.value(), pki.context());

  const test::TempDir dir;
  const auto path = [&dir](const char* name) { return (dir / name).string(); };
  test::write_file(path("issuing.pem"), pki.issuing.pem());
  test::write_file(path("leaf.pem"), leaf.pem());
  test::write_file(path("chain.pem"), pki.issuing.pem() + pki.root.pem());
  const auto req = test::run_process({"openssl", "ocsp", "-issuer", path("issuing.pem"), "-cert", path("leaf.pem"),
                                      "-no_nonce", "-reqout", path("req.der")});
  ASSERT_EQ(req.exit_code, 0) << req.err;
  const std::string req_der = test::read_file(path("req.der"));
  auto query = parse_ocsp_request(Bytes(req_der.begin(), req_der.end()));
  ASSERT_TRUE(query.ok());
  const auto now = system_clock::now();
  const Bytes response = responder.respond(
      query.value(), [](const std::string&) { return OcspStatus{OcspStatus::Status::good, 0, {}}; }, now,
      now + hours{1});
  test::write_file(path("resp.der"), std::string(response.begin(), response.end()));

  // openssl checks a delegated responder's certificate: issued by the CA, with id-kp-OCSPSigning.
  const auto check = test::run_process({"openssl", "ocsp", "-respin", path("resp.der"), "-issuer", path("issuing.pem"),
                                        "-cert", path("leaf.pem"), "-CAfile", path("chain.pem"), "-no_nonce"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.err.find("Response verify OK"), std::string::npos) << check.err;
  EXPECT_NE(check.out.find(path("leaf.pem") + ": good"), std::string::npos) << check.out;
}

TEST(OcspSignerCertificateTest, OpensslShowsOcspSigningAndNoCheckAndVerifiesTheChain) {
  const Pki pki = make_pki();
  const auto cert = issue_ocsp_responder(pki.context(), responder_key().spki_der(), responder_spec());
  const test::TempDir dir;
  const std::string chain = (dir / "chain.pem").string();
  const std::string responder = (dir / "responder.pem").string();
  test::write_file(chain, pki.issuing.pem() + pki.root.pem());
  test::write_file(responder, cert.certificate.pem());
  const auto text = test::run_process({"openssl", "x509", "-in", responder, "-noout", "-text"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("X509v3 Extended Key Usage: \n                OCSP Signing"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("OCSP No Check"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("X509v3 Key Usage: critical\n                Digital Signature\n"), std::string::npos)
      << text.out;
  const auto verify = test::run_process(
      {"openssl", "verify", "-x509_strict", "-purpose", "ocsphelper", "-CAfile", chain, responder});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

TEST(OcspSignerCertificateTest, AllowsAtMost366DaysAndSaysWhy) {
  const Pki pki = make_pki();
  const auto longest = issue_ocsp_responder(pki.context(), responder_key().spki_der(), responder_spec(days{366}));
  int valid_days = 0, valid_seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&valid_days, &valid_seconds, X509_get0_notBefore(longest.certificate.x509()),
                           X509_get0_notAfter(longest.certificate.x509())),
            1);
  EXPECT_EQ(valid_days, 366);
  EXPECT_EQ(valid_seconds, 0);
  try {
    issue_ocsp_responder(pki.context(), responder_key().spki_der(), responder_spec(days{366} + seconds{1}));
    ADD_FAILURE() << "a responder certificate longer than 366 days was issued";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("at most 366 days"), std::string::npos) << e.what();
  }
}

TEST(OcspSignerCertificateTest, ClampsNotAfterToTheIssuersAndSaysSo) {
  const Pki pki = make_pki(system_clock::now() + days{10});
  const auto cert = issue_ocsp_responder(pki.context(), responder_key().spki_der(), responder_spec(days{30}));
  EXPECT_TRUE(cert.clamped);
  EXPECT_EQ(ASN1_TIME_compare(X509_get0_notAfter(cert.certificate.x509()), X509_get0_notAfter(pki.issuing.x509())),
            0);
}

TEST(OcspSignerCertificateTest, IsRefusedWithAValidityThatEndsBeforeItBegins) {
  const Pki pki = make_pki();
  OcspResponderSpec spec = responder_spec();
  std::swap(spec.not_before, spec.not_after);
  EXPECT_THROW(issue_ocsp_responder(pki.context(), responder_key().spki_der(), spec), std::invalid_argument);
}

TEST(OcspSignerCertificateTest, IsRefusedWhenTheIssuerIsNoCa) {
  const Pki pki = make_pki();
  const auto responder = issue_ocsp_responder(pki.context(), responder_key().spki_der(), responder_spec());
  const IssuerContext not_a_ca{responder.certificate.x509(), &responder_key(), {}, {}, {}};
  EXPECT_THROW(issue_ocsp_responder(not_a_ca, issuing_key().spki_der(), responder_spec()), std::invalid_argument);
}

TEST(OcspSignerCertificateTest, IsNotIssuedWhenTheKeySignsWithAnotherPrivateKey) {
  const Pki pki = make_pki();
  const auto other = SoftwareSigningKey::generate(KeyType::ec_p256, SignatureScheme::ecdsa_sha256);
  const test::MismatchedKey mismatched(issuing_key(), other);
  const IssuerContext issuer{pki.issuing.x509(), &mismatched, {}, {}, {}};
  EXPECT_THROW(issue_ocsp_responder(issuer, responder_key().spki_der(), responder_spec()), VerificationError);
}

}  // namespace
}  // namespace hsmca::signer
