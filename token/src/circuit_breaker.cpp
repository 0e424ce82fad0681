#include "hsmca/token/circuit_breaker.hpp"

#include <utility>

namespace hsmca::token {

CircuitBreaker::CircuitBreaker(Options options, std::function<void(const OutageEvent&)> on_change,
                               std::function<Clock::time_point()> now)
    : options_(options), on_change_(std::move(on_change)), now_(std::move(now)) {
  if (options_.failure_threshold == 0) options_.failure_threshold = 1;
}

CircuitBreaker::Admission CircuitBreaker::admit(std::uint64_t* probe_id) {
  std::lock_guard lock(mutex_);
  if (!open_) return Admission::pass;
  const auto now = now_();
  const bool lost = probing_ && options_.probe_timeout.count() > 0 && now - probe_started_ >= options_.probe_timeout;
  if ((!probing_ || lost) && now >= next_probe_) {
    probing_ = true;
    probe_started_ = now;
    ++probe_id_;
    if (probe_id != nullptr) *probe_id = probe_id_;
    return Admission::probe;
  }
  ++refused_;
  return Admission::refuse;
}

void CircuitBreaker::succeeded() {
  OutageEvent event;
  {
    std::lock_guard lock(mutex_);
    consecutive_failures_ = 0;
    if (!open_) return;
    // A call that was let in before the breaker opened came back well: the
    // token answers, whatever the probe says later.
    open_ = false;
    probing_ = false;
    event.cause = cause_;
    event.lasted = now_() - opened_at_;
    event.refused = refused_;
  }
  notify(event);
}

void CircuitBreaker::failed(const std::string& cause) {
  OutageEvent event;
  {
    std::lock_guard lock(mutex_);
    if (open_) return;
    if (++consecutive_failures_ < options_.failure_threshold) return;
    open_locked(cause, now_());
    event.began = true;
    event.cause = cause;
  }
  notify(event);
}

void CircuitBreaker::probe_finished(bool ok, const std::string& cause, std::uint64_t probe_id) {
  if (ok) {
    succeeded();
    return;
  }
  {
    std::lock_guard lock(mutex_);
    const bool current = probing_ && (probe_id == 0 || probe_id == probe_id_);
    if (open_ && current) {
      probing_ = false;
      next_probe_ = now_() + options_.probe_interval;
      if (!cause.empty()) cause_ = cause;
      return;
    }
    if (open_) return;  // a given-up probe's failure changes nothing while open
  }
  // Closed meanwhile by a call that succeeded: one failure among others.
  failed(cause.empty() ? "probe failed" : cause);
}

void CircuitBreaker::open_locked(const std::string& cause, Clock::time_point now) {
  open_ = true;
  probing_ = false;
  opened_at_ = now;
  next_probe_ = now + options_.probe_interval;
  cause_ = cause;
  refused_ = 0;
  consecutive_failures_ = 0;
}

bool CircuitBreaker::open() const {
  std::lock_guard lock(mutex_);
  return open_;
}

std::string CircuitBreaker::cause() const {
  std::lock_guard lock(mutex_);
  return cause_;
}

std::int64_t CircuitBreaker::retry_after_seconds() const {
  std::lock_guard lock(mutex_);
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(next_probe_ - now_() + std::chrono::milliseconds(999));
  return left.count() < 1 ? 1 : left.count();
}

void CircuitBreaker::notify(const OutageEvent& event) const noexcept {
  if (!on_change_) return;
  try {
    on_change_(event);
  } catch (...) {
    // An observer's failure changes nothing about the token.
  }
}

}  // namespace hsmca::token
