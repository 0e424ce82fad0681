#pragma once
// GET /healthz: 200 while the issuing key signs and the ledger takes a
// durable write, else 503 naming what failed; a result is reused for a second.
#include "hsmca/appliance/health_cache.hpp"
#include "service_state.hpp"

namespace hsmca::appliance {

class HealthHandler {
 public:
  explicit HealthHandler(const ServiceState& state);
  void check(const ExchangePtr& ex);

 private:
  const ServiceState& state_;
  HealthCache cache_;
};

}  // namespace hsmca::appliance
