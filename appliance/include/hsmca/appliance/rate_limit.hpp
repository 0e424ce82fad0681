#pragma once
// A token bucket: at most `rate` events per second on average, `burst` at once.
#include <algorithm>
#include <chrono>
#include <mutex>
#include <unordered_map>
#include <string>
#include <cstdint>
#include <cmath>

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

// Password attempts per client address: each address may fail `burst`
// times, then once per 1/rate seconds. An attempt takes its allowance before
// the password is checked (so concurrent guesses cannot all get through) and
// a success gives it back. Bounded: when full, addresses whose allowance has
// refilled are forgotten first, then the one seen longest ago. Safe from many
// threads.
class FailureLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  FailureLimiter(double rate, double burst, std::size_t capacity = 10'000)
      : rate_(rate), burst_(burst), capacity_(capacity) {}

  // 0, having taken one attempt from `address`'s allowance; otherwise the
  // seconds to wait before it may try again (nothing taken).
  std::int64_t take(const std::string& address, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(address);
    if (it == entries_.end()) {
      if (entries_.size() >= capacity_) make_room(now);
      it = entries_.emplace(address, Entry{burst_, now}).first;
    }
    const double tokens = refill(it->second, now);
    it->second.last = now;
    if (tokens < 1.0) {
      it->second.tokens = tokens;
      return static_cast<std::int64_t>(std::ceil((1.0 - tokens) / rate_ - 1e-9));
    }
    it->second.tokens = tokens - 1.0;
    return 0;
  }
  // The attempt taken for `address` succeeded: it costs nothing.
  void refund(const std::string& address, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(address);
    if (it == entries_.end()) return;
    it->second.tokens = std::min(burst_, refill(it->second, now) + 1.0);
    it->second.last = now;
  }

 private:
  struct Entry {
    double tokens;
    Clock::time_point last;
  };
  double refill(const Entry& e, Clock::time_point now) const {
    const double elapsed = now > e.last ? std::chrono::duration<double>(now - e.last).count() : 0.0;
    return std::min(burst_, e.tokens + rate_ * elapsed);
  }
  void make_room(Clock::time_point now) {
    std::erase_if(entries_, [&](const auto& kv) { return refill(kv.second, now) >= burst_; });
    if (entries_.size() < capacity_) return;
    auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                   [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
    entries_.erase(oldest);
  }

  std::mutex mutex_;
  double rate_, burst_;
  std::size_t capacity_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mutex_
};

}  // namespace hsmca::appliance
