#include "health_handler.hpp"

#include <nlohmann/json.hpp>

namespace hsmca::appliance {
namespace {

// A probe signature and a durable write; what failed is named in the body.
// A callback the cache calls: failures are its answer, not exceptions.
HealthReport probe(signer::IssuingCa& issuing) {
  nlohmann::json body;
  bool ok = true;
  try {
    static const unsigned char kProbe[] = "hsmca health probe";
    issuing.key().sign(kProbe);
    body["token"] = "ok";
  } catch (const std::exception& e) {
    ok = false;
    body["token"] = e.what();
  }
  try {
    body["ledger"] = issuing.ledger().probe() ? "ok" : "not writable";
    ok = ok && body["ledger"] == "ok";
  } catch (const std::exception& e) {
    ok = false;
    body["ledger"] = e.what();
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
