#pragma once
// GET /metrics on the plain listener: Prometheus text exposition.
#include "service_state.hpp"

namespace hsmca::appliance {

class MetricsHandler {
 public:
  explicit MetricsHandler(const ServiceState& state) : state_(state) {}
  void render(const ExchangePtr& ex) const;

 private:
  const ServiceState& state_;
};

}  // namespace hsmca::appliance
