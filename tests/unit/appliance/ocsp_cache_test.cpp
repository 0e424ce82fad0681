#include "hsmca/appliance/ocsp_cache.hpp"

#include <gtest/gtest.h>

namespace hsmca::appliance {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::shared_ptr<const OcspAnswer> answer(const std::string& der, Clock::time_point refresh_after,
                                         signer::OcspStatus::Status status = signer::OcspStatus::Status::good) {
  auto a = std::make_shared<OcspAnswer>();
  a->der = der;
  a->status.status = status;
  a->refresh_after = refresh_after;
  return a;
}

const signer::RevocationVersion kV1{0, 0};
const signer::RevocationVersion kV2{1, 1700000000};

TEST(OcspCacheTest, ServesAStoredAnswerWhileItsVersionIsCurrentAndItIsNotDue) {
  OcspCache cache(8);
  const auto now = Clock::now();
  cache.store("id-1", answer("resp-1", now + 1h), kV1);
  auto hit = cache.fresh("id-1", kV1, now);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->der, "resp-1");
  EXPECT_EQ(cache.fresh("id-2", kV1, now), nullptr) << "another CertID is another entry";
}

TEST(OcspCacheTest, AnAnswerConfirmedUnderAnOlderRevocationVersionIsNotServed) {
  OcspCache cache(8);
  const auto now = Clock::now();
  auto a = answer("resp-1", now + 1h);
  cache.store("id-1", a, kV1);
  EXPECT_EQ(cache.fresh("id-1", kV2, now), nullptr);
  EXPECT_EQ(cache.any("id-1"), a) << "still there to be re-confirmed";
  cache.confirm("id-1", a, kV2);
  EXPECT_EQ(cache.fresh("id-1", kV2, now), a);
}

TEST(OcspCacheTest, AnAnswerDueForRefreshIsNotServed) {
  OcspCache cache(8);
  const auto now = Clock::now();
  cache.store("id-1", answer("resp-1", now + 1s), kV1);
  EXPECT_NE(cache.fresh("id-1", kV1, now), nullptr);
  EXPECT_EQ(cache.fresh("id-1", kV1, now + 1s), nullptr);
}

TEST(OcspCacheTest, ConfirmingAnAnswerThatWasReplacedChangesNothing) {
  OcspCache cache(8);
  const auto now = Clock::now();
  auto old_answer = answer("good", now + 1h);
  cache.store("id-1", old_answer, kV1);
  auto revoked = answer("revoked", now + 1h, signer::OcspStatus::Status::revoked);
  cache.store("id-1", revoked, kV2);
  cache.confirm("id-1", old_answer, kV2);
  auto hit = cache.fresh("id-1", kV2, now);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->der, "revoked");
}

TEST(OcspCacheTest, StaysWithinItsCapacityWhateverClientsAsk) {
  OcspCache cache(3);
  const auto now = Clock::now();
  for (int i = 0; i < 100; ++i) cache.store("id-" + std::to_string(i), answer("r", now + 1h), kV1);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_NE(cache.fresh("id-99", kV1, now), nullptr) << "the newest answer is kept";
  cache.store("id-99", answer("r2", now + 1h), kV1);
  EXPECT_EQ(cache.size(), 3u) << "replacing an entry evicts nothing";
}

}  // namespace
}  // namespace hsmca::appliance
