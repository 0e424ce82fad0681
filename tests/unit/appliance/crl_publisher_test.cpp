#include "hsmca/appliance/crl_publisher.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <deque>

#include "fake_clock.hpp"
#include "hsmca/appliance/work_pool.hpp"

namespace hsmca::appliance {
namespace {

using namespace std::chrono_literals;

// A publisher whose "signatures" are counted, whose worker jobs wait in a
// queue until the test runs them, and whose time the test moves.
class CrlPublisherTest : public ::testing::Test {
 protected:
  CrlPublisherTest()
      : watcher_([this] { return ledger_version(); }, std::chrono::hours(1)),
        publisher_([this] { return ledger_version(); }, [this](const auto& v) { return sign(v); }, watcher_,
                   [this](std::function<void()> job) {
                     if (refuse_jobs_) return false;
                     jobs_.push_back(std::move(job));
                     return true;
                   },
                   clock_) {}

  PublishedCrl sign(const signer::RevocationVersion& version) {
    if (token_away_) throw signer::TokenUnavailable("C_Sign: CKR_DEVICE_REMOVED");
    PublishedCrl crl;
    crl.number = ++signatures_;
    crl.der = "crl " + std::to_string(crl.number);
    crl.version = version;
    crl.this_update = clock_.now();
    crl.next_update = clock_.now() + 24h;
    crl.refresh_after = clock_.steady() + 12h;
    return crl;
  }

  // What get() answered; "error: ..." for an error, "" while it waits.
  std::shared_ptr<std::string> get() {
    auto answer = std::make_shared<std::string>();
    publisher_.get([answer](std::shared_ptr<const PublishedCrl> crl, std::exception_ptr error) {
      if (crl) {
        *answer = crl->der;
        return;
      }
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        *answer = std::string("error: ") + e.what();
      }
    });
    return answer;
  }

  void run_jobs() {
    while (!jobs_.empty()) {
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      job();
    }
  }

  signer::RevocationVersion ledger_version() {
    std::lock_guard lock(mutex_);
    return ledger_version_;
  }
  void revoke_one() {
    std::lock_guard lock(mutex_);
    ++ledger_version_.revoked;
    ++ledger_version_.latest_revoked_at;
  }

  test::FakeClock clock_;
  std::mutex mutex_;  // the watcher's thread reads the version too
  signer::RevocationVersion ledger_version_;
  RevocationWatcher watcher_;
  std::deque<std::function<void()>> jobs_;
  bool refuse_jobs_ = false;
  bool token_away_ = false;
  int signatures_ = 0;
  CrlPublisher publisher_;
};

TEST_F(CrlPublisherTest, SignsOnceAndServesThatCrlUntilHalfItsValidity) {
  auto first = get();
  EXPECT_EQ(*first, "") << "nothing signed yet: the caller waits for a worker";
  auto second = get();
  run_jobs();
  EXPECT_EQ(*first, "crl 1");
  EXPECT_EQ(*second, "crl 1") << "callers waiting together share one signature";
  clock_.advance(11h);
  EXPECT_EQ(*get(), "crl 1");
  EXPECT_TRUE(jobs_.empty());
  clock_.advance(1h);
  EXPECT_EQ(*get(), "crl 1") << "due for refresh, but still valid and complete: served while the new one is signed";
  run_jobs();
  EXPECT_EQ(*get(), "crl 2");
  EXPECT_EQ(signatures_, 2);
}

TEST_F(CrlPublisherTest, NeverServesACrlThatLacksARevocationTheWatcherHasSeen) {
  get();
  run_jobs();
  revoke_one();
  watcher_.advance(ledger_version());
  auto after = get();
  EXPECT_EQ(*after, "") << "the CRL signed before the revocation is no answer";
  run_jobs();
  EXPECT_EQ(*after, "crl 2");
}

TEST_F(CrlPublisherTest, AnErrorReachesTheWaitersAndTheNextRequestTriesAgain) {
  token_away_ = true;
  auto failed = get();
  run_jobs();
  EXPECT_EQ(*failed, "error: C_Sign: CKR_DEVICE_REMOVED");
  token_away_ = false;
  auto retried = get();
  run_jobs();
  EXPECT_EQ(*retried, "crl 1");
}

TEST_F(CrlPublisherTest, AFullWorkQueueAnswersBusy) {
  refuse_jobs_ = true;
  EXPECT_EQ(*get(), "error: " + std::string(Busy().what()));
  refuse_jobs_ = false;
  auto next = get();
  run_jobs();
  EXPECT_EQ(*next, "crl 1");
}

TEST_F(CrlPublisherTest, ACrlPastItsNextUpdateIsNoAnswer) {
  get();
  run_jobs();
  clock_.advance(25h);
  auto late = get();
  EXPECT_EQ(*late, "");
  run_jobs();
  EXPECT_EQ(*late, "crl 2");
}

}  // namespace
}  // namespace hsmca::appliance
