#pragma once
// What every handler may use, handed to it explicitly: the CA file and the
// appliance block, the issuing CA (token, ledger), the metrics, the worker
// pool, the revocation watcher and the clock.
#include <functional>

#include "exchange.hpp"
#include "hsmca/appliance/config.hpp"
#include "hsmca/appliance/metrics.hpp"
#include "hsmca/appliance/revocation_watcher.hpp"
#include "hsmca/appliance/work_pool.hpp"
#include "hsmca/signer/ca_config.hpp"
#include "hsmca/signer/certificate_authority.hpp"
#include "hsmca/signer/clock.hpp"

namespace hsmca::appliance {

struct ServiceState {
  const signer::CaConfig& ca_config;
  const ApplianceConfig& config;
  signer::IssuingCa& issuing;
  const Authorizer& authorizer;
  Metrics& metrics;
  WorkPool& pool;
  RevocationWatcher& revocations;
  const signer::Clock& clock;

  // Runs `job` on a worker; what it throws answers the exchange
  // (Exchange::fail), so a job throws only before it has answered. false,
  // after answering 503, when the queue is full.
  bool submit(const ExchangePtr& ex, std::function<void()> job) const { return submit_to(pool, ex, std::move(job)); }

  // The same on any pool.
  static bool submit_to(WorkPool& pool, const ExchangePtr& ex, std::function<void()> job);
};

}  // namespace hsmca::appliance
