#pragma once
// A clock tests move by hand: caches and expiries are tested by advancing
// time, not by sleeping.
#include <chrono>
#include <mutex>

#include "hsmca/signer/clock.hpp"

namespace hsmca::test {

class FakeClock final : public signer::Clock {
 public:
  FakeClock() : wall_(std::chrono::system_clock::now()) {}
  std::chrono::system_clock::time_point now() const override {
    std::lock_guard lock(mutex_);
    return wall_;
  }
  std::chrono::steady_clock::time_point steady() const override {
    std::lock_guard lock(mutex_);
    return steady_;
  }
  // Moves both clocks forward.
  void advance(std::chrono::nanoseconds by) {
    std::lock_guard lock(mutex_);
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(by);
    steady_ += by;
  }

 private:
  mutable std::mutex mutex_;
  std::chrono::system_clock::time_point wall_;
  std::chrono::steady_clock::time_point steady_{std::chrono::hours(1)};
};

}  // namespace hsmca::test
