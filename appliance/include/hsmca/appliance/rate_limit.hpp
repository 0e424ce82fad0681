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

// Failed password attempts per client address: each address may fail
// `burst` times, then once per 1/rate seconds. A refused address is told when
// to come back; a success costs nothing. Bounded: when full, addresses whose
// allowance has refilled are forgotten, and new ones are refused until room
// appears (an attacker cannot reset its own count by flooding with others).
// Safe from many threads.
class FailureLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  FailureLimiter(double rate, double burst, std::size_t capacity = 10'000)
      : rate_(rate), burst_(burst), capacity_(capacity) {}

  // Seconds to wait before `address` may try again; 0 when it may now.
  std::int64_t retry_after(const std::string& address, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(address);
    if (it == entries_.end()) return entries_.size() >= capacity_ && !make_room(now) ? 1 : 0;
    const double tokens = refill(it->second, now);
    if (tokens >= 1.0) return 0;
    return static_cast<std::int64_t>(std::ceil((1.0 - tokens) / rate_ - 1e-9));
  }
  // `address` failed once.
  void failed(const std::string& address, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(address);
    if (it == entries_.end()) {
      if (entries_.size() >= capacity_ && !make_room(now)) return;
      it = entries_.emplace(address, Entry{burst_, now}).first;
    }
    it->second.tokens = std::max(0.0, refill(it->second, now) - 1.0);
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
  bool make_room(Clock::time_point now) {
    std::erase_if(entries_, [&](const auto& kv) { return refill(kv.second, now) >= burst_; });
    return entries_.size() < capacity_;
  }

  std::mutex mutex_;
  double rate_, burst_;
  std::size_t capacity_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mutex_
};

}  // namespace hsmca::appliance
