#include "hsmca/signer/ocsp.hpp"

#include <gtest/gtest.h>
#include <openssl/ocsp.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "hsmca/signer/leaf.hpp"
#include "hsmca/signer/request.hpp"
#include "process.hpp"
#include "softhsm_env.hpp"
#include "test_certificates.hpp"
#include "test_keys.hpp"

namespace hsmca::signer {
namespace {

using namespace std::chrono;
using test::TempDir;
using token::SignatureScheme;
using OcspResponsePtr = std::unique_ptr<OCSP_RESPONSE, Free<OCSP_RESPONSE_free>>;
using OcspBasicRespPtr = std::unique_ptr<OCSP_BASICRESP, Free<OCSP_BASICRESP_free>>;
using OcspRequestPtr = std::unique_ptr<OCSP_REQUEST, Free<OCSP_REQUEST_free>>;

constexpr std::int64_t kRevokedAt = 1750000000;  // 2025-06-15T15:06:40Z

Bytes bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

IssuedCertificate issue_leaf(const IssuerContext& issuer, const SigningKey& key, const Profile& profile,
                             const std::string& cn, bool ocsp_nocheck = false) {
  const Bytes csr = make_certificate_request(key, DistinguishedName{.common_name = cn});
  auto request = parse_certificate_request(std::span<const unsigned char>(csr));
  if (!request.ok()) throw std::runtime_error(request.rejection().message);
  auto plan = plan_leaf(request.value(), profile, issuer, std::nullopt, system_clock::now());
  if (!plan.ok()) throw std::runtime_error(plan.rejection().message);
  LeafPlan p = std::move(plan).value();
  if (ocsp_nocheck) {
    // RFC 6960 4.2.2.2.1: the delegated responder's own status is not checked.
    std::unique_ptr<ASN1_NULL, Free<ASN1_NULL_free>> null(ASN1_NULL_new());
    if (X509_add1_ext_i2d(p.tbs.get(), NID_id_pkix_OCSP_noCheck, null.get(), 0, 0) != 1) {
      throw OpenSslError("X509_add1_ext_i2d(noCheck)");
    }
    unsigned char* der = nullptr;
    const int len = i2d_re_X509_tbs(p.tbs.get(), &der);
    p.tbs_sha256 = sha256_hex(std::span<const unsigned char>(der, static_cast<std::size_t>(len)));
    OPENSSL_free(der);
  }
  return sign_planned(p, issuer);
}

Profile server_profile() {
  return {.name = "server", .validity_days = 90, .extended_key_usage = {ExtendedKeyUsage::server_auth}};
}

// A root, an issuing CA under it with `issuer_key`, and a leaf it issued.
struct Pki {
  std::string name;
  const SoftwareSigningKey& issuer_key;
  IssuedCertificate root;
  IssuedCertificate issuer;
  IssuedCertificate leaf;
  IssuerContext context() const { return {issuer.x509(), &issuer_key, {}, {}, {}}; }
};

Pki make_pki(const std::string& name, const SoftwareSigningKey& issuer_key) {
  const auto& root_key = test::key_for(SignatureScheme::ecdsa_sha384);
  IssuedCertificate root = test::make_root(root_key);
  const SubordinateSpec spec{
      DistinguishedName{.country = "DE", .organization = "Example", .common_name = "Example Issuing CA " + name},
      system_clock::now() - hours{1}, system_clock::now() + days{1825}, 0};
  IssuedCertificate issuer =
      issue_subordinate_ca({root.x509(), &root_key, {}, {}, {}}, issuer_key.spki_der(), spec).certificate;
  const IssuerContext context{issuer.x509(), &issuer_key, {}, {}, {}};
  IssuedCertificate leaf =
      issue_leaf(context, test::key_for(SignatureScheme::ed25519), server_profile(), "host.example.test");
  return {name, issuer_key, std::move(root), std::move(issuer), std::move(leaf)};
}

// The two kinds of issuing CA key the responder is tested with; made once.
const std::vector<Pki>& pkis() {
  static const std::vector<Pki> all = [] {
    std::vector<Pki> v;
    v.push_back(make_pki("P-256", test::key_for(SignatureScheme::ecdsa_sha256)));
    v.push_back(make_pki("RSA-2048", test::key_for(SignatureScheme::rsa_pkcs1_sha256)));
    return v;
  }();
  return all;
}

// The files `openssl ocsp` reads, written once per test.
struct Files {
  TempDir dir;
  explicit Files(const Pki& pki) {
    test::write_file(dir / "issuer.pem", pki.issuer.pem());
    test::write_file(dir / "leaf.pem", pki.leaf.pem());
    test::write_file(dir / "chain.pem", pki.issuer.pem() + pki.root.pem());
  }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

// `openssl ocsp -reqout`: the request a real client sends about leaf.pem.
Bytes openssl_request(const Files& f, bool nonce, const std::string& digest = "-sha1") {
  std::vector<std::string> args = {"openssl", "ocsp", "-issuer", f / "issuer.pem", digest, "-cert", f / "leaf.pem",
                                   "-reqout", f / "req.der"};
  if (!nonce) args.emplace_back("-no_nonce");
  const auto r = test::run_process(args);
  if (r.exit_code != 0) throw std::runtime_error("openssl ocsp -reqout: " + r.err);
  return bytes(test::read_file(f / "req.der"));
}

OcspQuery parsed(const Bytes& der) {
  auto query = parse_ocsp_request(der);
  if (!query.ok()) throw std::runtime_error(query.rejection().code + ": " + query.rejection().message);
  return std::move(query).value();
}

// `openssl ocsp -respin`, twice, as a client would check the response: with
// the request it sent (-reqin: the signature, the chain to the root and the
// nonce, the response printed as text) and about leaf.pem (-cert: its status
// found by CertID and printed as "leaf.pem: good"). One run cannot do both: given
// -cert, openssl makes a fresh request with a fresh nonce and ignores -reqin.
test::ProcessResult openssl_check(const Files& f, const Bytes& response, const std::string& digest = "-sha1") {
  test::write_file(f / "resp.der", std::string(response.begin(), response.end()));
  const auto with_request =
      test::run_process({"openssl", "ocsp", "-respin", f / "resp.der", "-issuer", f / "issuer.pem", "-CAfile",
                         f / "chain.pem", "-reqin", f / "req.der", "-resp_text"});
  const auto about_leaf =
      test::run_process({"openssl", "ocsp", "-respin", f / "resp.der", "-issuer", f / "issuer.pem", digest, "-cert",
                         f / "leaf.pem", "-CAfile", f / "chain.pem", "-no_nonce"});
  return {std::max(with_request.exit_code, about_leaf.exit_code), with_request.out + about_leaf.out,
          with_request.err + about_leaf.err};
}

OcspResponder::StatusLookup status_is(OcspStatus status, std::vector<std::string>* asked = nullptr) {
  return [status, asked](const std::string& serial) {
    if (asked != nullptr) asked->push_back(serial);
    return status;
  };
}

OcspStatus good() { return {OcspStatus::Status::good, 0, RevocationReason::unspecified}; }

Bytes respond(const Pki& pki, const OcspQuery& query, const OcspResponder::StatusLookup& lookup) {
  const OcspResponder responder(pki.context(), pki.issuer_key);
  const auto now = system_clock::now();
  return responder.respond(query, lookup, now, now + hours{24});
}

OcspBasicRespPtr basic_of(const Bytes& response) {
  const unsigned char* p = response.data();
  OcspResponsePtr parsed(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(response.size())));
  if (!parsed) throw OpenSslError("d2i_OCSP_RESPONSE");
  OcspBasicRespPtr basic(OCSP_response_get1_basic(parsed.get()));
  if (!basic) throw OpenSslError("OCSP_response_get1_basic");
  return basic;
}

TEST(OcspTest, AnswersGoodAndEchoesTheNonceForP256AndRsaIssuers) {
  for (const Pki& pki : pkis()) {
    SCOPED_TRACE(pki.name);
    const Files f(pki);
    const Bytes request = openssl_request(f, true);
    const OcspQuery query = parsed(request);
    ASSERT_EQ(query.requests.size(), 1U);
    EXPECT_EQ(query.requests[0].serial_hex, pki.leaf.serial_hex());
    EXPECT_EQ(query.requests[0].hash_nid, NID_sha1);
    ASSERT_TRUE(query.nonce);

    std::vector<std::string> asked;
    const Bytes response = respond(pki, query, status_is(good(), &asked));
    EXPECT_EQ(asked, std::vector<std::string>{pki.leaf.serial_hex()});
    const auto r = openssl_check(f, response);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("Response verify OK"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("WARNING"), std::string::npos) << r.err;  // "no nonce in response"
    EXPECT_NE(r.out.find("OCSP Nonce:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(f / "leaf.pem" + ": good"), std::string::npos) << r.out;

    const unsigned char* p = request.data();
    OcspRequestPtr req(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(request.size())));
    EXPECT_EQ(OCSP_check_nonce(req.get(), basic_of(response).get()), 1);  // present in both, equal
  }
}

TEST(OcspTest, AnswersRevokedWithRevocationTimeAndReason) {
  for (const Pki& pki : pkis()) {
    SCOPED_TRACE(pki.name);
    const Files f(pki);
    const OcspQuery query = parsed(openssl_request(f, true));
    const Bytes response =
        respond(pki, query, status_is({OcspStatus::Status::revoked, kRevokedAt, RevocationReason::key_compromise}));
    const auto r = openssl_check(f, response);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("Response verify OK"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find(f / "leaf.pem" + ": revoked"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Reason: keyCompromise"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Revocation Time: Jun 15 15:06:40 2025 GMT"), std::string::npos) << r.out;
  }
}

TEST(OcspTest, LeavesOutTheReasonWhenItIsUnspecified) {
  const Pki& pki = pkis()[0];
  const Files f(pki);
  const OcspQuery query = parsed(openssl_request(f, false));
  const Bytes response =
      respond(pki, query, status_is({OcspStatus::Status::revoked, kRevokedAt, RevocationReason::unspecified}));
  const auto r = openssl_check(f, response);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(f / "leaf.pem" + ": revoked"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Reason:"), std::string::npos) << r.out;
}

TEST(OcspTest, AnswersUnknownForASerialTheLedgerDoesNotKnow) {
  for (const Pki& pki : pkis()) {
    SCOPED_TRACE(pki.name);
    const Files f(pki);
    const Bytes response = respond(pki, parsed(openssl_request(f, true)), status_is({}));
    const auto r = openssl_check(f, response);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("Response verify OK"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find(f / "leaf.pem" + ": unknown"), std::string::npos) << r.out;
  }
}

TEST(OcspTest, SendsNoNonceWhenTheRequestHadNone) {
  for (const Pki& pki : pkis()) {
    SCOPED_TRACE(pki.name);
    const Files f(pki);
    const OcspQuery query = parsed(openssl_request(f, false));
    EXPECT_FALSE(query.nonce);
    const Bytes response = respond(pki, query, status_is(good()));
    EXPECT_LT(OCSP_BASICRESP_get_ext_by_NID(basic_of(response).get(), NID_id_pkix_OCSP_Nonce, -1), 0);
    const auto r = openssl_check(f, response);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("Response verify OK"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find(f / "leaf.pem" + ": good"), std::string::npos) << r.out;
  }
}

TEST(OcspTest, RecognisesItsIssuerUnderSha256CertIds) {
  const Pki& pki = pkis()[1];
  const Files f(pki);
  const OcspQuery query = parsed(openssl_request(f, true, "-sha256"));
  ASSERT_EQ(query.requests[0].hash_nid, NID_sha256);
  EXPECT_TRUE(OcspResponder(pki.context(), pki.issuer_key).issued_by_us(query.requests[0]));
  const auto r = openssl_check(f, respond(pki, query, status_is(good())), "-sha256");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(f / "leaf.pem" + ": good"), std::string::npos) << r.out;
}

TEST(OcspTest, AnswersUnauthorizedForAnotherIssuersCertificates) {
  const Pki& ours = pkis()[0];
  const Pki& theirs = pkis()[1];
  const OcspResponder responder(ours.context(), ours.issuer_key);
  const Files f(theirs);
  for (const char* digest : {"-sha1", "-sha256"}) {
    SCOPED_TRACE(digest);
    const OcspQuery query = parsed(openssl_request(f, true, digest));
    EXPECT_FALSE(responder.issued_by_us(query.requests[0]));
    std::vector<std::string> asked;
    const auto now = system_clock::now();
    const Bytes response = responder.respond(query, status_is(good(), &asked), now, now + hours{1});
    EXPECT_TRUE(asked.empty());
    EXPECT_EQ(response, OcspResponder::error_response(OcspResponseStatus::unauthorized));
    const auto r = openssl_check(f, response, digest);
    EXPECT_NE(r.out.find("Responder Error: unauthorized (6)"), std::string::npos) << r.out << r.err;
  }
}

TEST(OcspTest, RefusesGarbageAndTrailingBytesAsMalformedRequests) {
  const Pki& pki = pkis()[0];
  const Files f(pki);
  Bytes trailing = openssl_request(f, true);
  trailing.push_back(0x00);
  for (const Bytes& der : {Bytes{}, bytes("GET / HTTP/1.1"), Bytes{0x30, 0x03, 0x30, 0x01, 0x00}, trailing}) {
    const auto query = parse_ocsp_request(der);
    ASSERT_FALSE(query.ok());
    EXPECT_EQ(query.rejection().code, "malformedRequest");
  }
  const auto r = openssl_check(f, OcspResponder::error_response(OcspResponseStatus::malformed_request));
  EXPECT_NE(r.out.find("Responder Error: malformedrequest (1)"), std::string::npos) << r.out << r.err;
  EXPECT_THROW(OcspResponder::error_response(OcspResponseStatus::successful), std::invalid_argument);
}

// Each value of the hash algorithm's parameters would be another CertID for
// the same certificate: another cache entry, another token signature.
TEST(OcspTest, RefusesACertIdWhoseHashAlgorithmHasParametersOtherThanNull) {
  const Pki& pki = pkis()[0];
  const Files f(pki);
  const Bytes good_request = openssl_request(f, false);
  ASSERT_TRUE(parse_ocsp_request(good_request).ok());
  // SHA-1's AlgorithmIdentifier as openssl writes it, parameters NULL (05 00).
  const Bytes sha1_null{0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00};
  const auto at = std::search(good_request.begin(), good_request.end(), sha1_null.begin(), sha1_null.end());
  ASSERT_NE(at, good_request.end());
  for (const Bytes& parameters : {Bytes{0x04, 0x00}, Bytes{0x02, 0x00}, Bytes{0x20, 0x00}}) {
    Bytes changed = good_request;
    std::copy(parameters.begin(), parameters.end(), changed.begin() + (at - good_request.begin()) + 9);
    const auto query = parse_ocsp_request(changed);
    ASSERT_FALSE(query.ok()) << int(parameters[0]);
    EXPECT_EQ(query.rejection().code, "malformedRequest");
  }
}

TEST(OcspTest, PrebuildsACacheableResponseForOneSerial) {
  for (const Pki& pki : pkis()) {
    SCOPED_TRACE(pki.name);
    const Files f(pki);
    const OcspResponder responder(pki.context(), pki.issuer_key);
    const CertId id = responder.cert_id(pki.leaf.serial_hex());
    EXPECT_TRUE(responder.issued_by_us(id));
    // A client without a nonce sends exactly this CertID, so the bytes serve it.
    const OcspQuery query = parsed(openssl_request(f, false));
    EXPECT_EQ(query.requests[0].der, id.der);
    const auto now = system_clock::now();
    const Bytes cached = responder.respond_one(id, good(), now, now + hours{24});
    for (int client = 0; client < 2; ++client) {
      const auto r = openssl_check(f, cached);
      EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
      EXPECT_NE(r.out.find(f / "leaf.pem" + ": good"), std::string::npos) << r.out;
    }
  }
}

TEST(OcspTest, DelegatedResponderIncludesItsCertificateAndIsAcceptedByOpenssl) {
  for (const Pki& pki : pkis()) {
    SCOPED_TRACE(pki.name);
    const auto& responder_key = test::key_for(SignatureScheme::ecdsa_sha384);
    // A CA file cannot say this (ocsp_signing comes only from a ceremony); the
    // test builds the profile to make a responder certificate cheaply.
    const Profile ocsp{.name = "ocsp",
                       .validity_days = 30,
                       .extended_key_usage = {ExtendedKeyUsage::ocsp_signing},
                       .names = {.common_name = NamePolicy::CommonName::text}};
    const IssuedCertificate responder_cert =
        issue_leaf(pki.context(), responder_key, ocsp, "Example OCSP Responder", true);
    EXPECT_GE(X509_get_ext_by_NID(responder_cert.x509(), NID_id_pkix_OCSP_noCheck, -1), 0);
    const OcspResponder responder(pki.context(), responder_key, responder_cert.x509());
    const Files f(pki);
    const OcspQuery query = parsed(openssl_request(f, true));
    const auto now = system_clock::now();
    const Bytes response = responder.respond(
        query, status_is({OcspStatus::Status::revoked, kRevokedAt, RevocationReason::superseded}), now,
        now + hours{24});
    const OcspBasicRespPtr basic = basic_of(response);
    const STACK_OF(X509)* certs = OCSP_resp_get0_certs(basic.get());
    ASSERT_EQ(sk_X509_num(certs), 1);
    EXPECT_EQ(to_der(sk_X509_value(certs, 0)), responder_cert.der());
    const auto r = openssl_check(f, response);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("Response verify OK"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("Reason: superseded"), std::string::npos) << r.out;
  }
}

TEST(OcspTest, RefusesAResponderCertificateWithoutOcspSigningOrAForeignKey) {
  const Pki& pki = pkis()[0];
  const auto& leaf_key = test::key_for(SignatureScheme::ed25519);
  // The leaf is issued by the CA and its key is leaf_key, but it is a server certificate.
  EXPECT_THROW(OcspResponder(pki.context(), leaf_key, pki.leaf.x509()), std::invalid_argument);
  EXPECT_THROW(OcspResponder(pki.context(), pkis()[1].issuer_key), std::invalid_argument);
}

}  // namespace
}  // namespace hsmca::signer
