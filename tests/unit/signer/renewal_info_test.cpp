// When the CA tells an ACME client to renew (RFC 9773): inside the
// certificate's life as usual, at once when it is revoked or its issuer key
// was replaced, and earlier when the issuer's certificate expires first.
#include "hsmca/signer/renewal_info.hpp"

#include <gtest/gtest.h>

namespace hsmca::signer {
namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kIssued = 1'800'000'000;

LedgerEntry certificate(std::int64_t days, CertificateStatus status = CertificateStatus::issued) {
  LedgerEntry e;
  e.record.not_before = kIssued;
  e.record.not_after = kIssued + days * kDay;
  e.status = status;
  return e;
}

TEST(SuggestRenewalTest, ANinetyDayCertificateIsRenewedBetweenDaySixtyAndDaySeventyFive) {
  const auto s = suggest_renewal(certificate(90), {}, kIssued + kDay);
  EXPECT_EQ(s.start, kIssued + 60 * kDay);
  EXPECT_EQ(s.end, kIssued + 75 * kDay);
  EXPECT_EQ(s.retry_after, 6 * 3600) << "look again at most every six hours";
  EXPECT_TRUE(s.reason.empty());
}

TEST(SuggestRenewalTest, AShortLivedCertificateHasAWindowInsideItsLifeAndIsAskedAboutOften) {
  const auto day = certificate(1);
  const auto s = suggest_renewal(day, {}, kIssued);
  EXPECT_GT(s.end, s.start);
  EXPECT_GT(s.start, day.record.not_before);
  EXPECT_LT(s.end, day.record.not_after);
  EXPECT_EQ(s.retry_after, 2 * 3600) << "a twelfth of a day";
  // Even a certificate of a few seconds gets a window whose end is after its start (RFC 9773 4.2).
  LedgerEntry tiny = day;
  tiny.record.not_after = tiny.record.not_before + 1;
  const auto t = suggest_renewal(tiny, {}, kIssued);
  EXPECT_GT(t.end, t.start);
  EXPECT_EQ(t.retry_after, 60);
}

TEST(SuggestRenewalTest, ARevokedCertificateIsToBeRenewedNow) {
  const std::int64_t now = kIssued + 3 * kDay;
  const auto s = suggest_renewal(certificate(90, CertificateStatus::revoked), {}, now);
  EXPECT_LT(s.start, s.end);
  EXPECT_LT(s.end, now) << "a window in the past: renew at once";
  EXPECT_EQ(s.reason, "revoked");
}

TEST(SuggestRenewalTest, ACertificateFromAKeyTheCaNoLongerSignsWithIsRenewedSoonButSpreadOut) {
  const std::int64_t now = kIssued + 3 * kDay;
  const auto s = suggest_renewal(certificate(90), IssuerStanding{false, std::nullopt}, now);
  EXPECT_EQ(s.start, now);
  EXPECT_EQ(s.end, now + 7 * kDay) << "a third of the 87 days left, at most a week: not every client at once";
  EXPECT_FALSE(s.reason.empty());
  // Near its end, an hour at least.
  const auto late = suggest_renewal(certificate(90), IssuerStanding{false, std::nullopt}, kIssued + 90 * kDay - 60);
  EXPECT_EQ(late.end - late.start, 3600);
}

TEST(SuggestRenewalTest, AnIssuerThatExpiresFirstMovesTheWindowEarlier) {
  // The issuer's certificate ends on day 30 of a 90-day certificate: the window is over the 30 days it verifies.
  const auto s = suggest_renewal(certificate(90), IssuerStanding{true, kIssued + 30 * kDay}, kIssued + kDay);
  EXPECT_EQ(s.start, kIssued + 20 * kDay);
  EXPECT_EQ(s.end, kIssued + 25 * kDay);
  EXPECT_NE(s.reason.find("issuer"), std::string::npos);
  // Once even that window has passed: now.
  const std::int64_t late = kIssued + 29 * kDay;
  EXPECT_LT(suggest_renewal(certificate(90), IssuerStanding{true, kIssued + 30 * kDay}, late).end, late);
  // An issuer that outlives the certificate changes nothing.
  const auto later = suggest_renewal(certificate(90), IssuerStanding{true, kIssued + 900 * kDay}, kIssued);
  EXPECT_EQ(later.start, kIssued + 60 * kDay);
  EXPECT_TRUE(later.reason.empty());
}

}  // namespace
}  // namespace hsmca::signer
