#pragma once
// /healthz costs a token signature and a durable ledger write: a flood of
// health checks is answered from a result at most `max_age` old.
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "hsmca/signer/clock.hpp"

namespace hsmca::appliance {

struct HealthReport {
  bool ok = false;
  std::string body;  // JSON: {"status", "token", "ledger"}
};

class HealthCache {
 public:
  using Probe = std::function<HealthReport()>;
  HealthCache(Probe probe, const signer::Clock& clock, std::chrono::milliseconds max_age = std::chrono::seconds(1));

  // The last report while it is younger than max_age.
  std::optional<HealthReport> recent() const;
  // Probes now (on a worker: it may block on the token) and keeps the report.
  // One probe at a time: callers that arrive while one runs wait for it and
  // share its report, so a burst of /healthz costs the token one signature.
  HealthReport check();

 private:
  Probe probe_;
  const signer::Clock& clock_;
  std::chrono::milliseconds max_age_;
  std::mutex probing_;  // held for the length of a probe
  mutable std::mutex mutex_;
  std::optional<std::chrono::steady_clock::time_point> checked_;  // guarded by mutex_
  HealthReport last_;                                             // guarded by mutex_
};

}  // namespace hsmca::appliance
