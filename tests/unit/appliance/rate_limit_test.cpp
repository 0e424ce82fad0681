#include "hsmca/appliance/rate_limit.hpp"

#include <gtest/gtest.h>

#include "exchange.hpp"

namespace hsmca::appliance {
namespace {

using namespace std::chrono_literals;

// Whose allowance a request spends: an IPv4 address; an IPv6 client by its
// /64, or by its /48 where a whole site should get only a few.
TEST(ClientKeyTest, CountsAnIpv6ClientByItsPrefix) {
  EXPECT_EQ(client_key("203.0.113.7:51234"), "203.0.113.7");
  EXPECT_EQ(client_key("[::ffff:203.0.113.7]:443"), "203.0.113.7");
  EXPECT_EQ(client_key("[2001:db8:1:2:3:4:5:6]:443"), "2001:db8:1:2::/64");
  EXPECT_EQ(client_key("[2001:db8:1:2:3:4:5:6]:443", 48), "2001:db8:1::/48");
  EXPECT_EQ(client_key("[2001:db8:1:ffff::1]:443", 48), client_key("[2001:db8:1:2::1]:443", 48));
  EXPECT_EQ(client_key("203.0.113.7:51234", 48), "203.0.113.7");
}

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
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.take("192.0.2.1", t0), 0) << i;
  EXPECT_EQ(limiter.take("192.0.2.1", t0), 60) << "the sixth attempt at once waits a minute";
  EXPECT_EQ(limiter.take("192.0.2.1", t0 + 45s), 15);
  EXPECT_EQ(limiter.take("192.0.2.2", t0), 0) << "another address has its own allowance";
  EXPECT_EQ(limiter.take("192.0.2.1", t0 + 60s), 0) << "one more try a minute";
  EXPECT_GT(limiter.take("192.0.2.1", t0 + 60s), 0);
}

TEST(FailureLimiterTest, ASuccessGivesItsAttemptBack) {
  using namespace std::chrono_literals;
  FailureLimiter limiter(1.0 / 60, 2);
  const auto t0 = FailureLimiter::Clock::time_point{} + 1h;
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(limiter.take("192.0.2.1", t0), 0) << i;
    limiter.refund("192.0.2.1", t0);
  }
  EXPECT_EQ(limiter.take("192.0.2.1", t0), 0);
  EXPECT_EQ(limiter.take("192.0.2.1", t0), 0);
  EXPECT_GT(limiter.take("192.0.2.1", t0), 0) << "two failures in a row use the allowance up";
}

TEST(FailureLimiterTest, AFullTableForgetsWhoWaitedOutThenWhoWasSeenLongestAgo) {
  using namespace std::chrono_literals;
  FailureLimiter limiter(1.0 / 60, 1, 2);
  const auto t0 = FailureLimiter::Clock::time_point{} + 1h;
  EXPECT_EQ(limiter.take("a", t0), 0);
  EXPECT_EQ(limiter.take("b", t0 + 1s), 0);
  EXPECT_EQ(limiter.take("c", t0 + 2s), 0) << "a new address is never locked out by a full table";
  EXPECT_GT(limiter.take("b", t0 + 2s), 0) << "b, seen after a, is still remembered";
}

}  // namespace
}  // namespace hsmca::appliance
