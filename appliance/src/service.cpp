#include "service.hpp"

#include "log.hpp"

namespace hsmca::appliance {
namespace {

// How often the revocation watcher reads the ledger's revocation version: a
// revocation by another process shows in every answer within this.
constexpr std::chrono::milliseconds kRevocationWatchInterval{250};
// Password checks at once, and waiting: two cores' worth of bcrypt; beyond
// the queue, 503 (the signing pool never waits for a hash).
constexpr std::size_t kPasswordThreads = 2;
constexpr std::size_t kPasswordQueue = 64;

}  // namespace

Service::Service(const signer::CaConfig& ca_config, const ApplianceConfig& config, signer::IssuingCa& issuing,
                 const Authorizer& authorizer, Metrics& metrics, WorkPool& pool, const signer::Clock& clock)
    : metrics_(metrics),
      revocations_([&issuing] { return issuing.ledger().revocation_version(issuing.ca().issuer_id()); },
                   kRevocationWatchInterval,
                   [](const std::exception& e) {
                     log_line({{"event", "revocation_watch_failed"}, {"problem", e.what()}});
                   }),
      state_{ca_config, config, issuing, authorizer, metrics, pool, revocations_, clock},
      credentials_(config, authorizer, issuing.ca(), revocations_, clock),
      ca_(state_),
      crl_(state_),
      ocsp_(state_),
      est_(state_),
      api_(state_),
      health_(state_),
      metrics_handler_(state_),
      password_checks_(kPasswordThreads, kPasswordQueue) {
  using http::verb;
  using L = Listeners;
  using A = Access;
  auto& r = router_;
  r.set_gate([this](const ExchangePtr& ex, std::function<void()> proceed) { check_password(ex, std::move(proceed)); });
  // Public, on both listeners.
  r.add(verb::get, "/healthz", L::both, A::open, [this](auto& ex, auto&) { health_.check(ex); });
  r.add(verb::get, "/ca/chain.pem", L::both, A::open, [this](auto& ex, auto&) { ca_.chain_pem(ex); });
  r.add(verb::get, "/ca/issuer.crt", L::both, A::open, [this](auto& ex, auto&) { ca_.issuer_der(ex); });
  r.add(verb::get, "/crl", L::both, A::open, [this](auto& ex, auto&) { crl_.issuer_crl(ex); });
  r.add(verb::get, "/root.crl", L::both, A::open, [this](auto& ex, auto&) { crl_.root_crl(ex); });
  r.add(verb::post, "/ocsp", L::both, A::open, [this](auto& ex, auto&) { ocsp_.post(ex); });
  r.add(verb::post, "/ocsp/", L::both, A::open, [this](auto& ex, auto&) { ocsp_.post(ex); });
  r.add(verb::get, "/ocsp/{request...}", L::both, A::open, [this](auto& ex, auto& p) { ocsp_.get(ex, p[0]); });
  r.add(verb::get, "/metrics", L::plain, A::open, [this](auto& ex, auto&) { metrics_handler_.render(ex); });
  // EST (RFC 7030 3.2.2: the optional label names the profile), HTTPS only.
  r.add(verb::get, "/.well-known/est/cacerts", L::https, A::open, [this](auto& ex, auto&) { est_.cacerts(ex); });
  r.add(verb::get, "/.well-known/est/{label}/cacerts", L::https, A::open, [this](auto& ex, auto&) { est_.cacerts(ex); });
  r.add(verb::get, "/.well-known/est/csrattrs", L::https, A::open, [this](auto& ex, auto&) { est_.csrattrs(ex, ""); });
  r.add(verb::get, "/.well-known/est/{label}/csrattrs", L::https, A::open, [this](auto& ex, auto& p) { est_.csrattrs(ex, p[0]); });
  r.add(verb::post, "/.well-known/est/simpleenroll", L::https, A::caller, [this](auto& ex, auto&) { est_.enroll(ex, "", false); });
  r.add(verb::post, "/.well-known/est/{label}/simpleenroll", L::https, A::caller,
        [this](auto& ex, auto& p) { est_.enroll(ex, p[0], false); });
  r.add(verb::post, "/.well-known/est/simplereenroll", L::https, A::caller, [this](auto& ex, auto&) { est_.enroll(ex, "", true); });
  r.add(verb::post, "/.well-known/est/{label}/simplereenroll", L::https, A::caller,
        [this](auto& ex, auto& p) { est_.enroll(ex, p[0], true); });
  // The JSON API, HTTPS only.
  r.add(verb::post, "/api/v1/certificates", L::https, A::caller, [this](auto& ex, auto&) { api_.issue(ex); });
  r.add(verb::get, "/api/v1/certificates/{serial}", L::https, A::caller, [this](auto& ex, auto& p) { api_.show(ex, p[0]); });
  r.add(verb::post, "/api/v1/certificates/{serial}/revoke", L::https, A::caller,
        [this](auto& ex, auto& p) { api_.revoke(ex, p[0]); });
  // ACME (RFC 8555), HTTPS only; open: a JWS authenticates each request, not the appliance's credentials.
  if (config.acme) {
    acme_ = std::make_unique<AcmeHandler>(state_);
    using R = AcmeHandler::Resource;
    auto post = [this](R resource) {
      return [this, resource](auto& ex, auto& p) { acme_->post(ex, resource, p.empty() ? std::string() : p[0]); };
    };
    r.add(verb::get, "/acme/directory", L::https, A::open, [this](auto& ex, auto&) { acme_->directory(ex); });
    r.add(verb::head, "/acme/new-nonce", L::https, A::open, [this](auto& ex, auto&) { acme_->new_nonce(ex); });
    r.add(verb::get, "/acme/new-nonce", L::https, A::open, [this](auto& ex, auto&) { acme_->new_nonce(ex); });
    r.add(verb::post, "/acme/new-account", L::https, A::open, post(R::new_account));
    r.add(verb::post, "/acme/account/{id}", L::https, A::open, post(R::account));
    r.add(verb::post, "/acme/account/{id}/orders", L::https, A::open, post(R::account_orders));
    r.add(verb::post, "/acme/key-change", L::https, A::open, post(R::key_change));
    r.add(verb::post, "/acme/new-order", L::https, A::open, post(R::new_order));
    r.add(verb::post, "/acme/order/{id}", L::https, A::open, post(R::order));
    r.add(verb::post, "/acme/order/{id}/finalize", L::https, A::open, post(R::finalize));
    r.add(verb::post, "/acme/authz/{id}", L::https, A::open, post(R::authz));
    r.add(verb::post, "/acme/challenge/{id}", L::https, A::open, post(R::challenge));
    r.add(verb::post, "/acme/cert/{id}", L::https, A::open, post(R::certificate));
    r.add(verb::post, "/acme/revoke-cert", L::https, A::open, post(R::revoke));
    r.add(verb::get, "/acme/renewal-info/{id}", L::https, A::open,
          [this](auto& ex, auto& p) { acme_->renewal_info(ex, p[0]); });
    r.add_fallback("/acme/", L::https, [this](auto& ex, unsigned status, const std::string& allow) {
      acme_->unrouted(ex, status, allow);
    });
  }
}

void Service::handle(RequestContext ctx, std::function<void(Response)> done) {
  metrics_.request_started();
  auto ex = std::make_shared<Exchange>(std::move(ctx), metrics_, credentials_, std::move(done));
  // The router's one catch: what a handler throws before it answered.
  try {
    ex->identity = credentials_.identify(ex->ctx);
    router_.dispatch(ex);
  } catch (const std::exception& e) {
    ex->fail(e);
  }
}

// RFC 7030 3.2.3 bootstrap: a password, on routes that rely on the caller
// only, checked on a pool of its own (a slow hash by design: it must not hold
// up signing, revocation or OCSP) and only within the address's allowance.
void Service::check_password(const ExchangePtr& ex, std::function<void()> proceed) {
  auto password = Credentials::basic(ex->ctx);
  // No password, or one that does not decode to user:password: the handler
  // answers as for no credential, and nothing is spent.
  if (!password || password->user.empty() || !credentials_.takes_passwords()) return proceed();
  // A trusted client certificate is the stronger credential (RFC 7030 clients
  // may send both): a stale password beside it neither replaces it nor
  // spends the address's allowance.
  if (ex->identity.kind == Identity::Kind::client_certificate) return proceed();
  if (const auto wait = credentials_.begin_password(ex->ctx); wait > 0) {
    return ex->error(429, "too_many_failures",
                     "too many wrong passwords from this address; retry in " + std::to_string(wait) + " s", wait);
  }
  auto shared = std::make_shared<Credentials::Password>(std::move(*password));
  auto job = [this, ex, shared, proceed = std::move(proceed)] {
    ex->identity = credentials_.check_password(ex->ctx, *shared);
    proceed();
  };
  if (!ServiceState::submit_to(password_checks_, ex, std::move(job))) credentials_.abandon_password(ex->ctx);
}

}  // namespace hsmca::appliance
