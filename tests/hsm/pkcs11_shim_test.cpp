// The token layer loaded through tests/pkcs11-shim, the fault and latency shim
// in front of SoftHSM: it changes nothing when told nothing, and the session
// pool survives what it injects.
#include <dlfcn.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hsmca/token/error.hpp"
#include "hsmca/token/key.hpp"
#include "hsmca/token/session_pool.hpp"
#include "shim_token.hpp"
#include "softhsm_env.hpp"
#include "token_fixture.hpp"

namespace hsmca::token {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// What the pool's on_fault saw, from any thread.
struct FaultLog {
  std::mutex mutex;
  std::vector<std::pair<std::string, CK_RV>> faults;
  PoolOptions options() {
    PoolOptions o;
    o.on_fault = [this](const Error& e) {
      std::lock_guard lock(mutex);
      faults.emplace_back(e.function(), e.rv());
    };
    return o;
  }
  std::size_t count(const std::string& function, CK_RV rv) {
    std::lock_guard lock(mutex);
    return static_cast<std::size_t>(std::count(faults.begin(), faults.end(), std::pair{function, rv}));
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return faults.size();
  }
};

struct SignRun {
  int verified = 0;
  int failed = 0;
  int bad = 0;  // returned a signature that does not verify
  std::vector<CK_RV> failures;
};

SignRun sign_many(ShimToken& t, SessionPool& pool, int count, const std::string& tag = "m") {
  SignRun r;
  for (int i = 0; i < count; ++i) {
    const std::string message = tag + " " + std::to_string(i);
    try {
      if (t.verifies(message, pool.sign("issuing", kScheme, test::bytes_of(message)))) {
        ++r.verified;
      } else {
        ++r.bad;
      }
    } catch (const Error& e) {
      ++r.failed;
      r.failures.push_back(e.rv());
    }
  }
  return r;
}

// `threads` callers signing `per_thread` messages each, starting together.
SignRun sign_from_threads(ShimToken& t, SessionPool& pool, int threads, int per_thread) {
  std::mutex mutex;
  SignRun total;
  std::latch start(threads);
  std::vector<std::thread> workers;
  for (int n = 0; n < threads; ++n) {
    workers.emplace_back([&, n] {
      start.arrive_and_wait();
      SignRun r = sign_many(t, pool, per_thread, "thread " + std::to_string(n));
      std::lock_guard lock(mutex);
      total.verified += r.verified;
      total.failed += r.failed;
      total.bad += r.bad;
      total.failures.insert(total.failures.end(), r.failures.begin(), r.failures.end());
    });
  }
  for (auto& w : workers) w.join();
  return total;
}

TEST(FaultShimTest, ForwardsEveryCallUnchangedWhenNoFaultIsConfigured) {
  ShimToken t;
  EXPECT_THAT(std::string(reinterpret_cast<const char*>(t.module->info().manufacturerID), 32),
              HasSubstr("SoftHSM"));
  auto pool = t.pool(4);
  SignRun r = sign_many(t, *pool, 50);
  EXPECT_EQ(r.verified, 50);

  // From several threads at once, each on its own session.
  const SignRun many = sign_from_threads(t, *pool, 4, 100);
  EXPECT_EQ(many.verified, 400);
  EXPECT_EQ(many.failed, 0);
  EXPECT_EQ(pool->stats().recoveries, 0u);
  // The signatures really went through the shim, and none was touched.
  EXPECT_GE(t.counters->calls("C_Sign"), 450u);
  EXPECT_EQ(t.counters->injected("C_Sign"), 0u);
}

// The pool heals these: the session is rebuilt and the signature retried.
class HealedFaultTest : public ::testing::TestWithParam<const char*> {};

TEST_P(HealedFaultTest, FailsTheConfiguredFractionOfCSignAndThePoolStillSigns) {
  ShimToken t;
  FaultLog log;
  auto pool = t.pool(4, log.options());
  const CK_RV rv = [] {
    for (CK_RV v : {CKR_DEVICE_ERROR, CKR_SESSION_HANDLE_INVALID, CKR_DEVICE_REMOVED}) {
      if (rv_name(v) == GetParam()) return v;
    }
    throw std::logic_error("unknown CK_RV");
  }();
  t.configure("seed = 7\nC_Sign.error_rate = 0.1\nC_Sign.error = " + std::string(GetParam()) + "\n");

  constexpr int kSignatures = 600;
  SignRun r = sign_many(t, *pool, kSignatures);

  const auto calls = t.counters->calls("C_Sign");
  const auto injected = t.counters->injected("C_Sign");
  RecordProperty("c_sign_calls", std::to_string(calls));
  RecordProperty("c_sign_faults", std::to_string(injected));
  RecordProperty("caller_failures", r.failed);
  RecordProperty("recoveries", std::to_string(pool->stats().recoveries));
  // The configured fraction, within generous bounds (a seeded run is the same every time).
  EXPECT_GE(calls, static_cast<unsigned long long>(kSignatures));
  EXPECT_GT(injected, calls * 6 / 100) << injected << " of " << calls;
  EXPECT_LT(injected, calls * 14 / 100) << injected << " of " << calls;
  // Every fault reached the pool as the configured CK_RV from C_Sign, and nothing else went wrong.
  EXPECT_EQ(log.count("C_Sign", rv), injected);
  EXPECT_EQ(log.size(), injected);
  // The pool retried: a caller sees an error only when C_Sign failed on every
  // try (three in a row, ~0.1% at this rate), and every signature it got verifies.
  EXPECT_EQ(r.bad, 0);
  EXPECT_LE(r.failed, kSignatures / 100);
  EXPECT_EQ(r.verified + r.failed, kSignatures);
  for (CK_RV f : r.failures) EXPECT_EQ(f, rv) << rv_name(f);
  EXPECT_GE(pool->stats().recoveries, 1u);

  // Faults off: the pool is whole again, with no restart.
  t.configure("");
  SignRun after = sign_many(t, *pool, 40, "after");
  EXPECT_EQ(after.verified, 40);
  EXPECT_EQ(pool->stats().healthy, 4u);
}

INSTANTIATE_TEST_SUITE_P(Faults, HealedFaultTest,
                         ::testing::Values("CKR_DEVICE_ERROR", "CKR_SESSION_HANDLE_INVALID", "CKR_DEVICE_REMOVED"),
                         [](const auto& param_info) { return std::string(param_info.param).substr(4); });

TEST(FaultShimTest, FunctionFailedIsTriedOnceMoreOnTheSameSessionWhichStaysUsable) {
  // CKR_FUNCTION_FAILED is not a session fault: the pool does not rebuild,
  // it signs once more on the same session; only two failures in a row reach
  // the caller.
  ShimToken t;
  FaultLog log;
  auto pool = t.pool(2, log.options());
  t.configure("seed = 11\nC_Sign.error_rate = 0.1\nC_Sign.error = CKR_FUNCTION_FAILED\n");
  SignRun r = sign_many(t, *pool, 300);
  const auto injected = t.counters->injected("C_Sign");
  EXPECT_GT(injected, 10u);
  EXPECT_EQ(log.size(), injected) << "every injected fault is reported";
  EXPECT_LE(2 * static_cast<unsigned long long>(r.failed), injected);
  EXPECT_LT(r.failed, 10) << "at 10% a caller sees about one in a hundred";
  EXPECT_EQ(t.counters->calls("C_Sign"), 300u + injected - static_cast<unsigned long long>(r.failed))
      << "one retry per failed call, none after the second failure";
  EXPECT_EQ(r.verified, 300 - r.failed);
  EXPECT_EQ(r.bad, 0);
  for (CK_RV f : r.failures) EXPECT_EQ(f, CKR_FUNCTION_FAILED);
  EXPECT_EQ(pool->stats().recoveries, 0u);
  EXPECT_EQ(pool->stats().healthy, 2u);
}

TEST(FaultShimTest, SignFamilyFaultsFromManyThreadsLeaveEverySignatureValid) {
  // sign.* covers C_SignInit and C_Sign: both fail, on four threads at once.
  ShimToken t;
  FaultLog log;
  auto pool = t.pool(4, log.options());
  t.configure("seed = 3\nsign.error_rate = 0.05\nsign.error = CKR_DEVICE_ERROR\n");
  const SignRun r = sign_from_threads(t, *pool, 4, 150);
  EXPECT_EQ(r.bad, 0);
  EXPECT_EQ(r.verified + r.failed, 600);
  EXPECT_LE(r.failed, 6);
  for (CK_RV rv : r.failures) EXPECT_EQ(rv, CKR_DEVICE_ERROR);
  EXPECT_GT(t.counters->injected("C_SignInit"), 0u);
  EXPECT_GT(t.counters->injected("C_Sign"), 0u);
  EXPECT_EQ(log.size(), t.counters->injected("C_SignInit") + t.counters->injected("C_Sign"));
  t.configure("");
  EXPECT_EQ(sign_many(t, *pool, 20, "after").verified, 20);
  EXPECT_EQ(pool->stats().healthy, 4u);
}

TEST(FaultShimTest, AHangHoldsCSignUntilItsFileIsRemovedThenSigns) {
  ShimToken t;
  FaultLog log;
  auto pool = t.pool(2, log.options());
  const fs::path hold = t.hang("C_Sign").file;

  const std::string message = "held";
  auto signing = std::async(std::launch::async, [&] { return pool->sign("issuing", kScheme, test::bytes_of(message)); });

  // Wait until the call is parked inside C_Sign (generous bound: a failure, not a hang).
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (t.counters->held() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(t.counters->held(), 1u) << "the signature never reached C_Sign";
  // Held, and it stays held while the file is there.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(signing.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(t.counters->held(), 1u);
  EXPECT_EQ(pool->stats().busy, 1u);

  fs::remove(hold);
  ASSERT_EQ(signing.wait_for(30s), std::future_status::ready) << "released, but C_Sign did not return";
  EXPECT_TRUE(t.verifies(message, signing.get()));
  EXPECT_EQ(t.counters->held(), 0u);
  EXPECT_EQ(log.size(), 0u) << "a held call returns normally";
  EXPECT_EQ(pool->stats().busy, 0u);
}

TEST(FaultShimTest, SessionsBeyondTheCapGetSessionCount) {
  ShimToken t;
  t.configure("max_sessions = 2\n");
  Session a = Session::open(t.module, t.info.slot, false);
  Session b = Session::open(t.module, t.info.slot, false);
  try {
    Session c = Session::open(t.module, t.info.slot, false);
    FAIL() << "a third session opened under a cap of two";
  } catch (const Error& e) {
    EXPECT_EQ(e.rv(), CKR_SESSION_COUNT);
    EXPECT_EQ(e.function(), "C_OpenSession");
  }
  // A closed session makes room again.
  { Session gone = std::move(b); }
  EXPECT_NO_THROW(Session::open(t.module, t.info.slot, false));
}

TEST(FaultShimTest, APoolLargerThanTheCapRefusesToOpenAndLeavesNoSessionBehind) {
  ShimToken t;
  t.configure("max_sessions = 3\n");
  try {
    t.pool(4);
    FAIL() << "a pool of four opened under a cap of three";
  } catch (const Error& e) {
    EXPECT_EQ(e.rv(), CKR_SESSION_COUNT) << e.what();
  }
  // The three it did open were closed: a pool of three fits, and signs.
  auto pool = t.pool(3);
  EXPECT_EQ(sign_many(t, *pool, 10).verified, 10);
}

TEST(FaultShimTest, LatencyIsAddedToEverySignCall) {
  ShimToken t;
  std::vector<std::chrono::nanoseconds> took;
  PoolOptions options;
  options.on_sign = [&](std::chrono::nanoseconds d) { took.push_back(d); };
  auto pool = t.pool(1, std::move(options));
  t.configure("sign.latency_ms = 20\nsign.jitter_ms = 5\n");
  SignRun r = sign_many(t, *pool, 5);
  EXPECT_EQ(r.verified, 5);
  ASSERT_EQ(took.size(), 5u);
  // C_SignInit and C_Sign each wait at least 20 ms; the pool's own sign timer sees it.
  for (auto d : took) EXPECT_GE(d, 40ms);
}

TEST(FaultShimTest, ASeededErrorRateFaultsTheSameCallsEveryTime) {
  ShimToken t;
  Session s = Session::open(t.module, t.info.slot, false);
  auto pattern = [&] {
    std::string p;
    for (int i = 0; i < 64; ++i) {
      CK_SESSION_INFO info{};
      p += t.module->fn()->C_GetSessionInfo(s.handle(), &info) == CKR_OK ? '.' : 'x';
    }
    return p;
  };
  // Rewriting the file restarts the sequence, even with the same content.
  t.configure("seed = 99\nall.error_rate = 0.25\nall.error = CKR_FUNCTION_FAILED\n");
  const std::string first = pattern();
  t.configure("seed = 99\nall.error_rate = 0.25\nall.error = CKR_FUNCTION_FAILED\n");
  EXPECT_EQ(pattern(), first);
  EXPECT_NE(first.find('x'), std::string::npos);
  EXPECT_NE(first.find('.'), std::string::npos);
  t.configure("seed = 100\nall.error_rate = 0.25\nall.error = CKR_FUNCTION_FAILED\n");
  EXPECT_NE(pattern(), first);
}

TEST(FaultShimTest, ABrokenConfigFileKeepsThePreviousSettings) {
  ShimToken t;
  Session s = Session::open(t.module, t.info.slot, false);
  t.configure("C_GetSessionInfo.error_rate = 1\nC_GetSessionInfo.error = CKR_DEVICE_ERROR\n");
  CK_SESSION_INFO info{};
  EXPECT_EQ(t.module->fn()->C_GetSessionInfo(s.handle(), &info), CKR_DEVICE_ERROR);
  t.configure("C_GetSessionInfo.error_rate = lots\n");
  EXPECT_EQ(t.module->fn()->C_GetSessionInfo(s.handle(), &info), CKR_DEVICE_ERROR);
  t.configure("");
  EXPECT_EQ(t.module->fn()->C_GetSessionInfo(s.handle(), &info), CKR_OK);
}

TEST(FaultShimTest, ThePoolComesBackWhenReopeningSessionsFailsToo) {
  // C_Sign fails and so do half the C_OpenSession calls the repair makes: a
  // caller may see an error, never a bad signature, and once the faults stop
  // the pool is whole again by itself.
  ShimToken t;
  // The pool's own repairs, not its circuit breaker (token_hang_test.cpp):
  // at these rates three failures in a row happen and would open it.
  PoolOptions options;
  options.breaker.failure_threshold = 1000;
  auto pool = t.pool(4, options);
  t.configure("seed = 5\nC_Sign.error_rate = 0.2\nC_Sign.error = CKR_DEVICE_ERROR\n"
              "C_OpenSession.error_rate = 0.5\nC_OpenSession.error = CKR_DEVICE_ERROR\n");
  const SignRun r = sign_from_threads(t, *pool, 4, 100);
  EXPECT_EQ(r.bad, 0);
  EXPECT_EQ(r.verified + r.failed, 400);
  EXPECT_GT(r.verified, 200);
  EXPECT_GT(t.counters->injected("C_OpenSession"), 0u);

  // Faults off: every caller signs again, four at once, with no restart. (A
  // session whose reopening failed stays closed until a caller leases it, so
  // stats().healthy may stay below 4 for a while under light load.)
  t.configure("");
  SignRun after = sign_from_threads(t, *pool, 4, 25);
  EXPECT_EQ(after.verified, 100);
  EXPECT_EQ(after.failed, 0);
}

}  // namespace
}  // namespace hsmca::token
