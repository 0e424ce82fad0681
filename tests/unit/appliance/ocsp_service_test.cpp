#include "hsmca/appliance/ocsp_service.hpp"

#include <gtest/gtest.h>
#include <openssl/ocsp.h>

#include <deque>
#include <map>
#include <mutex>

#include "fake_clock.hpp"
#include "hsmca/signer/ledger.hpp"
#include "test_certificates.hpp"
#include "test_keys.hpp"

namespace hsmca::appliance {
namespace {

using namespace std::chrono_literals;
using signer::OcspStatus;
using token::SignatureScheme;

// DER of an OCSPRequest about `serial` (hex) of `issuer`, with a nonce when asked.
signer::Bytes request_about(X509* issuer, const std::string& serial, bool nonce = false) {
  BIGNUM* bn = nullptr;
  BN_hex2bn(&bn, serial.c_str());
  ASN1_INTEGER* number = BN_to_ASN1_INTEGER(bn, nullptr);
  BN_free(bn);
  OCSP_CERTID* id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(issuer), X509_get0_pubkey_bitstr(issuer), number);
  ASN1_INTEGER_free(number);
  OCSP_REQUEST* req = OCSP_REQUEST_new();
  OCSP_request_add0_id(req, id);
  if (nonce) OCSP_request_add1_nonce(req, nullptr, 16);
  unsigned char* der = nullptr;
  const int n = i2d_OCSP_REQUEST(req, &der);
  signer::Bytes out(der, der + n);
  OPENSSL_free(der);
  OCSP_REQUEST_free(req);
  return out;
}

// The certificate status a signed response gives, as OpenSSL reads it after
// checking the signature under `issuer`; -1 when it does not verify.
int openssl_status(const std::string& der, X509* issuer) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OCSP_RESPONSE* resp = d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size()));
  if (resp == nullptr) return -1;
  int status = -1;
  if (OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    OCSP_BASICRESP* basic = OCSP_response_get1_basic(resp);
    STACK_OF(X509)* certs = sk_X509_new_null();
    sk_X509_push(certs, issuer);
    if (basic && OCSP_basic_verify(basic, certs, nullptr, OCSP_TRUSTOTHER | OCSP_NOCHAIN) == 1) {
      status = OCSP_single_get0_status(OCSP_resp_get0(basic, 0), nullptr, nullptr, nullptr, nullptr);
    }
    sk_X509_free(certs);
    OCSP_BASICRESP_free(basic);
  }
  OCSP_RESPONSE_free(resp);
  return status;
}

// An OCSP service over a software-key issuer, a ledger the test writes,
// worker jobs the test runs, and a clock the test moves.
class OcspServiceTest : public ::testing::Test {
 protected:
  OcspServiceTest()
      : key_(test::key_for(SignatureScheme::ecdsa_sha256)),
        issuer_cert_(test::make_root(key_)),
        context_{issuer_cert_.x509(), &key_, {}, {}, {}},
        responder_(context_, key_),
        watcher_([this] { return version(); }, std::chrono::hours(1)),
        service_(OcspSigners{&responder_}, options(), [this](const std::string& s) { return lookup(s); },
                 [this] { return version(); }, watcher_,
                 [this](std::function<void()> job) {
                   jobs_.push_back(std::move(job));
                   return true;
                 },
                 metrics_, clock_) {
    statuses_["0a"].status = OcspStatus::Status::good;
    statuses_["0b"].status = OcspStatus::Status::good;
  }

  static OcspService::Options options() {
    OcspService::Options o;
    o.validity = 24h;
    o.fresh_signatures_per_second = 1;
    return o;
  }

  OcspStatus lookup(const std::string& serial) {
    std::lock_guard lock(mutex_);
    ++lookups_;
    if (ledger_away_) throw signer::LedgerError("database is locked");
    auto it = statuses_.find(serial);
    return it == statuses_.end() ? OcspStatus{} : it->second;
  }
  signer::RevocationVersion version() {
    std::lock_guard lock(mutex_);
    return version_;
  }
  void revoke(const std::string& serial) {
    std::lock_guard lock(mutex_);
    statuses_[serial] = OcspStatus{OcspStatus::Status::revoked, 1750000000, signer::RevocationReason::key_compromise};
    ++version_.revoked;
    version_.latest_revoked_at = 1750000000;
  }

  // The reply to `der`, once the queued worker jobs have run.
  std::shared_ptr<OcspReply> ask(const signer::Bytes& der) {
    auto reply = std::make_shared<OcspReply>();
    service_.answer(der, [reply](OcspReply r) { *reply = std::move(r); });
    return reply;
  }
  void run_jobs() {
    while (!jobs_.empty()) {
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      job();
    }
  }

  const signer::SoftwareSigningKey& key_;
  signer::IssuedCertificate issuer_cert_;
  signer::IssuerContext context_;
  signer::OcspResponder responder_;
  test::FakeClock clock_;
  Metrics metrics_;
  std::mutex mutex_;
  std::map<std::string, OcspStatus> statuses_;
  signer::RevocationVersion version_;
  bool ledger_away_ = false;
  int lookups_ = 0;
  RevocationWatcher watcher_;
  std::deque<std::function<void()>> jobs_;
  OcspService service_;
};

TEST_F(OcspServiceTest, SignsOnceThenAnswersFromTheCacheWithoutTheLedger) {
  const auto req = request_about(issuer_cert_.x509(), "0a");
  auto first = ask(req);
  EXPECT_TRUE(first->der.empty()) << "a miss waits for a worker";
  run_jobs();
  EXPECT_EQ(first->source, "signed");
  EXPECT_EQ(first->status, "good");
  EXPECT_EQ(first->serial, "0a");
  ASSERT_TRUE(first->cacheable);
  EXPECT_EQ(openssl_status(first->der, issuer_cert_.x509()), V_OCSP_CERTSTATUS_GOOD);
  auto second = ask(req);
  EXPECT_EQ(second->source, "cache");
  EXPECT_EQ(second->der, first->der);
  EXPECT_EQ(lookups_, 1);
  EXPECT_TRUE(jobs_.empty());
}

TEST_F(OcspServiceTest, ConcurrentMissesForOneCertificateShareOneSignature) {
  const auto req = request_about(issuer_cert_.x509(), "0a");
  auto a = ask(req);
  auto b = ask(req);
  EXPECT_EQ(jobs_.size(), 1u);
  run_jobs();
  EXPECT_EQ(a->source, "signed");
  EXPECT_EQ(b->source, "cache");
  EXPECT_EQ(a->der, b->der);
}

TEST_F(OcspServiceTest, ARevocationAnywhereReconfirmsAndOnlyTheRevokedCertificateIsResigned) {
  const auto about_a = request_about(issuer_cert_.x509(), "0a");
  const auto about_b = request_about(issuer_cert_.x509(), "0b");
  ask(about_a);
  ask(about_b);
  run_jobs();
  revoke("0b");
  watcher_.advance(version());
  auto a = ask(about_a);
  EXPECT_TRUE(a->der.empty()) << "confirmed under an older revocation version: not served at once";
  auto b = ask(about_b);
  run_jobs();
  EXPECT_EQ(a->source, "ledger") << "its status did not change: re-confirmed by a read, not re-signed";
  EXPECT_EQ(a->status, "good");
  EXPECT_EQ(b->source, "signed");
  EXPECT_EQ(b->status, "revoked");
  EXPECT_EQ(openssl_status(b->der, issuer_cert_.x509()), V_OCSP_CERTSTATUS_REVOKED);
}

TEST_F(OcspServiceTest, ResignsOnceHalfItsValidityHasPassed) {
  const auto req = request_about(issuer_cert_.x509(), "0a");
  auto first = ask(req);
  run_jobs();
  clock_.advance(12h);
  auto later = ask(req);
  run_jobs();
  EXPECT_EQ(later->source, "signed") << "re-signed at half its validity";
  EXPECT_NE(later->der, first->der);
  EXPECT_GT(later->cacheable->next_update, first->cacheable->next_update);
}

TEST_F(OcspServiceTest, RefusesGarbageAndOtherIssuersWithoutASignature) {
  auto garbage = ask(signer::Bytes{0x30, 0x03, 0x02, 0x01, 0x00});
  EXPECT_EQ(garbage->status, "malformedRequest");
  EXPECT_EQ(garbage->http_status, 200u);
  const auto other = test::make_root(test::key_for(SignatureScheme::ecdsa_sha384));
  auto foreign = ask(request_about(other.x509(), "0a"));
  EXPECT_EQ(foreign->status, "unauthorized");
  EXPECT_EQ(foreign->source, "none");
  EXPECT_TRUE(jobs_.empty());
  EXPECT_EQ(lookups_, 0);
}

TEST_F(OcspServiceTest, TheLedgerAwayGivesTryLaterAndNothingIsCached) {
  ledger_away_ = true;
  const auto req = request_about(issuer_cert_.x509(), "0a");
  auto away = ask(req);
  run_jobs();
  EXPECT_EQ(away->status, "tryLater");
  EXPECT_EQ(away->http_status, 503u);
  ledger_away_ = false;
  auto back = ask(req);
  run_jobs();
  EXPECT_EQ(back->source, "signed");
}

TEST_F(OcspServiceTest, UnknownSerialsAndNoncesAreSignedWithinTheBudgetOnly) {
  auto unknown = ask(request_about(issuer_cert_.x509(), "ff01"));
  run_jobs();
  EXPECT_EQ(unknown->status, "unknown");
  EXPECT_EQ(unknown->source, "signed");
  auto flood = ask(request_about(issuer_cert_.x509(), "ff02"));
  run_jobs();
  EXPECT_EQ(flood->status, "unauthorized") << "one fresh signature a second: the next unknown serial gets none";
  auto nonce = ask(request_about(issuer_cert_.x509(), "0a", true));
  run_jobs();
  EXPECT_EQ(nonce->source, "signed") << "over budget, a nonce is left out and the cached answer serves";
  clock_.advance(1s);
  auto with_nonce = ask(request_about(issuer_cert_.x509(), "0a", true));
  EXPECT_EQ(jobs_.size(), 1u) << "within the budget again: signed for this request";
  run_jobs();
  EXPECT_EQ(with_nonce->source, "signed");
  EXPECT_FALSE(with_nonce->cacheable) << "an answer with a nonce is for one client only";
}

}  // namespace
}  // namespace hsmca::appliance
