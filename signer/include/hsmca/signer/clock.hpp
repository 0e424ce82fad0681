#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace hsmca::signer {

// RFC 3339 in UTC, the form transcripts, logs and listings print times in:
// "2026-11-22T07:51:44Z", or "2026-11-22T07:51:44.123Z" with milliseconds.
std::string rfc3339(std::chrono::system_clock::time_point t, bool milliseconds);
std::string rfc3339(std::int64_t unix_seconds);

// Whole seconds since the epoch, rounded down: how the ledger, certificates and
// CRLs count time (X.509 times have no fractions).
std::int64_t unix_seconds(std::chrono::system_clock::time_point t) noexcept;

}  // namespace hsmca::signer
