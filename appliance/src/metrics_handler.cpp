#include "metrics_handler.hpp"

namespace hsmca::appliance {

void MetricsHandler::render(const ExchangePtr& ex) const {
  ex->finish(200, state_.metrics.render(state_.issuing.pool().stats()), "text/plain; version=0.0.4");
}

}  // namespace hsmca::appliance
