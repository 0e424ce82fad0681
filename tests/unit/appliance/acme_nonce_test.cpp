#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "acme_jws.hpp"
#include "fake_clock.hpp"

namespace hsmca::appliance::acme {
namespace {

using namespace std::chrono_literals;

TEST(NonceStoreTest, IssuesDistinct128BitBase64urlNonces) {
  test::FakeClock clock;
  NonceStore store(clock);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string nonce = store.issue();
    ASSERT_EQ(nonce.size(), 22u) << nonce;
    const std::optional<Bytes> bytes = base64url_decode(nonce);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(bytes->size(), 16u);
    EXPECT_TRUE(seen.insert(nonce).second) << "repeated: " << nonce;
  }
}

TEST(NonceStoreTest, AcceptsEachNonceOnce) {
  test::FakeClock clock;
  NonceStore store(clock);
  const std::string a = store.issue();
  const std::string b = store.issue();
  EXPECT_TRUE(store.consume(b));
  EXPECT_FALSE(store.consume(b)) << "a replay";
  EXPECT_TRUE(store.consume(a));
  EXPECT_FALSE(store.consume(a));
  EXPECT_EQ(store.outstanding(), 0u);
}

TEST(NonceStoreTest, RefusesNoncesItDidNotIssue) {
  test::FakeClock clock;
  NonceStore store(clock);
  const std::string mine = store.issue();
  std::string altered = mine;
  altered[0] = altered[0] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(store.consume(altered));
  EXPECT_FALSE(store.consume(""));
  EXPECT_FALSE(store.consume("AAAAAAAAAAAAAAAAAAAAAA"));
  EXPECT_FALSE(store.consume(mine + "A"));
  EXPECT_FALSE(store.consume(std::string(100000, 'A')));
  NonceStore other(clock);
  EXPECT_FALSE(other.consume(mine)) << "another store's nonce";
  EXPECT_TRUE(store.consume(mine));
}

TEST(NonceStoreTest, ANonceExpiresAfterItsLifetime) {
  test::FakeClock clock;
  NonceStore store(clock, 16, 60s);
  const std::string early = store.issue();
  clock.advance(59s);
  const std::string late = store.issue();
  EXPECT_TRUE(store.consume(early)) << "59 s old";
  clock.advance(60s);
  EXPECT_FALSE(store.consume(late)) << "60 s old";
  EXPECT_FALSE(store.consume(late)) << "and gone";
}

TEST(NonceStoreTest, MemoryIsBoundedAndTheOldestUnusedNonceGoesFirst) {
  test::FakeClock clock;
  NonceStore store(clock, 4);
  std::vector<std::string> issued;
  for (int i = 0; i < 6; ++i) issued.push_back(store.issue());
  EXPECT_EQ(store.outstanding(), 4u);
  EXPECT_FALSE(store.consume(issued[0]));
  EXPECT_FALSE(store.consume(issued[1]));
  for (int i = 2; i < 6; ++i) EXPECT_TRUE(store.consume(issued[static_cast<std::size_t>(i)])) << i;
  for (int i = 0; i < 100000; ++i) store.issue();
  EXPECT_EQ(store.outstanding(), 4u);
}

TEST(NonceStoreTest, ConsumedSlotsAreReused) {
  test::FakeClock clock;
  NonceStore store(clock, 2);
  for (int i = 0; i < 10; ++i) {
    const std::string nonce = store.issue();
    EXPECT_TRUE(store.consume(nonce)) << i;
  }
  EXPECT_EQ(store.outstanding(), 0u);
}

TEST(NonceStoreTest, ManyThreadsNeverAcceptANonceTwice) {
  test::FakeClock clock;
  NonceStore store(clock, 1 << 17);  // room for all 100000: none pushed out
  std::vector<std::string> issued;
  for (int i = 0; i < 20000; ++i) issued.push_back(store.issue());
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (const std::string& nonce : issued) {
        if (store.consume(nonce)) accepted.fetch_add(1);
        store.issue();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 20000);
}

}  // namespace
}  // namespace hsmca::appliance::acme
