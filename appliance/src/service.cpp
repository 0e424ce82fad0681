#include "service.hpp"

#include "log.hpp"

namespace hsmca::appliance {
namespace {

// How often the revocation watcher reads the ledger's revocation version: a
// revocation by another process shows in every answer within this.
constexpr std::chrono::milliseconds kRevocationWatchInterval{250};

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
      metrics_handler_(state_) {
  using http::verb;
  using L = Listeners;
  auto& r = router_;
  // Public, on both listeners.
  r.add(verb::get, "/healthz", L::both, [this](auto& ex, auto&) { health_.check(ex); });
  r.add(verb::get, "/ca/chain.pem", L::both, [this](auto& ex, auto&) { ca_.chain_pem(ex); });
  r.add(verb::get, "/ca/issuer.crt", L::both, [this](auto& ex, auto&) { ca_.issuer_der(ex); });
  r.add(verb::get, "/crl", L::both, [this](auto& ex, auto&) { crl_.issuer_crl(ex); });
  r.add(verb::get, "/root.crl", L::both, [this](auto& ex, auto&) { crl_.root_crl(ex); });
  r.add(verb::post, "/ocsp", L::both, [this](auto& ex, auto&) { ocsp_.post(ex); });
  r.add(verb::post, "/ocsp/", L::both, [this](auto& ex, auto&) { ocsp_.post(ex); });
  r.add(verb::get, "/ocsp/{request...}", L::both, [this](auto& ex, auto& p) { ocsp_.get(ex, p[0]); });
  r.add(verb::get, "/metrics", L::plain, [this](auto& ex, auto&) { metrics_handler_.render(ex); });
  // EST (RFC 7030 3.2.2: the optional label names the profile), HTTPS only.
  r.add(verb::get, "/.well-known/est/cacerts", L::https, [this](auto& ex, auto&) { est_.cacerts(ex); });
  r.add(verb::get, "/.well-known/est/{label}/cacerts", L::https, [this](auto& ex, auto&) { est_.cacerts(ex); });
  r.add(verb::post, "/.well-known/est/simpleenroll", L::https, [this](auto& ex, auto&) { est_.enroll(ex, "", false); });
  r.add(verb::post, "/.well-known/est/{label}/simpleenroll", L::https,
        [this](auto& ex, auto& p) { est_.enroll(ex, p[0], false); });
  r.add(verb::post, "/.well-known/est/simplereenroll", L::https, [this](auto& ex, auto&) { est_.enroll(ex, "", true); });
  r.add(verb::post, "/.well-known/est/{label}/simplereenroll", L::https,
        [this](auto& ex, auto& p) { est_.enroll(ex, p[0], true); });
  // The JSON API, HTTPS only.
  r.add(verb::post, "/api/v1/certificates", L::https, [this](auto& ex, auto&) { api_.issue(ex); });
  r.add(verb::get, "/api/v1/certificates/{serial}", L::https, [this](auto& ex, auto& p) { api_.show(ex, p[0]); });
  r.add(verb::post, "/api/v1/certificates/{serial}/revoke", L::https,
        [this](auto& ex, auto& p) { api_.revoke(ex, p[0]); });
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

}  // namespace hsmca::appliance
