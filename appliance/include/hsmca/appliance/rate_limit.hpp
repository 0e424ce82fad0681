#pragma once
// A token bucket: at most `rate` events per second on average, `burst` at once.
#include <algorithm>
#include <chrono>
#include <mutex>

namespace hsmca::appliance {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // rate 0: never allows anything.
  TokenBucket(double rate, double burst, Clock::time_point now = Clock::now())
      : rate_(rate), burst_(std::max(burst, 0.0)), tokens_(burst_), last_(now) {}

  // Takes one token if there is one.
  bool try_take(Clock::time_point now = Clock::now()) {
    std::lock_guard lock(mutex_);
    if (now > last_) {
      tokens_ = std::min(burst_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
      last_ = now;
    }
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  std::mutex mutex_;
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace hsmca::appliance
