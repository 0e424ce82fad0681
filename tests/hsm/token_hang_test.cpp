// A token that hangs or keeps failing, through tests/pkcs11-shim: the pool's
// call timeout bounds every signature, a stuck session is set aside until its
// call returns, and the circuit breaker refuses calls while the token is away
// and finds it back with one probe.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hsmca/token/error.hpp"
#include "hsmca/token/session_pool.hpp"
#include "eventually.hpp"
#include "shim_token.hpp"

namespace hsmca::token {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kBound = 400ms;
// What a caller may wait beyond the bound on a loaded two-core machine.
constexpr auto kSlack = 1500ms;

struct Outages {
  std::mutex mutex;
  std::vector<OutageEvent> events;
  PoolOptions options(std::chrono::milliseconds probe_interval = 200ms) {
    PoolOptions o;
    o.call_timeout = kBound;
    o.breaker.probe_interval = probe_interval;
    o.on_outage = [this](const OutageEvent& e) {
      std::lock_guard lock(mutex);
      events.push_back(e);
    };
    return o;
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return events.size();
  }
};

// Signs once; how long it took and what it threw (nothing: it verified).
struct Attempt {
  std::chrono::milliseconds took{};
  bool verified = false;
  bool timed_out = false;
  bool outage = false;
  bool failed = false;
};

Attempt attempt(ShimToken& t, SessionPool& pool, const std::string& message) {
  Attempt a;
  const auto start = Clock::now();
  try {
    a.verified = t.verifies(message, pool.sign("issuing", kScheme, test::bytes_of(message)));
  } catch (const Timeout&) {
    a.timed_out = true;
  } catch (const Outage&) {
    a.outage = true;
  } catch (const Error&) {
    a.failed = true;
  }
  a.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return a;
}

// Recovery after a release or a repair takes the pool's own threads a moment.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds within = 30s) {
  return test::eventually(pred, within);
}

TEST(TokenHangTest, AHungSignatureTimesOutWithinTheBoundAndItsSessionIsSetAside) {
  ShimToken t;
  Outages outages;
  auto pool = t.pool(2, outages.options());
  // Partly stuck: the first C_Sign hangs, the rest pass.
  const fs::path hold = t.hang("C_Sign", 1).file;

  const Attempt stuck = attempt(t, *pool, "stuck");
  EXPECT_TRUE(stuck.timed_out);
  EXPECT_GE(stuck.took, kBound);
  EXPECT_LT(stuck.took, kBound + kSlack);
  ASSERT_EQ(t.counters->held(), 1u);
  EXPECT_TRUE(eventually([&] { return pool->stats().stuck == 1; }, 5s));
  EXPECT_EQ(pool->stats().busy, 1u) << "the stuck session is not handed out";

  // The other session keeps signing, and the stuck one is not reused: every
  // one of these reaches C_Sign on the free session and verifies.
  const auto calls_before = t.counters->calls("C_Sign");
  for (int i = 0; i < 20; ++i) {
    const Attempt a = attempt(t, *pool, "meanwhile " + std::to_string(i));
    EXPECT_TRUE(a.verified) << i;
  }
  EXPECT_EQ(t.counters->calls("C_Sign"), calls_before + 20);
  EXPECT_EQ(t.counters->held(), 1u);
  EXPECT_FALSE(pool->stats().outage) << "a partly stuck token is not an outage";

  // The call returns; its result is thrown away and the session comes back.
  fs::remove(hold);
  EXPECT_TRUE(eventually([&] { return pool->stats().busy == 0 && pool->stats().stuck == 0; }));
  std::vector<std::future<Attempt>> both;
  for (int i = 0; i < 2; ++i) {
    both.push_back(std::async(std::launch::async, [&, i] { return attempt(t, *pool, "after " + std::to_string(i)); }));
  }
  for (auto& f : both) EXPECT_TRUE(f.get().verified);
  EXPECT_EQ(outages.size(), 0u);
}

TEST(TokenHangTest, AWhollyHungTokenOpensTheBreakerAndOneProbeFindsItBack) {
  ShimToken t;
  Outages outages;
  auto pool = t.pool(2, outages.options());
  const fs::path hold = t.hang("C_Sign").file;

  // Two calls hang inside C_Sign, the third finds no free session: each
  // caller is told within the bound, and three in a row open the breaker.
  for (int i = 0; i < 3; ++i) {
    const Attempt a = attempt(t, *pool, "hung " + std::to_string(i));
    EXPECT_TRUE(a.timed_out) << i;
    EXPECT_LT(a.took, kBound + kSlack) << i;
  }
  EXPECT_EQ(t.counters->held(), 2u);
  ASSERT_TRUE(pool->stats().outage);
  ASSERT_EQ(outages.size(), 1u);
  EXPECT_TRUE(outages.events[0].began);
  EXPECT_THAT(outages.events[0].cause, ::testing::HasSubstr("no answer from the token"));

  // Open: refused at once, without calling the token.
  const auto calls = t.counters->calls("C_Sign");
  const Attempt refused = attempt(t, *pool, "refused");
  EXPECT_TRUE(refused.outage);
  EXPECT_LT(refused.took, 100ms);
  EXPECT_EQ(t.counters->calls("C_Sign"), calls);
  EXPECT_THROW(pool->ensure_available(), Outage);

  // Released: after the probe interval, the next caller's probe signs and
  // the breaker closes.
  fs::remove(hold);
  EXPECT_TRUE(eventually([&] { return pool->stats().busy == 0; }));
  Attempt back;
  EXPECT_TRUE(eventually([&] {
    back = attempt(t, *pool, "back");
    return back.verified;
  }, 10s));
  EXPECT_FALSE(pool->stats().outage);
  ASSERT_EQ(outages.size(), 2u);
  EXPECT_FALSE(outages.events[1].began);
  EXPECT_GE(outages.events[1].refused, 1u);
}

TEST(TokenHangTest, AnOutageIsRefusedBeforeTheTokenIsCalledAndRecordedOnce) {
  ShimToken t;
  Outages outages;
  auto pool = t.pool(2, outages.options(300ms));
  // Warm: the probe signs with the key the pool last signed with.
  EXPECT_TRUE(attempt(t, *pool, "warm").verified);
  t.configure("C_Sign.error_rate = 1\nC_Sign.error = CKR_DEVICE_REMOVED\n");

  int failed = 0, refused = 0;
  const auto start = Clock::now();
  while (Clock::now() - start < 2s) {
    const Attempt a = attempt(t, *pool, "during");
    EXPECT_FALSE(a.verified);
    if (a.outage) ++refused;
    if (a.failed || a.timed_out) ++failed;
  }
  EXPECT_EQ(failed, 3) << "three failures open the breaker; after that the token sees only probes";
  EXPECT_GT(refused, 100);
  ASSERT_EQ(outages.size(), 1u) << "one outage, however many refusals";
  EXPECT_THAT(outages.events[0].cause, ::testing::HasSubstr("CKR_DEVICE_REMOVED"));
  // About one probe per interval reached the token, not one per request.
  const auto sign_calls = t.counters->calls("C_Sign");
  EXPECT_LT(sign_calls, 3u * 3 + 3u * (2000 / 300 + 2)) << sign_calls;

  t.configure("");
  Attempt back;
  EXPECT_TRUE(eventually([&] {
    back = attempt(t, *pool, "back");
    return back.verified;
  }, 10s));
  ASSERT_EQ(outages.size(), 2u);
  EXPECT_FALSE(outages.events[1].began);
  EXPECT_GE(outages.events[1].refused, static_cast<std::uint64_t>(refused));
  EXPECT_EQ(pool->stats().healthy, 2u);
}

TEST(TokenHangTest, LoadAloneOnAHealthyTokenDoesNotOpenTheBreaker) {
  // One session, each signature 150 ms, six callers at once: some wait past
  // the bound in the queue and get Timeout, but no call inside the token took
  // that long, so the token is not at fault and the breaker stays closed.
  ShimToken t;
  Outages outages;
  auto pool = t.pool(1, outages.options(2000ms));
  ASSERT_TRUE(attempt(t, *pool, "warm").verified);
  t.configure("C_Sign.latency_ms = 150\n");
  std::vector<std::future<Attempt>> burst;
  for (int i = 0; i < 6; ++i) {
    burst.push_back(std::async(std::launch::async, [&, i] { return attempt(t, *pool, "b" + std::to_string(i)); }));
  }
  int timed_out = 0;
  for (auto& f : burst) timed_out += f.get().timed_out;
  EXPECT_GE(timed_out, 1) << "the burst was meant to outlast the bound";
  EXPECT_FALSE(pool->stats().outage);
  EXPECT_TRUE(attempt(t, *pool, "next").verified);
  EXPECT_EQ(outages.size(), 0u);
}

TEST(TokenHangTest, OneHungCallDoesNotStopTheOtherSessionsRepair) {
  // An HSM fail-over: one call stuck on the old connection, the other
  // session lost. The lost one is repaired and signs while the call hangs.
  ShimToken t;
  Outages outages;
  auto pool = t.pool(2, outages.options());
  ASSERT_TRUE(attempt(t, *pool, "warm").verified);
  const auto [hold, hang] = t.hang("C_Sign", 1);
  EXPECT_TRUE(attempt(t, *pool, "stuck").timed_out);
  ASSERT_EQ(t.counters->held(), 1u);
  // The token drops the other session (the shim closes it underneath) for one call.
  t.configure(hang + "C_SignInit.error_rate = 1\nC_SignInit.error = CKR_SESSION_HANDLE_INVALID\n");
  attempt(t, *pool, "lost");
  t.configure(hang);
  Attempt a;
  EXPECT_TRUE(eventually([&] {
    a = attempt(t, *pool, "repaired");
    return a.verified;
  }, 5s)) << "the pool never signed again while one call hung";
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(attempt(t, *pool, "more " + std::to_string(i)).verified) << i;
  EXPECT_EQ(t.counters->held(), 1u) << "still hung all along";
  fs::remove(hold);
  EXPECT_TRUE(eventually([&] { return pool->stats().busy == 0; }));
  std::vector<std::future<Attempt>> both;
  for (int i = 0; i < 2; ++i) {
    both.push_back(std::async(std::launch::async, [&, i] { return attempt(t, *pool, "after " + std::to_string(i)); }));
  }
  for (auto& f : both) EXPECT_TRUE(f.get().verified);
}

TEST(TokenHangTest, AProbeBeforeTheFirstSignatureIsBoundedToo) {
  ShimToken t;
  Outages outages;
  auto pool = t.pool(2, outages.options(200ms));
  t.configure("C_Sign.error_rate = 1\nC_Sign.error = CKR_GENERAL_ERROR\n");
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(attempt(t, *pool, "f").failed);
  ASSERT_TRUE(pool->stats().outage);
  const fs::path hold = t.hang("C_GetSessionInfo").file;
  std::this_thread::sleep_for(300ms);
  const auto start = Clock::now();
  EXPECT_THROW(pool->ensure_available(), Outage);
  EXPECT_LT(Clock::now() - start, kBound + kSlack) << "the probe waited past the bound";
  fs::remove(hold);
  t.configure("");
  EXPECT_TRUE(eventually([&] { return attempt(t, *pool, "back").verified; }, 10s))
      << "the breaker stayed pinned open by a lost probe";
}

class InjectedDeviceErrors : public ::testing::TestWithParam<double> {};

TEST_P(InjectedDeviceErrors, NoSignatureWaitsPastTheBoundEveryReturnedOneVerifiesAndThePoolHeals) {
  ShimToken t;
  Outages outages;
  auto pool = t.pool(4, outages.options());
  t.configure("seed = 5\nsign.error_rate = " + std::to_string(GetParam()) + "\nsign.error = CKR_DEVICE_ERROR\n");
  std::atomic<int> verified{0}, bad{0}, refused{0}, late{0};
  std::vector<std::thread> threads;
  for (int n = 0; n < 4; ++n) {
    threads.emplace_back([&, n] {
      for (int i = 0; i < 60; ++i) {
        const Attempt a = attempt(t, *pool, "t" + std::to_string(n) + " " + std::to_string(i));
        if (a.took > kBound + kSlack) ++late;
        if (a.verified) ++verified;
        if (!a.verified && !a.failed && !a.timed_out && !a.outage) ++bad;
        if (a.failed || a.timed_out || a.outage) ++refused;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(late.load(), 0);
  EXPECT_EQ(bad.load(), 0) << "a returned signature always verifies";
  EXPECT_EQ(verified + refused, 240);
  EXPECT_GT(verified.load(), 0);

  t.configure("");
  EXPECT_TRUE(eventually([&] { return attempt(t, *pool, "healed").verified; }, 10s));
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(attempt(t, *pool, "after " + std::to_string(i)).verified) << i;
  EXPECT_EQ(pool->stats().healthy, 4u);
  EXPECT_FALSE(pool->stats().outage);
}

INSTANTIATE_TEST_SUITE_P(Rates, InjectedDeviceErrors, ::testing::Values(0.01, 0.1, 0.5),
                         [](const auto& rate) { return "percent_" + std::to_string(static_cast<int>(rate.param * 100)); });

}  // namespace
}  // namespace hsmca::token
