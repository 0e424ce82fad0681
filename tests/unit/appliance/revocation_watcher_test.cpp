#include "hsmca/appliance/revocation_watcher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "eventually.hpp"

namespace hsmca::appliance {
namespace {

using signer::RevocationVersion;
using namespace std::chrono_literals;

// The ledger as the watcher reads it: a version other threads change.
struct FakeLedger {
  std::mutex mutex;
  RevocationVersion version{};
  std::atomic<int> reads{0};
  std::atomic<bool> failing{false};

  RevocationVersion read() {
    ++reads;
    if (failing) throw std::runtime_error("database is locked");
    std::lock_guard lock(mutex);
    return version;
  }
  void revoke(std::int64_t at) {
    std::lock_guard lock(mutex);
    ++version.revoked;
    version.latest_revoked_at = at;
  }
};

// The watcher's own thread is what must make eventually(...) true.
using test::eventually;

TEST(RevocationWatcherTest, KnowsTheVersionFromTheStart) {
  FakeLedger ledger;
  ledger.revoke(100);
  RevocationWatcher watcher([&] { return ledger.read(); }, 10s);
  EXPECT_EQ(watcher.current(), (RevocationVersion{1, 100}));
}

TEST(RevocationWatcherTest, SeesARevocationElsewhereWithoutBeingAsked) {
  FakeLedger ledger;
  RevocationWatcher watcher([&] { return ledger.read(); }, 20ms);
  ledger.revoke(200);
  EXPECT_TRUE(eventually([&] { return watcher.current() == RevocationVersion{1, 200}; }));
}

TEST(RevocationWatcherTest, NeverGoesBackToAnOlderVersion) {
  FakeLedger ledger;
  RevocationWatcher watcher([&] { return ledger.read(); }, 10ms);
  // This process revoked; a read that began before it may still come back with the old version.
  watcher.advance({3, 300});
  const int seen = ledger.reads;
  ASSERT_TRUE(eventually([&] { return ledger.reads > seen + 2; }));
  EXPECT_EQ(watcher.current(), (RevocationVersion{3, 300}));
  watcher.advance({2, 400});  // fewer revocations: older, whatever its time
  EXPECT_EQ(watcher.current(), (RevocationVersion{3, 300}));
  watcher.advance({3, 301});
  EXPECT_EQ(watcher.current(), (RevocationVersion{3, 301}));
}

TEST(RevocationWatcherTest, AFailedReadKeepsTheLastVersionAndIsReported) {
  FakeLedger ledger;
  ledger.revoke(100);
  std::atomic<int> failures{0};
  RevocationWatcher watcher([&] { return ledger.read(); }, 10ms, [&](const std::exception&) { ++failures; });
  ledger.failing = true;
  ASSERT_TRUE(eventually([&] { return failures > 0; }));
  EXPECT_EQ(watcher.current(), (RevocationVersion{1, 100}));
  ledger.failing = false;
  ledger.revoke(150);
  EXPECT_TRUE(eventually([&] { return watcher.current() == RevocationVersion{2, 150}; }));
}

TEST(RevocationWatcherTest, AFirstReadThatFailsStopsTheStart) {
  FakeLedger ledger;
  ledger.failing = true;
  EXPECT_THROW(RevocationWatcher([&] { return ledger.read(); }, 10ms), std::runtime_error);
}

}  // namespace
}  // namespace hsmca::appliance
