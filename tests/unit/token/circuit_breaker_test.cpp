// The circuit breaker in front of the token, on a clock the test moves.
#include "hsmca/token/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace hsmca::token {
namespace {

using namespace std::chrono_literals;
using Admission = CircuitBreaker::Admission;

struct Harness {
  CircuitBreaker::Clock::time_point now{};
  std::vector<OutageEvent> events;
  CircuitBreaker breaker{CircuitBreaker::Options{3, 1000ms}, [this](const OutageEvent& e) { events.push_back(e); },
                         [this] { return now; }};
};

TEST(CircuitBreakerTest, StaysClosedUntilTheThresholdOfFailuresInARow) {
  Harness h;
  h.breaker.failed("C_Sign: CKR_DEVICE_ERROR");
  h.breaker.failed("C_Sign: CKR_DEVICE_ERROR");
  h.breaker.succeeded();  // a success in between starts the count again
  h.breaker.failed("C_Sign: CKR_DEVICE_ERROR");
  h.breaker.failed("C_Sign: CKR_DEVICE_ERROR");
  EXPECT_FALSE(h.breaker.open());
  EXPECT_EQ(h.breaker.admit(), Admission::pass);
  EXPECT_TRUE(h.events.empty());
}

TEST(CircuitBreakerTest, OpensOnceAndRefusesUntilTheProbeIsDue) {
  Harness h;
  for (int i = 0; i < 3; ++i) h.breaker.failed("C_Sign: CKR_DEVICE_REMOVED");
  ASSERT_TRUE(h.breaker.open());
  h.breaker.failed("C_Sign: CKR_DEVICE_REMOVED");  // more failures: still one outage
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_TRUE(h.events[0].began);
  EXPECT_EQ(h.events[0].cause, "C_Sign: CKR_DEVICE_REMOVED");

  for (int i = 0; i < 100; ++i) EXPECT_EQ(h.breaker.admit(), Admission::refuse);
  EXPECT_EQ(h.breaker.retry_after_seconds(), 1);
  h.now += 999ms;
  EXPECT_EQ(h.breaker.admit(), Admission::refuse);
  h.now += 1ms;
  EXPECT_EQ(h.breaker.admit(), Admission::probe);
}

TEST(CircuitBreakerTest, OneProbeAtATimeAndAFailedProbeWaitsAnotherInterval) {
  Harness h;
  for (int i = 0; i < 3; ++i) h.breaker.failed("x");
  h.now += 1s;
  ASSERT_EQ(h.breaker.admit(), Admission::probe);
  EXPECT_EQ(h.breaker.admit(), Admission::refuse) << "a second caller while the probe runs";
  h.now += 5s;
  EXPECT_EQ(h.breaker.admit(), Admission::refuse) << "still one probe, however long it takes";
  h.breaker.probe_finished(false, "C_Sign: CKR_TOKEN_NOT_PRESENT");
  EXPECT_TRUE(h.breaker.open());
  EXPECT_EQ(h.breaker.cause(), "C_Sign: CKR_TOKEN_NOT_PRESENT");
  EXPECT_EQ(h.breaker.admit(), Admission::refuse);
  h.now += 1s;
  EXPECT_EQ(h.breaker.admit(), Admission::probe);
  EXPECT_EQ(h.events.size(), 1u) << "a failed probe is not a new outage";
}

TEST(CircuitBreakerTest, ASuccessfulProbeClosesItAndTheEndIsReportedWithWhatItRefused) {
  Harness h;
  for (int i = 0; i < 3; ++i) h.breaker.failed("C_Sign: CKR_DEVICE_REMOVED");
  for (int i = 0; i < 7; ++i) EXPECT_EQ(h.breaker.admit(), Admission::refuse);
  h.now += 2500ms;
  ASSERT_EQ(h.breaker.admit(), Admission::probe);
  h.breaker.probe_finished(true);
  EXPECT_FALSE(h.breaker.open());
  EXPECT_EQ(h.breaker.admit(), Admission::pass);
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_FALSE(h.events[1].began);
  EXPECT_EQ(h.events[1].refused, 7u);
  EXPECT_EQ(h.events[1].lasted, 2500ms);
  EXPECT_EQ(h.events[1].cause, "C_Sign: CKR_DEVICE_REMOVED");
}

TEST(CircuitBreakerTest, ANewOutageAfterRecoveryIsReportedAgain) {
  Harness h;
  for (int i = 0; i < 3; ++i) h.breaker.failed("first");
  h.now += 1s;
  ASSERT_EQ(h.breaker.admit(), Admission::probe);
  h.breaker.probe_finished(true);
  for (int i = 0; i < 3; ++i) h.breaker.failed("second");
  ASSERT_EQ(h.events.size(), 3u);
  EXPECT_TRUE(h.events[2].began);
  EXPECT_EQ(h.events[2].cause, "second");
}

TEST(CircuitBreakerTest, RetryAfterCountsDownToTheNextProbeInWholeSeconds) {
  Harness h;
  CircuitBreaker slow{CircuitBreaker::Options{1, 5000ms}, nullptr, [&h] { return h.now; }};
  slow.failed("x");
  EXPECT_EQ(slow.retry_after_seconds(), 5);
  h.now += 3200ms;
  EXPECT_EQ(slow.retry_after_seconds(), 2);
  h.now += 2s;
  EXPECT_EQ(slow.retry_after_seconds(), 1) << "never 0: Retry-After 0 invites a storm";
}

TEST(CircuitBreakerTest, AVerdictFromAnEarlierProbeDoesNotFreeTheCurrentOnesPlace) {
  Harness h;
  for (int i = 0; i < 3; ++i) h.breaker.failed("x");
  h.now += 1000ms;
  std::uint64_t a = 0, b = 0;
  ASSERT_EQ(h.breaker.admit(&a), Admission::probe);  // probe A, slow
  h.breaker.succeeded();                              // a late call closes the breaker
  for (int i = 0; i < 3; ++i) h.breaker.failed("y");  // and it opens again
  h.now += 1000ms;
  ASSERT_EQ(h.breaker.admit(&b), Admission::probe);  // probe B
  EXPECT_NE(a, b);
  h.breaker.probe_finished(false, "A timed out", a);  // A's verdict, about the older outage
  h.now += 1000ms;
  EXPECT_EQ(h.breaker.admit(), Admission::refuse) << "B is still the one probe";
  h.breaker.probe_finished(false, "B failed", b);
  EXPECT_EQ(h.breaker.cause(), "B failed");
  h.now += 1000ms;
  EXPECT_EQ(h.breaker.admit(), Admission::probe);
}

TEST(CircuitBreakerTest, AProbeThatNeverReportsIsGivenUpAfterItsTimeout) {
  Harness h;
  CircuitBreaker b{CircuitBreaker::Options{1, 1000ms, 3000ms}, nullptr, [&h] { return h.now; }};
  b.failed("x");
  h.now += 1s;
  ASSERT_EQ(b.admit(), Admission::probe);
  h.now += 2999ms;
  EXPECT_EQ(b.admit(), Admission::refuse);
  h.now += 1ms;
  EXPECT_EQ(b.admit(), Admission::probe) << "the lost probe no longer holds the breaker open";
}

TEST(CircuitBreakerTest, AProbeFailingAfterTheBreakerClosedCountsTowardsOpeningItAgain) {
  Harness h;
  for (int i = 0; i < 3; ++i) h.breaker.failed("x");
  h.now += 1s;
  std::uint64_t id = 0;
  ASSERT_EQ(h.breaker.admit(&id), Admission::probe);
  h.breaker.succeeded();
  h.breaker.failed("y");
  h.breaker.failed("y");
  h.breaker.probe_finished(false, "probe", id);
  EXPECT_TRUE(h.breaker.open()) << "the third failure in a row";
}

}  // namespace
}  // namespace hsmca::token
