#include "health_handler.hpp"

#include <nlohmann/json.hpp>

#include "log.hpp"

namespace hsmca::appliance {
namespace {

// A probe signature and a durable write; which failed is named in the body,
// why only in the log (anyone may ask: the PKCS#11 call, its CKR code and the
// ledger's path are the operator's). A callback the cache calls, at most once
// a second: failures are its answer, not exceptions.
HealthReport probe(signer::IssuingCa& issuing) {
  nlohmann::json body;
  bool ok = true;
  try {
    static const unsigned char kProbe[] = "hsmca health probe";
    issuing.key().sign(kProbe);
    body["token"] = "ok";
  } catch (const std::exception& e) {
    ok = false;
    body["token"] = "unavailable";
    log_line({{"event", "health_probe_failed"}, {"part", "token"}, {"problem", e.what()}});
  }
  try {
    body["ledger"] = issuing.ledger().probe() ? "ok" : "not writable";
    ok = ok && body["ledger"] == "ok";
  } catch (const std::exception& e) {
    ok = false;
    body["ledger"] = "unavailable";
    log_line({{"event", "health_probe_failed"}, {"part", "ledger"}, {"problem", e.what()}});
  }
  body["status"] = ok ? "ok" : "unavailable";
  return {ok, body.dump()};
}

}  // namespace

HealthHandler::HealthHandler(const ServiceState& state)
    : state_(state), cache_([&issuing = state.issuing] { return probe(issuing); }, state.clock) {}

void HealthHandler::check(const ExchangePtr& ex) {
  if (auto recent = cache_.recent()) return ex->finish(recent->ok ? 200 : 503, recent->body, "application/json");
  state_.submit(ex, [this, ex] {
    const auto report = cache_.check();
    ex->finish(report.ok ? 200 : 503, report.body, "application/json");
  });
}

}  // namespace hsmca::appliance
