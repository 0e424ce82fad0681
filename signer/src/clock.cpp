#include "hsmca/signer/clock.hpp"

#include <array>
#include <cstdio>
#include <ctime>

namespace hsmca::signer {
namespace {

// "YYYY-MM-DDTHH:MM:SS" of `t` in UTC.
std::string date_time(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 64> buf{};
  const std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
  return {buf.data(), n};
}

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point steady() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace

Clock::~Clock() = default;

const Clock& Clock::system() {
  static const SystemClock clock;
  return clock;
}

std::string rfc3339(std::chrono::system_clock::time_point t, bool milliseconds) {
  using namespace std::chrono;
  const auto whole = floor<seconds>(t);
  std::string out = date_time(system_clock::to_time_t(whole));
  if (milliseconds) {
    std::array<char, 8> ms{};
    std::snprintf(ms.data(), ms.size(), ".%03d", static_cast<int>(floor<std::chrono::milliseconds>(t - whole).count()));
    out += ms.data();
  }
  return out + "Z";
}

std::string rfc3339(std::int64_t unix_seconds) { return date_time(static_cast<std::time_t>(unix_seconds)) + "Z"; }

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) noexcept {
  return std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
}

}  // namespace hsmca::signer
