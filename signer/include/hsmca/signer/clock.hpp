#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace hsmca::signer {

// Where time comes from (as Boulder's `clk`): the service's caches and
// expiries read it, so tests move time instead of sleeping.
class Clock {
 public:
  virtual ~Clock();
  // Wall time: validity, thisUpdate/nextUpdate, revocation times.
  virtual std::chrono::system_clock::time_point now() const = 0;
  // Monotonic time: cache ages and refresh deadlines.
  virtual std::chrono::steady_clock::time_point steady() const = 0;
  // The real clocks.
  static const Clock& system();

 protected:
  Clock() = default;
  Clock(const Clock&) = default;
  Clock& operator=(const Clock&) = default;
};

// RFC 3339 in UTC, the form transcripts, logs and listings print times in:
// "2026-11-22T07:51:44Z", or "2026-11-22T07:51:44.123Z" with milliseconds.
std::string rfc3339(std::chrono::system_clock::time_point t, bool milliseconds);
std::string rfc3339(std::int64_t unix_seconds);

// Whole seconds since the epoch, rounded down: how the ledger, certificates and
// CRLs count time (X.509 times have no fractions).
std::int64_t unix_seconds(std::chrono::system_clock::time_point t) noexcept;

}  // namespace hsmca::signer
