#include "hsmca/appliance/rate_limit.hpp"

#include <gtest/gtest.h>

namespace hsmca::appliance {
namespace {

using namespace std::chrono_literals;

TEST(TokenBucketTest, AllowsABurstThenTheRate) {
  const auto t0 = TokenBucket::Clock::now();
  TokenBucket bucket(10, 3, t0);
  EXPECT_TRUE(bucket.try_take(t0));
  EXPECT_TRUE(bucket.try_take(t0));
  EXPECT_TRUE(bucket.try_take(t0));
  EXPECT_FALSE(bucket.try_take(t0)) << "the burst is spent";
  EXPECT_FALSE(bucket.try_take(t0 + 50ms)) << "half a token back";
  EXPECT_TRUE(bucket.try_take(t0 + 100ms));
  EXPECT_FALSE(bucket.try_take(t0 + 100ms));
  // A long pause refills no more than the burst.
  int taken = 0;
  while (bucket.try_take(t0 + 60s)) ++taken;
  EXPECT_EQ(taken, 3);
}

TEST(TokenBucketTest, OverASecondTakesAboutTheRatePlusTheBurst) {
  const auto t0 = TokenBucket::Clock::now();
  TokenBucket bucket(100, 10, t0);
  int taken = 0;
  for (int ms = 0; ms <= 1000; ++ms) {
    for (int i = 0; i < 50; ++i) taken += bucket.try_take(t0 + std::chrono::milliseconds(ms)) ? 1 : 0;
  }
  EXPECT_GE(taken, 109);
  EXPECT_LE(taken, 110);
}

TEST(TokenBucketTest, ARateOfZeroAllowsNothing) {
  TokenBucket bucket(0, 0);
  EXPECT_FALSE(bucket.try_take());
  EXPECT_FALSE(bucket.try_take(TokenBucket::Clock::now() + 1h));
}

TEST(FailureLimiterTest, AnAddressMayFailABurstThenWaitsItsTurn) {
  using namespace std::chrono_literals;
  FailureLimiter limiter(1.0 / 60, 5);
  const auto t0 = FailureLimiter::Clock::time_point{} + 1h;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(limiter.retry_after("192.0.2.1", t0), 0) << i;
    limiter.failed("192.0.2.1", t0);
  }
  EXPECT_EQ(limiter.retry_after("192.0.2.1", t0), 60);
  EXPECT_EQ(limiter.retry_after("192.0.2.1", t0 + 45s), 15);
  EXPECT_EQ(limiter.retry_after("192.0.2.2", t0), 0) << "another address has its own allowance";
  EXPECT_EQ(limiter.retry_after("192.0.2.1", t0 + 60s), 0) << "one more try a minute";
  limiter.failed("192.0.2.1", t0 + 60s);
  EXPECT_GT(limiter.retry_after("192.0.2.1", t0 + 60s), 0);
}

TEST(FailureLimiterTest, AFullTableForgetsOnlyAddressesThatWaitedOut) {
  using namespace std::chrono_literals;
  FailureLimiter limiter(1.0, 2, 2);
  const auto t0 = FailureLimiter::Clock::time_point{} + 1h;
  limiter.failed("a", t0);
  limiter.failed("a", t0);
  limiter.failed("b", t0);
  EXPECT_GT(limiter.retry_after("a", t0), 0);
  EXPECT_GT(limiter.retry_after("c", t0), 0) << "no room, and nobody to forget: a new address waits";
  EXPECT_EQ(limiter.retry_after("c", t0 + 5s), 0) << "a and b waited out; c gets room";
  EXPECT_EQ(limiter.retry_after("a", t0 + 5s), 0);
}

}  // namespace
}  // namespace hsmca::appliance
