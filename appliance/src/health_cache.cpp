#include "hsmca/appliance/health_cache.hpp"

namespace hsmca::appliance {

HealthCache::HealthCache(Probe probe, const signer::Clock& clock, std::chrono::milliseconds max_age)
    : probe_(std::move(probe)), clock_(clock), max_age_(max_age) {}

std::optional<HealthReport> HealthCache::recent() const {
  std::lock_guard lock(mutex_);
  if (!checked_ || clock_.steady() - *checked_ >= max_age_) return std::nullopt;
  return last_;
}

HealthReport HealthCache::check() {
  std::lock_guard one_at_a_time(probing_);
  if (auto fresh = recent()) return *fresh;  // made while this caller waited
  HealthReport report = probe_();
  std::lock_guard lock(mutex_);
  checked_ = clock_.steady();
  last_ = report;
  return report;
}

}  // namespace hsmca::appliance
