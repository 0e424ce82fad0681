#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace hsmca::token {

// What a breaker says about the token when it opens or closes: the outage is
// reported twice (its start, with the fault that started it, and its end,
// with how long it lasted and how many calls it refused), never per call.
struct OutageEvent {
  bool began = false;  // false: the token answers again
  std::string cause;   // the fault that opened the breaker
  std::chrono::steady_clock::duration lasted{};  // when it ended
  std::uint64_t refused = 0;                      // calls refused while open, when it ended
};

// A circuit breaker in front of the token. Closed, every call passes. After
// `failure_threshold` calls in a row fail with a token fault (after the
// pool's own repairs) it opens: calls are refused at once, before anyone
// records anything, and once per `probe_interval` one caller is let through
// as the probe. The probe's success closes the breaker; its failure keeps it
// open for another interval. Thread-safe.
class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    unsigned failure_threshold = 3;
    std::chrono::milliseconds probe_interval{1000};
    // A probe that has not reported after this long is given up: the next
    // caller may probe (0: a probe is waited for however long it takes).
    std::chrono::milliseconds probe_timeout{0};
  };
  enum class Admission { pass, probe, refuse };

  CircuitBreaker(Options options, std::function<void(const OutageEvent&)> on_change,
                 std::function<Clock::time_point()> now = &Clock::now);

  // pass: go ahead. probe: go ahead as the only probe; report with
  // probe_finished. refuse: the token is away; do not call it.
  // `probe_id`, when given, receives the probe's number for probe_finished.
  Admission admit(std::uint64_t* probe_id = nullptr);
  void succeeded();
  void failed(const std::string& cause);
  // A verdict from a probe that was given up (another is running now, or the
  // breaker closed and opened again since) is a plain success or failure.
  void probe_finished(bool ok, const std::string& cause = {}, std::uint64_t probe_id = 0);

  bool open() const;
  // What an open breaker says: since when, why, and when the next probe runs.
  std::string cause() const;
  // Whole seconds until the next probe may run (at least 1).
  std::int64_t retry_after_seconds() const;

 private:
  void open_locked(const std::string& cause, Clock::time_point now);
  void notify(const OutageEvent& event) const noexcept;

  Options options_;
  std::function<void(const OutageEvent&)> on_change_;
  std::function<Clock::time_point()> now_;
  mutable std::mutex mutex_;
  bool open_ = false;
  bool probing_ = false;
  std::uint64_t probe_id_ = 0;  // the probe running now, when probing_
  Clock::time_point probe_started_{};
  unsigned consecutive_failures_ = 0;
  Clock::time_point opened_at_{};
  Clock::time_point next_probe_{};
  std::string cause_;
  std::uint64_t refused_ = 0;
};

}  // namespace hsmca::token
