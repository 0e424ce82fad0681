#include "hsmca/appliance/health_cache.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

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

TEST(HealthCacheTest, ChecksThatArriveDuringAProbeShareItsReport) {
  test::FakeClock clock;
  std::atomic<int> probes{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> inside{0};
  HealthCache cache(
      [&] {
        ++inside;
        released.wait();  // a probe signature the token is slow to make
        return HealthReport{true, "probe " + std::to_string(++probes)};
      },
      clock);
  std::vector<std::future<HealthReport>> checks;
  for (int i = 0; i < 8; ++i) checks.push_back(std::async(std::launch::async, [&] { return cache.check(); }));
  while (inside.load() == 0) std::this_thread::yield();
  std::this_thread::sleep_for(50ms);  // the other seven are queued behind it by now
  EXPECT_EQ(inside.load(), 1) << "one probe at a time";
  release.set_value();
  for (auto& c : checks) EXPECT_EQ(c.get().body, "probe 1");
  EXPECT_EQ(probes.load(), 1) << "a burst of checks costs the token one signature";
}

}  // namespace
}  // namespace hsmca::appliance
