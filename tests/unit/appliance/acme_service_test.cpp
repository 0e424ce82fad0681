// The ACME order state machine and its policy, as an attacker meets it: a
// name outside the profile, a CSR with an extra name, finalize before ready,
// another account's order, authorization, certificate and revocation, a
// missing or reused EAB, too many orders. Each refusal is a problem document
// naming the rule, and nothing is issued or recorded.
#include "acme_service.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <atomic>

#include "acme_cert_id.hpp"
#include "acme_jws_signer.hpp"
#include "eventually.hpp"
#include "fake_clock.hpp"
#include "hsmca/signer/acme_policy.hpp"
#include "hsmca/signer/ledger.hpp"
#include "softhsm_env.hpp"
#include "test_certificates.hpp"
#include "signing_key_doubles.hpp"
#include "test_keys.hpp"
#include "together.hpp"

namespace hsmca::appliance::acme {
namespace {

using nlohmann::json;
using signer::AcmeAccount;
using signer::AcmeOrder;
using signer::AcmeOrderStatus;
using token::SignatureScheme;

constexpr const char* kNewAccountUrl = "https://ca.example.test/acme/new-account";
constexpr const char* kClient = "192.0.2.1";  // client_key of the caller's address

signer::Profile web_profile(std::vector<std::string> requesters = {"acme"}) {
  signer::Profile p;
  p.name = "web";
  p.validity_days = 30;
  p.extended_key_usage = {signer::ExtendedKeyUsage::server_auth};
  p.names.restricted = true;
  p.names.dns = {"example.test"};
  p.requesters = std::move(requesters);
  return p;
}

// DER PKCS#10 for `names` (DNS), with a fresh P-256 key and the `subject`
// attributes given ({"O", "Example Bank"}; none by default).
std::string csr_for(const std::vector<std::string>& names,
                    const std::vector<std::pair<std::string, std::string>>& subject = {}) {
  signer::EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  signer::X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), X509_REQ_VERSION_1);
  X509_REQ_set_pubkey(req.get(), key.get());
  for (const auto& [field, value] : subject) {
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), field.c_str(), MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0);
  }
  std::string conf;
  for (const auto& n : names) conf += (conf.empty() ? "DNS:" : ",DNS:") + n;
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, conf.c_str()));
  X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_sign(req.get(), key.get(), EVP_sha256());
  unsigned char* der = nullptr;
  const int len = i2d_X509_REQ(req.get(), &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return base64url_encode(out);
}

class AcmeServiceTest : public ::testing::Test {
 protected:
  AcmeServiceTest() : AcmeServiceTest(config_with()) {}
  explicit AcmeServiceTest(AcmeConfig config)
      : key_(test::key_for(SignatureScheme::ecdsa_sha256)),
        root_(test::make_root(key_)),
        ledger_(signer::open_sqlite_ledger(dir_ / "ledger.db")),
        ca_(signer::X509Ptr(X509_dup(root_.x509())), {}, signing_, *ledger_,
            {web_profile(), closed_profile(), device_profile(), spare_profile()}, {}),
        watcher_([this] { return ledger_->revocation_version(ca_.issuer_id()); }, std::chrono::hours(1)),
        service_(config, ca_, *ledger_, watcher_, clock_) {}

  static AcmeConfig config_with(bool eab = false, int orders_per_hour = 300) {
    AcmeConfig c;
    c.profile = "web";
    c.profiles = {"web", "device"};
    c.external_account_binding = eab;
    c.dns_server = "127.0.0.1:1";  // nothing answers: a validation fails, fast
    c.validation_timeout = std::chrono::milliseconds(300);
    c.orders_per_hour = orders_per_hour;
    return c;
  }
  static signer::Profile closed_profile() {
    auto p = web_profile({"enroll"});
    p.name = "closed";
    return p;
  }
  // A second profile ACME may order by name: client certificates for a week.
  static signer::Profile device_profile() {
    auto p = web_profile();
    p.name = "device";
    p.validity_days = 7;
    p.extended_key_usage = {signer::ExtendedKeyUsage::client_auth};
    return p;
  }
  // Grants acme, but the operator does not offer it (acme.profiles).
  static signer::Profile spare_profile() {
    auto p = web_profile();
    p.name = "spare";
    return p;
  }

  template <typename T>
  static const T& ok(const Result<T>& r) {
    if (const auto* p = std::get_if<Problem>(&r)) ADD_FAILURE() << p->type << ": " << p->detail;
    return std::get<T>(r);
  }
  template <typename T>
  static Problem refused(const Result<T>& r) {
    EXPECT_TRUE(std::holds_alternative<Problem>(r)) << "the request was not refused";
    return std::holds_alternative<Problem>(r) ? std::get<Problem>(r) : Problem{};
  }

  AcmeAccount account() {
    auto key = test::JwsTestKey::generate(KeyType::ec_p256);
    return ok(service_.new_account(key.jwk(), json::object(), kNewAccountUrl, kClient)).account;
  }
  static json identifiers(const std::vector<std::string>& names) {
    json ids = json::array();
    for (const auto& n : names) ids.push_back({{"type", "dns"}, {"value", n}});
    return ids;
  }
  AcmeOrder order_for(const AcmeAccount& a, const std::vector<std::string>& names) {
    return ok(service_.new_order(a, {{"identifiers", identifiers(names)}}));
  }
  // An order for `names`, validated and finalized: the certificate's ledger entry.
  signer::LedgerEntry issued_for(const AcmeAccount& a, const std::vector<std::string>& names, json extra = json::object(),
                                 const std::vector<std::pair<std::string, std::string>>& subject = {}) {
    extra["identifiers"] = identifiers(names);
    auto o = ok(service_.new_order(a, extra));
    pass_challenges(o);
    auto done = ok(service_.finalize(a, o.id, {{"csr", csr_for(names, subject)}}));
    return *ledger_->find(ca_.issuer_id(), done.certificate_serial);
  }
  static std::string cert_id(const signer::LedgerEntry& e) {
    return cert_id_of(signer::IssuedCertificate::from_der(e.der).x509());
  }
  // What a passed http-01 validation writes, without the network.
  void pass_challenges(const AcmeOrder& o) {
    for (const auto& id : o.authorization_ids) {
      auto authz = ledger_->acme().authorization(id);
      ASSERT_TRUE(authz);
      if (authz->status == signer::AcmeAuthzStatus::valid) continue;  // reused (RFC 8555 7.1.4)
      const auto& c = authz->challenges.front();
      ASSERT_TRUE(ledger_->acme().start_challenge(c.id, signer::unix_seconds(clock_.now())));
      ASSERT_TRUE(ledger_->acme().finish_challenge(c.id, true, "", signer::unix_seconds(clock_.now())).applied);
    }
  }
  std::size_t certificates() { return ledger_->list("").size(); }

  test::TempDir dir_;
  const signer::SoftwareSigningKey& key_;
  test::AwayableKey signing_{key_};  // the CA's key: key_, whose token a test may take away
  signer::IssuedCertificate root_;
  std::unique_ptr<signer::Ledger> ledger_;
  signer::CertificateAuthority ca_;
  test::FakeClock clock_;
  RevocationWatcher watcher_;
  AcmeService service_;
};

TEST_F(AcmeServiceTest, IssuesForAReadyOrderAndRecordsTheAccountAsRequester) {
  const auto a = account();
  auto o = order_for(a, {"www.example.test"});
  EXPECT_EQ(o.status, AcmeOrderStatus::pending);
  ASSERT_EQ(o.authorization_ids.size(), 1u);
  pass_challenges(o);
  EXPECT_EQ(ok(service_.order(a, o.id)).status, AcmeOrderStatus::ready);

  auto done = ok(service_.finalize(a, o.id, {{"csr", csr_for({"www.example.test"})}}));
  EXPECT_EQ(done.status, AcmeOrderStatus::valid);
  ASSERT_FALSE(done.certificate_serial.empty());
  auto entry = ledger_->find(ca_.issuer_id(), done.certificate_serial);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->status, signer::CertificateStatus::issued);
  EXPECT_EQ(entry->record.requester, "acme:" + a.id);
  EXPECT_EQ(entry->record.profile, "web");
  EXPECT_EQ(ledger_->acme().order_for_certificate(done.certificate_serial)->id, o.id);
  auto chain = ok(service_.certificate_chain(a, done.certificate_serial));
  EXPECT_TRUE(chain.starts_with("-----BEGIN CERTIFICATE-----"));
}

TEST_F(AcmeServiceTest, RefusesAnIdentifierOutsideTheNamePolicyWithASubproblemAndRecordsNoOrder) {
  const auto a = account();
  json ids = json::array({{{"type", "dns"}, {"value", "www.example.test"}}, {{"type", "dns"}, {"value", "other.invalid"}}});
  auto p = refused(service_.new_order(a, {{"identifiers", ids}}));
  EXPECT_EQ(p.type, "rejectedIdentifier");
  EXPECT_EQ(p.status, 400u);
  ASSERT_TRUE(p.subproblems.is_array());
  ASSERT_EQ(p.subproblems.size(), 1u);
  EXPECT_EQ(p.subproblems[0]["identifier"]["value"], "other.invalid");
  EXPECT_NE(p.detail.find("outside profile \"web\""), std::string::npos) << p.detail;
  EXPECT_EQ(p.detail.find("example.test"), std::string::npos) << "which names are inside is not told: " << p.detail;
  EXPECT_TRUE(service_.order_ids(a).ids.empty());
}

TEST_F(AcmeServiceTest, RefusesAProfileWhoseRequestersDoNotListAcme) {
  const auto a = account();
  // Named in the order (draft-aaron-acme-profiles): not offered.
  auto named = refused(service_.new_order(a, {{"identifiers", identifiers({"www.example.test"})}, {"profile", "closed"}}));
  EXPECT_EQ(named.type, "invalidProfile");
  EXPECT_NE(named.detail.find("web, device"), std::string::npos) << "names what is offered: " << named.detail;
  // Nor as the configured default (the appliance's config refuses that at start; the order still may not).
  // Granting acme is not enough: the operator offers it in acme.profiles, or it is not orderable.
  EXPECT_EQ(refused(service_.new_order(a, {{"identifiers", identifiers({"www.example.test"})}, {"profile", "spare"}})).type,
            "invalidProfile");
  auto config = config_with();
  config.profile = "closed";
  config.profiles = {"closed"};
  AcmeService closed(config, ca_, *ledger_, watcher_, clock_);
  EXPECT_EQ(refused(closed.new_order(a, {{"identifiers", identifiers({"www.example.test"})}})).type, "invalidProfile");
  EXPECT_TRUE(service_.order_ids(a).ids.empty());
}

TEST_F(AcmeServiceTest, IssuesUnderTheProfileAnOrderNamesAndOffersOnlyAcmeProfiles) {
  std::vector<std::string> offered;
  for (const auto* p : signer::acme_orderable_profiles(ca_.profiles(), {"web", "device", "closed"})) {
    offered.push_back(p->name);
  }
  EXPECT_EQ(offered, (std::vector<std::string>{"web", "device"})) << "closed is listed, but does not grant acme";
  EXPECT_EQ(signer::describe_profile(device_profile()), "7 days; client_auth") << "no names: the directory is public";

  const auto a = account();
  const auto device = issued_for(a, {"dev1.example.test"}, {{"profile", "device"}});
  EXPECT_EQ(device.record.profile, "device");
  EXPECT_GE(device.record.not_after - device.record.not_before, 7 * 86400);
  EXPECT_LT(device.record.not_after - device.record.not_before, 8 * 86400) << "the device profile's week, not web's 30 days";
  EXPECT_EQ(ledger_->acme().order_for_certificate(device.record.serial)->profile, "device");
  // Without a name, acme.profile.
  EXPECT_EQ(issued_for(a, {"www.example.test"}).record.profile, "web");
  // A name that is not a string is malformed, not the default.
  EXPECT_EQ(refused(service_.new_order(a, {{"identifiers", identifiers({"x.example.test"})}, {"profile", 7}})).type,
            "malformed");
  EXPECT_EQ(service_.order_ids(a).ids.size(), 2u);
}

TEST_F(AcmeServiceTest, RefusesToFinalizeUnderAProfileWithdrawnSinceTheOrderWasMade) {
  const auto a = account();
  auto o = ok(service_.new_order(a, {{"identifiers", identifiers({"dev2.example.test"})}, {"profile", "device"}}));
  pass_challenges(o);
  // The operator takes device out of acme.profiles and restarts; the order is still ready.
  auto config = config_with();
  config.profiles = {"web"};
  AcmeService restarted(config, ca_, *ledger_, watcher_, clock_);
  auto p = refused(restarted.finalize(a, o.id, {{"csr", csr_for({"dev2.example.test"})}}));
  EXPECT_EQ(p.type, "unauthorized");
  EXPECT_EQ(p.status, 403u);
  EXPECT_EQ(certificates(), 0u);
}

TEST_F(AcmeServiceTest, SuggestsARenewalWindowInsideTheLifeAndAtOnceAfterRevocation) {
  const auto a = account();
  const auto entry = issued_for(a, {"www.example.test"});
  const std::string id = cert_id(entry);
  auto s = ok(service_.renewal_info(id));
  const std::int64_t life = entry.record.not_after - entry.record.not_before;
  EXPECT_EQ(s.start, entry.record.not_before + life * 2 / 3);
  EXPECT_EQ(s.end, entry.record.not_before + life * 5 / 6);
  EXPECT_GT(s.retry_after, 0);

  auto owner_key = service_.account_key(a.id);
  ok(service_.revoke(a, *owner_key, {{"certificate", base64url_encode(std::span<const unsigned char>(entry.der))}}));
  s = ok(service_.renewal_info(id));
  EXPECT_LT(s.end, signer::unix_seconds(clock_.now())) << "revoked: renew now";

  EXPECT_EQ(refused(service_.renewal_info("not-a-cert-id")).status, 400u);
  EXPECT_EQ(refused(service_.renewal_info("\xff.AQ")).status, 400u);
  // A certificate this CA issued, but not over ACME: an unauthenticated caller learns nothing of it.
  const auto csr = base64url_decode(csr_for({"est.example.test"}));
  const auto other = ca_.issue({*csr, "web", std::nullopt, signer::acme_caller(a.id)});
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(refused(service_.renewal_info(cert_id_of(other.value().x509()))).status, 404u);
  // A well-formed certID this CA never issued: 404.
  auto unknown = refused(service_.renewal_info(id.substr(0, id.find('.')) + ".AQ"));
  EXPECT_EQ(unknown.status, 404u);
}

TEST_F(AcmeServiceTest, AnOrderReplacesOnlyItsAccountsCertificateAndOnlyOnce) {
  const auto a = account();
  const auto old = issued_for(a, {"www.example.test"});
  const std::string id = cert_id(old);

  // Another account may not claim to replace it; nor may an order with no name in common, or a certID for nothing.
  const auto other = account();
  auto stolen = refused(service_.new_order(other, {{"identifiers", identifiers({"www.example.test"})}, {"replaces", id}}));
  EXPECT_EQ(stolen.type, "unauthorized");
  EXPECT_EQ(stolen.status, 403u);
  EXPECT_EQ(refused(service_.new_order(a, {{"identifiers", identifiers({"mail.example.test"})}, {"replaces", id}})).type,
            "malformed");
  // A certID for nothing is answered as another account's certificate is: no way to learn what the ledger holds.
  auto nothing = refused(service_.new_order(a, {{"identifiers", identifiers({"www.example.test"})},
                                                {"replaces", id.substr(0, id.find('.')) + ".AQ"}}));
  EXPECT_EQ(nothing.type, stolen.type);
  EXPECT_EQ(nothing.status, stolen.status);
  EXPECT_EQ(refused(service_.new_order(a, {{"identifiers", identifiers({"www.example.test"})}, {"replaces", 1}})).type,
            "malformed");
  EXPECT_TRUE(service_.order_ids(other).ids.empty());

  // The owner's replacement: the order says what it replaces, and once valid the certificate counts as replaced.
  const auto renewed = issued_for(a, {"www.example.test"}, {{"replaces", id}});
  const auto order = ledger_->acme().order_for_certificate(renewed.record.serial);
  EXPECT_EQ(order->replaces, id);
  EXPECT_TRUE(ledger_->acme().replaced(id, signer::unix_seconds(clock_.now())));
  auto again = refused(service_.new_order(a, {{"identifiers", identifiers({"www.example.test"})}, {"replaces", id}}));
  EXPECT_EQ(again.type, "alreadyReplaced");
  EXPECT_EQ(again.status, 409u);
  EXPECT_EQ(service_.order_ids(a).ids.size(), 2u);

  // A pending replacement counts as well (RFC 9773 5: an order that is not invalid), until it expires.
  const auto second = issued_for(a, {"mail.example.test"});
  const std::string second_id = cert_id(second);
  ok(service_.new_order(a, {{"identifiers", identifiers({"mail.example.test"})}, {"replaces", second_id}}));
  EXPECT_EQ(refused(service_.new_order(a, {{"identifiers", identifiers({"mail.example.test"})}, {"replaces", second_id}})).type,
            "alreadyReplaced");
  clock_.advance(std::chrono::hours(25));
  ok(service_.new_order(a, {{"identifiers", identifiers({"mail.example.test"})}, {"replaces", second_id}}));
  EXPECT_EQ(refused(service_.new_order(a, {{"identifiers", identifiers({"mail.example.test"})}, {"replaces", ""}})).type,
            "malformed");
}

// RFC 8555 7.1.4: a reused authorization proves control of the name only
// until it expires. An order standing on one expires with it; finalize after
// that issues nothing, though the order's own lifetime has not run out.
TEST_F(AcmeServiceTest, AnOrderOnAReusedAuthorizationExpiresWithItAndIssuesNothingAfter) {
  const auto a = account();
  const auto first = order_for(a, {"www.example.test"});
  pass_challenges(first);
  const auto authz = ledger_->acme().authorization(first.authorization_ids.front());
  ASSERT_TRUE(authz);
  clock_.advance(std::chrono::hours(22));
  const auto second = order_for(a, {"www.example.test"});
  EXPECT_EQ(second.status, signer::AcmeOrderStatus::ready);
  EXPECT_EQ(second.authorization_ids, first.authorization_ids) << "the valid authorization was not reused";
  EXPECT_LE(second.expires, authz->expires);
  // Within its last hour an authorization is no longer reused: the order would have no time to finalize.
  clock_.advance(std::chrono::minutes(90));
  const auto third = order_for(a, {"www.example.test"});
  EXPECT_EQ(third.status, signer::AcmeOrderStatus::pending);
  EXPECT_NE(third.authorization_ids, first.authorization_ids);
  clock_.advance(std::chrono::hours(1));
  const auto before = certificates();
  auto p = refused(service_.finalize(a, second.id, {{"csr", csr_for({"www.example.test"})}}));
  EXPECT_EQ(p.type, "orderNotReady");
  EXPECT_EQ(p.status, 403u);
  EXPECT_EQ(certificates(), before);
}

// The token away at finalize: nothing was signed, so the order is ready again
// and the client's retry (503, Retry-After) issues once the token is back.
TEST_F(AcmeServiceTest, AFinalizeWhileTheTokenIsAwayLeavesTheOrderReadyForTheRetry) {
  const auto a = account();
  auto o = order_for(a, {"www.example.test"});
  pass_challenges(o);
  signing_.away = true;
  EXPECT_THROW(service_.finalize(a, o.id, {{"csr", csr_for({"www.example.test"})}}), signer::TokenUnavailable);
  EXPECT_EQ(ok(service_.order(a, o.id)).status, AcmeOrderStatus::ready);
  EXPECT_EQ(certificates(), 0u) << "recorded a certificate for a signature that never happened";
  signing_.away = false;
  // The token fails the signature itself: the ledger keeps a failed row, the order is ready again.
  signing_.fails_signing = true;
  EXPECT_THROW(service_.finalize(a, o.id, {{"csr", csr_for({"www.example.test"})}}), signer::TokenUnavailable);
  EXPECT_EQ(ok(service_.order(a, o.id)).status, AcmeOrderStatus::ready);
  const auto rows = ledger_->list("");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows.front().status, signer::CertificateStatus::failed);
  signing_.fails_signing = false;
  auto done = ok(service_.finalize(a, o.id, {{"csr", csr_for({"www.example.test"})}}));
  EXPECT_EQ(done.status, AcmeOrderStatus::valid);
  EXPECT_EQ(ledger_->find(ca_.issuer_id(), done.certificate_serial)->status, signer::CertificateStatus::issued);
}

TEST_F(AcmeServiceTest, RefusesFinalizeBeforeTheOrderIsReadyAndIssuesNothing) {
  const auto a = account();
  auto o = order_for(a, {"www.example.test"});
  auto p = refused(service_.finalize(a, o.id, {{"csr", csr_for({"www.example.test"})}}));
  EXPECT_EQ(p.type, "orderNotReady");
  EXPECT_EQ(p.status, 403u);
  EXPECT_EQ(certificates(), 0u);
  EXPECT_EQ(ok(service_.order(a, o.id)).status, AcmeOrderStatus::pending);
}

TEST_F(AcmeServiceTest, RefusesACsrWithAnExtraNameAndKeepsTheOrderReady) {
  const auto a = account();
  auto o = order_for(a, {"www.example.test"});
  pass_challenges(o);
  // mail.example.test is within the name policy, but not validated for this order.
  auto p = refused(service_.finalize(a, o.id, {{"csr", csr_for({"www.example.test", "mail.example.test"})}}));
  EXPECT_EQ(p.type, "badCSR");
  EXPECT_NE(p.detail.find("DNS:mail.example.test"), std::string::npos) << p.detail;
  EXPECT_EQ(certificates(), 0u);
  EXPECT_EQ(ok(service_.order(a, o.id)).status, AcmeOrderStatus::ready);
  // A CSR missing a name is refused as well.
  auto two = order_for(a, {"a.example.test", "b.example.test"});
  pass_challenges(two);
  EXPECT_EQ(refused(service_.finalize(a, two.id, {{"csr", csr_for({"a.example.test"})}})).type, "badCSR");
  EXPECT_EQ(certificates(), 0u);
}

// The challenges proved control of names, nothing else: of a CSR's subject
// the certificate keeps the commonName alone (cert-manager and enterprise CSR
// templates send organisation, unit and country); an e-mail address in the
// subject is a name the order lacks, and refused.
TEST_F(AcmeServiceTest, KeepsOnlyTheCommonNameOfACsrSubject) {
  const auto a = account();
  const auto subject_of = [&](const signer::LedgerEntry& e) {
    return signer::IssuedCertificate::from_der(e.der).subject();
  };
  const auto claimed = issued_for(a, {"www.example.test"},
                                  json::object(), {{"O", "Example Bank"}, {"OU", "Payments"}, {"CN", "www.example.test"}});
  EXPECT_EQ(subject_of(claimed), "CN=www.example.test");
  const auto serial_only = issued_for(a, {"mail.example.test"}, json::object(), {{"serialNumber", "1234"}});
  EXPECT_EQ(subject_of(serial_only), "");

  auto o = order_for(a, {"api.example.test"});
  pass_challenges(o);
  const auto before = certificates();
  auto p = refused(service_.finalize(
      a, o.id, {{"csr", csr_for({"api.example.test"}, {{"CN", "api.example.test"}, {"emailAddress", "ceo@example.test"}})}}));
  EXPECT_EQ(p.type, "badCSR");
  EXPECT_EQ(certificates(), before);
  EXPECT_EQ(ok(service_.order(a, o.id)).status, AcmeOrderStatus::ready);
}

// A finalize refusal says a name is outside the profile, never which names are inside it.
TEST_F(AcmeServiceTest, AFinalizeRefusalDoesNotListTheProfilesAllowedNames) {
  const auto a = account();
  auto o = order_for(a, {"www.example.test"});
  pass_challenges(o);
  auto p = refused(service_.finalize(a, o.id, {{"csr", csr_for({"www.example.test", "x.invalid"})}}));
  EXPECT_EQ(p.type, "badCSR");
  EXPECT_NE(p.detail.find("x.invalid"), std::string::npos) << p.detail;
  EXPECT_EQ(p.detail.find("allowed"), std::string::npos) << p.detail;
  EXPECT_EQ(p.detail.find("example.test"), std::string::npos) << "names the profile's allowed suffix: " << p.detail;
  EXPECT_EQ(certificates(), 0u);
}

TEST_F(AcmeServiceTest, RefusesAnotherAccountsOrderAuthorizationChallengeAndCertificate) {
  const auto owner = account();
  const auto other = account();
  auto o = order_for(owner, {"www.example.test"});
  pass_challenges(o);
  const auto& authz_id = o.authorization_ids.front();
  const auto challenge_id = ledger_->acme().authorization(authz_id)->challenges.front().id;

  EXPECT_EQ(refused(service_.order(other, o.id)).type, "unauthorized");
  EXPECT_EQ(refused(service_.authorization(other, authz_id)).type, "unauthorized");
  EXPECT_EQ(refused(service_.respond_to_challenge(other, challenge_id)).type, "unauthorized");
  EXPECT_EQ(refused(service_.finalize(other, o.id, {{"csr", csr_for({"www.example.test"})}})).type, "unauthorized");
  EXPECT_EQ(certificates(), 0u);

  auto done = ok(service_.finalize(owner, o.id, {{"csr", csr_for({"www.example.test"})}}));
  EXPECT_EQ(refused(service_.certificate_chain(other, done.certificate_serial)).type, "unauthorized");
}

TEST_F(AcmeServiceTest, RefusesRevocationByAnotherAccountAndLeavesTheCertificateIssued) {
  const auto owner = account();
  auto o = order_for(owner, {"www.example.test"});
  pass_challenges(o);
  auto done = ok(service_.finalize(owner, o.id, {{"csr", csr_for({"www.example.test"})}}));
  auto entry = ledger_->find(ca_.issuer_id(), done.certificate_serial);
  const json payload = {{"certificate", base64url_encode(std::span<const unsigned char>(entry->der))}};

  auto thief_key = test::JwsTestKey::generate(KeyType::ec_p256);
  const auto thief = ok(service_.new_account(thief_key.jwk(), json::object(), kNewAccountUrl, kClient)).account;
  // By kid: the thief's own account did not order it.
  auto p = refused(service_.revoke(thief, thief_key.jwk(), payload));
  EXPECT_EQ(p.type, "unauthorized");
  // By jwk: the thief's key is not the certificate's.
  EXPECT_EQ(refused(service_.revoke(std::nullopt, thief_key.jwk(), payload)).type, "unauthorized");
  EXPECT_EQ(ledger_->find(ca_.issuer_id(), done.certificate_serial)->status, signer::CertificateStatus::issued);

  // The ordering account may, for a subscriber's reason: not cACompromise (2) or privilegeWithdrawn (9).
  auto owner_key = service_.account_key(owner.id);
  ASSERT_TRUE(owner_key);
  for (int code : {2, 9}) {
    json with_reason = payload;
    with_reason["reason"] = code;
    EXPECT_EQ(refused(service_.revoke(owner, *owner_key, with_reason)).type, "badRevocationReason") << code;
  }
  EXPECT_EQ(ledger_->find(ca_.issuer_id(), done.certificate_serial)->status, signer::CertificateStatus::issued);
  ok(service_.revoke(owner, *owner_key, payload));
  EXPECT_EQ(ledger_->find(ca_.issuer_id(), done.certificate_serial)->status, signer::CertificateStatus::revoked);
  EXPECT_EQ(refused(service_.revoke(owner, *owner_key, payload)).type, "alreadyRevoked");
}

TEST_F(AcmeServiceTest, FailedValidationMakesTheOrderInvalidAndIssuesNothing) {
  const auto a = account();
  auto o = order_for(a, {"www.example.test"});
  const auto authz = ledger_->acme().authorization(o.authorization_ids.front());
  ok(service_.respond_to_challenge(a, authz->challenges.front().id));
  service_.drain(std::chrono::seconds(10));  // the resolver at 127.0.0.1:1 never answers
  auto c = ledger_->acme().challenge(authz->challenges.front().id);
  EXPECT_EQ(c->status, signer::AcmeChallengeStatus::invalid);
  EXPECT_NE(c->error.find("urn:ietf:params:acme:error:"), std::string::npos) << c->error;
  auto now = ok(service_.order(a, o.id));
  EXPECT_EQ(now.status, AcmeOrderStatus::invalid);
  EXPECT_EQ(refused(service_.finalize(a, o.id, {{"csr", csr_for({"www.example.test"})}})).type, "orderNotReady");
  EXPECT_EQ(certificates(), 0u);
}

TEST_F(AcmeServiceTest, KeepsEveryStateChangeInTheLedgerFileAndPrunesExpiredOrders) {
  const auto a = account();
  auto o = order_for(a, {"www.example.test"});
  pass_challenges(o);
  auto done = ok(service_.finalize(a, o.id, {{"csr", csr_for({"www.example.test"})}}));
  // Another opening of the same file (another process would see the same): the order, its account and the
  // authorization as they were left.
  auto other = signer::open_sqlite_ledger(dir_ / "ledger.db");
  auto stored = other->acme().order(o.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->status, AcmeOrderStatus::valid);
  EXPECT_EQ(stored->certificate_serial, done.certificate_serial);
  EXPECT_EQ(other->acme().account(a.id)->thumbprint, a.thumbprint);
  EXPECT_EQ(other->acme().authorization(o.authorization_ids.front())->status, signer::AcmeAuthzStatus::valid);

  // An order left pending past its lifetime is pruned when the next one is made; the valid one stays.
  auto stale = order_for(a, {"stale.example.test"});
  clock_.advance(std::chrono::hours(49));
  EXPECT_EQ(refused(service_.finalize(a, stale.id, {{"csr", csr_for({"stale.example.test"})}})).type, "orderNotReady");
  order_for(a, {"next.example.test"});
  EXPECT_FALSE(ledger_->acme().order(stale.id));
  EXPECT_FALSE(ledger_->acme().authorization(stale.authorization_ids.front()));
  EXPECT_TRUE(ledger_->acme().order(o.id));
}

class AcmeServiceEabTest : public AcmeServiceTest {
 protected:
  AcmeServiceEabTest() : AcmeServiceTest(config_with(true)) {}
};

TEST_F(AcmeServiceEabTest, RequiresAnExternalAccountBindingAndBindsEachKeyOnce) {
  auto key = test::JwsTestKey::generate(KeyType::ec_p256);
  EXPECT_EQ(refused(service_.new_account(key.jwk(), json::object(), kNewAccountUrl, kClient)).type, "externalAccountRequired");
  EXPECT_FALSE(ledger_->acme().account_by_thumbprint(jwk_thumbprint(key.jwk())));

  signer::Bytes hmac(32, 0x42);
  ledger_->acme().add_eab_key({"kid-1", "web-01", hmac, 1});
  auto eab = [&](const test::JwsTestKey& k, const signer::Bytes& mac) {
    return test::make_mac_jws({{"alg", "HS256"}, {"kid", "kid-1"}, {"url", kNewAccountUrl}}, k.public_jwk().dump(), mac);
  };
  // A wrong HMAC key: refused, no account.
  auto wrong = refused(service_.new_account(key.jwk(), {{"externalAccountBinding", eab(key, signer::Bytes(32, 0x41))}},
                                            kNewAccountUrl, kClient));
  EXPECT_EQ(wrong.type, "unauthorized");
  EXPECT_FALSE(ledger_->acme().account_by_thumbprint(jwk_thumbprint(key.jwk())));

  auto made = ok(service_.new_account(key.jwk(), {{"externalAccountBinding", eab(key, hmac)}}, kNewAccountUrl, kClient));
  EXPECT_TRUE(made.created);
  EXPECT_EQ(made.account.eab_kid, "kid-1");
  // The same EAB key for a second account key: refused.
  auto second = test::JwsTestKey::generate(KeyType::ec_p256);
  EXPECT_EQ(refused(service_.new_account(second.jwk(), {{"externalAccountBinding", eab(second, hmac)}}, kNewAccountUrl, kClient)).type,
            "unauthorized");
  // The first key asking again gets its account back, with no EAB needed.
  auto again = ok(service_.new_account(key.jwk(), json::object(), kNewAccountUrl, kClient));
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.account.id, made.account.id);

  // A revoked key binds nothing.
  ledger_->acme().add_eab_key({"kid-2", "web-02", hmac, 2});
  ASSERT_TRUE(ledger_->acme().revoke_eab_key("kid-2", 3));
  const auto revoked = test::make_mac_jws({{"alg", "HS256"}, {"kid", "kid-2"}, {"url", kNewAccountUrl}},
                                          second.public_jwk().dump(), hmac);
  EXPECT_EQ(refused(service_.new_account(second.jwk(), {{"externalAccountBinding", revoked}}, kNewAccountUrl, kClient)).type,
            "unauthorized");
  EXPECT_FALSE(ledger_->acme().account_by_thumbprint(jwk_thumbprint(second.jwk())));
}

// One validation running and one waiting, at most: the resolver never
// answers, so each holds its place for the 300 ms timeout.
class AcmeServiceValidationPoolTest : public AcmeServiceTest {
 protected:
  AcmeServiceValidationPoolTest() : AcmeServiceTest(small_pool()) {}
  static AcmeConfig small_pool() {
    auto c = config_with();
    c.validation_threads = 1;
    c.validation_queue = 1;
    return c;
  }
  std::string challenge_of(const AcmeOrder& o) {
    return ledger_->acme().authorization(o.authorization_ids.front())->challenges.front().id;
  }
};

TEST_F(AcmeServiceValidationPoolTest, AFullPoolLeavesTheChallengePendingAndAsksTheClientToComeBack) {
  const auto greedy = account();
  const auto first = order_for(greedy, {"a.example.test"});
  const auto second = order_for(greedy, {"b.example.test"});
  EXPECT_EQ(ok(service_.respond_to_challenge(greedy, challenge_of(first))).status,
            signer::AcmeChallengeStatus::processing);
  // The account's own share (half the places) is taken: 429, and its challenge is untouched.
  auto own = refused(service_.respond_to_challenge(greedy, challenge_of(second)));
  EXPECT_EQ(own.type, "rateLimited");
  EXPECT_EQ(own.status, 429u);
  EXPECT_GT(own.retry_after, 0);
  EXPECT_EQ(ledger_->acme().challenge(challenge_of(second))->status, signer::AcmeChallengeStatus::pending);

  // Another account still gets the other place; a third finds the pool full: 503, its challenge still pending.
  const auto other = account();
  const auto theirs = order_for(other, {"c.example.test"});
  EXPECT_EQ(ok(service_.respond_to_challenge(other, challenge_of(theirs))).status,
            signer::AcmeChallengeStatus::processing);
  const auto third = account();
  const auto late = order_for(third, {"d.example.test"});
  auto full = refused(service_.respond_to_challenge(third, challenge_of(late)));
  EXPECT_EQ(full.type, "rateLimited");
  EXPECT_EQ(full.status, 503u);
  EXPECT_EQ(ledger_->acme().challenge(challenge_of(late))->status, signer::AcmeChallengeStatus::pending);
  EXPECT_EQ(ok(service_.order(third, late.id)).status, AcmeOrderStatus::pending) << "not failed for others' load";
  EXPECT_EQ(service_.accounts_validating(), 2u) << "the refused account left a counter behind";

  // Once those end, the places are free again.
  EXPECT_TRUE(test::eventually([&] {
    return std::holds_alternative<signer::AcmeChallenge>(service_.respond_to_challenge(third, challenge_of(late)));
  }, std::chrono::seconds(10)));
  service_.drain(std::chrono::seconds(5));
  EXPECT_EQ(service_.accounts_validating(), 0u);
}

// Without EAB, each client address creates acme.new_accounts_per_hour
// accounts; a key that has one gets it back, which costs nothing.
class AcmeServiceOpenRegistrationTest : public AcmeServiceTest {
 protected:
  AcmeServiceOpenRegistrationTest() : AcmeServiceTest(two_accounts_an_hour()) {}
  static AcmeConfig two_accounts_an_hour() {
    auto c = config_with();
    c.new_accounts_per_hour = 2;
    return c;
  }
};

TEST_F(AcmeServiceOpenRegistrationTest, LimitsAccountsCreatedFromOneAddressAndRecordsNoneBeyond) {
  auto first = test::JwsTestKey::generate(KeyType::ec_p256);
  EXPECT_TRUE(ok(service_.new_account(first.jwk(), json::object(), kNewAccountUrl, kClient)).created);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(ok(service_.new_account(first.jwk(), json::object(), kNewAccountUrl, kClient)).created);
  }
  auto second = test::JwsTestKey::generate(KeyType::ec_p256);
  EXPECT_TRUE(ok(service_.new_account(second.jwk(), json::object(), kNewAccountUrl, kClient)).created);
  auto third = test::JwsTestKey::generate(KeyType::ec_p256);
  auto p = refused(service_.new_account(third.jwk(), json::object(), kNewAccountUrl, kClient));
  EXPECT_EQ(p.type, "rateLimited");
  EXPECT_EQ(p.status, 429u);
  EXPECT_GT(p.retry_after, 0);
  EXPECT_LE(p.retry_after, 1800);
  EXPECT_FALSE(ledger_->acme().account_by_thumbprint(jwk_thumbprint(third.jwk()))) << "a refused account was stored";
  // Another address has its own allowance; this one gets a place back as the hour goes by.
  EXPECT_TRUE(ok(service_.new_account(third.jwk(), json::object(), kNewAccountUrl, "198.51.100.7")).created);
  clock_.advance(std::chrono::minutes(31));
  auto fourth = test::JwsTestKey::generate(KeyType::ec_p256);
  EXPECT_TRUE(ok(service_.new_account(fourth.jwk(), json::object(), kNewAccountUrl, kClient)).created);
}

class AcmeServiceRateTest : public AcmeServiceTest {
 protected:
  AcmeServiceRateTest() : AcmeServiceTest(config_with(false, 2)) {}
};

TEST_F(AcmeServiceRateTest, LimitsOrdersPerAccountAndHourWithRetryAfter) {
  const auto a = account();
  order_for(a, {"a.example.test"});
  order_for(a, {"b.example.test"});
  auto p = refused(service_.new_order(a, {{"identifiers", json::array({{{"type", "dns"}, {"value", "c.example.test"}}})}}));
  EXPECT_EQ(p.type, "rateLimited");
  EXPECT_EQ(p.status, 429u);
  EXPECT_GT(p.retry_after, 0);
  EXPECT_LE(p.retry_after, 3600);
  EXPECT_EQ(service_.order_ids(a).ids.size(), 2u);
  // Another account has its own allowance; an hour later the first has again.
  order_for(account(), {"c.example.test"});
  clock_.advance(std::chrono::minutes(61));
  order_for(a, {"c.example.test"});
}

// RFC 8555 7.1.2.1: the orders list comes a page at a time, oldest first,
// without invalid orders.
TEST_F(AcmeServiceTest, ListsAnAccountsOrdersAPageAtATimeWithoutInvalidOnes) {
  const auto a = account();
  std::vector<std::string> made;
  for (std::size_t i = 0; i <= AcmeService::kOrdersPerPage; ++i) {
    made.push_back(order_for(a, {"n" + std::to_string(i) + ".example.test"}).id);
  }
  const auto first = service_.order_ids(a, 0);
  EXPECT_TRUE(first.more);
  EXPECT_EQ(first.ids, std::vector<std::string>(made.begin(), made.begin() + AcmeService::kOrdersPerPage));
  const auto second = service_.order_ids(a, 1);
  EXPECT_FALSE(second.more);
  EXPECT_EQ(second.ids, std::vector<std::string>{made.back()});
  EXPECT_TRUE(service_.order_ids(a, 2).ids.empty());
  EXPECT_TRUE(service_.order_ids(account(), 0).ids.empty()) << "another account sees none of them";
}

TEST_F(AcmeServiceTest, LeavesFailedAndExpiredOrdersOutOfTheList) {
  const auto a = account();
  const auto failed = order_for(a, {"failed.example.test"});
  const auto challenge = ledger_->acme().authorization(failed.authorization_ids.front())->challenges.front().id;
  ASSERT_TRUE(ledger_->acme().start_challenge(challenge, signer::unix_seconds(clock_.now())));
  ASSERT_TRUE(ledger_->acme().finish_challenge(challenge, false, "{}", signer::unix_seconds(clock_.now())).applied);
  ASSERT_EQ(ok(service_.order(a, failed.id)).status, AcmeOrderStatus::invalid);
  const auto issued = issued_for(a, {"www.example.test"});
  const auto pending = order_for(a, {"later.example.test"});
  EXPECT_EQ(service_.order_ids(a).ids, (std::vector<std::string>{ledger_->acme().order_for_certificate(
                                                                      issued.record.serial)->id,
                                                                  pending.id}));
  // A day on, the pending order expired unfinished; the valid one stays.
  clock_.advance(std::chrono::hours(25));
  EXPECT_EQ(service_.order_ids(a).ids.size(), 1u);
  EXPECT_NE(service_.order_ids(a).ids.front(), pending.id);
}

// Concurrent newOrders of one account: the limit holds however they interleave.
TEST_F(AcmeServiceRateTest, HoldsTheOrderLimitAgainstConcurrentNewOrders) {
  const auto a = account();
  constexpr int kThreads = 8;
  std::atomic<int> created{0};
  std::atomic<int> limited{0};
  test::run_together(kThreads, [&](int i) {
    auto r = service_.new_order(a, {{"identifiers", identifiers({"n" + std::to_string(i) + ".example.test"})}});
    if (std::holds_alternative<AcmeOrder>(r)) {
      ++created;
    } else if (const auto& p = std::get<Problem>(r); p.type == "rateLimited" && p.status == 429 && p.retry_after > 0) {
      ++limited;
    }
  });
  EXPECT_EQ(created.load(), 2);
  EXPECT_EQ(limited.load(), kThreads - 2);
  EXPECT_EQ(service_.order_ids(a).ids.size(), 2u);
}

// Concurrent orders replacing one certificate: one takes it, the others are told alreadyReplaced.
TEST_F(AcmeServiceTest, ReplacesACertificateOnceAgainstConcurrentNewOrders) {
  const auto a = account();
  const auto id = cert_id(issued_for(a, {"www.example.test"}));
  const auto before = service_.order_ids(a).ids.size();
  constexpr int kThreads = 8;
  std::atomic<int> created{0};
  std::atomic<int> already{0};
  test::run_together(kThreads, [&](int) {
    auto r = service_.new_order(a, {{"identifiers", identifiers({"www.example.test"})}, {"replaces", id}});
    if (std::holds_alternative<AcmeOrder>(r)) {
      ++created;
    } else if (const auto& p = std::get<Problem>(r); p.type == "alreadyReplaced" && p.status == 409) {
      ++already;
    }
  });
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(already.load(), kThreads - 1);
  EXPECT_EQ(service_.order_ids(a).ids.size(), before + 1);
}

}  // namespace
}  // namespace hsmca::appliance::acme
