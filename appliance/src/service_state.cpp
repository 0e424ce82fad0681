#include "service_state.hpp"

namespace hsmca::appliance {

bool ServiceState::submit_to(WorkPool& pool, const ExchangePtr& ex, std::function<void()> job) {
  auto run = [ex, job = std::move(job)] {
    try {
      job();
    } catch (const std::exception& e) {
      ex->fail(e);
    }
  };
  if (pool.try_submit(std::move(run))) return true;
  ex->fail(Busy());
  return false;
}

}  // namespace hsmca::appliance
