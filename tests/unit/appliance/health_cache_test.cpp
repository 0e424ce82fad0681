#include "hsmca/appliance/health_cache.hpp"

#include <gtest/gtest.h>

#include "fake_clock.hpp"

namespace hsmca::appliance {
namespace {

using namespace std::chrono_literals;

TEST(HealthCacheTest, AnswersFromOneProbeForASecondThenProbesAgain) {
  test::FakeClock clock;
  int probes = 0;
  bool healthy = true;
  HealthCache cache([&] { return HealthReport{healthy, "probe " + std::to_string(++probes)}; }, clock);
  EXPECT_FALSE(cache.recent()) << "nothing probed yet";
  EXPECT_TRUE(cache.check().ok);
  clock.advance(999ms);
  ASSERT_TRUE(cache.recent());
  EXPECT_EQ(cache.recent()->body, "probe 1");
  clock.advance(1ms);
  EXPECT_FALSE(cache.recent()) << "a second old: probe again";
  healthy = false;
  EXPECT_FALSE(cache.check().ok);
  ASSERT_TRUE(cache.recent());
  EXPECT_FALSE(cache.recent()->ok) << "a failed probe is kept as well, so a flood of checks costs one probe";
  EXPECT_EQ(probes, 2);
}

}  // namespace
}  // namespace hsmca::appliance
