#include "hsmca/signer/clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace hsmca::signer {
namespace {

using namespace std::chrono;

constexpr sys_seconds kWhole = sys_days{2026y / 11 / 22} + 7h + 51min + 44s;

TEST(ClockTest, FormatsUnixSecondsAsUtcWithoutAFraction) {
  EXPECT_EQ(rfc3339(std::int64_t{kWhole.time_since_epoch().count()}), "2026-11-22T07:51:44Z");
  EXPECT_EQ(rfc3339(std::int64_t{0}), "1970-01-01T00:00:00Z");
}

TEST(ClockTest, FormatsATimePointWithThreeDigitsOfMilliseconds) {
  EXPECT_EQ(rfc3339(kWhole + 123ms, true), "2026-11-22T07:51:44.123Z");
  EXPECT_EQ(rfc3339(kWhole + 5ms, true), "2026-11-22T07:51:44.005Z");
  EXPECT_EQ(rfc3339(kWhole, true), "2026-11-22T07:51:44.000Z");
}

TEST(ClockTest, TruncatesRatherThanRounds) {
  EXPECT_EQ(rfc3339(kWhole + 999999us, true), "2026-11-22T07:51:44.999Z");
  EXPECT_EQ(rfc3339(kWhole + 999999us, false), "2026-11-22T07:51:44Z");
}

}  // namespace
}  // namespace hsmca::signer
