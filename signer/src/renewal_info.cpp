#include "hsmca/signer/renewal_info.hpp"

#include <algorithm>

namespace hsmca::signer {
namespace {

constexpr std::int64_t kMinRetry = 60;
constexpr std::int64_t kMaxRetry = 6 * 3600;
constexpr std::int64_t kWeek = 7 * 86400;

// A window wholly in the past: RFC 9773 4.2, the client renews at once.
RenewalSuggestion now_please(std::int64_t now, std::string reason) {
  return {now - 2 * 3600, now - 3600, kMinRetry, std::move(reason)};
}

}  // namespace

RenewalSuggestion suggest_renewal(const LedgerEntry& entry, const IssuerStanding& issuer, std::int64_t now) {
  if (entry.status == CertificateStatus::revoked) return now_please(now, "revoked");
  if (!issuer.current && entry.record.not_after > now) {
    // Not urgent, but soon: spread over a third of what is left (an hour to
    // a week), so that a rollover does not bring every client back at once.
    const std::int64_t spread = std::clamp<std::int64_t>((entry.record.not_after - now) / 3, 3600, kWeek);
    return {now, now + spread, std::clamp<std::int64_t>(spread / 12, kMinRetry, kMaxRetry),
            "issued by a key the CA no longer signs with"};
  }
  const std::int64_t not_before = entry.record.not_before;
  std::int64_t not_after = entry.record.not_after;
  std::string reason;
  if (issuer.not_after && *issuer.not_after < not_after) {
    not_after = *issuer.not_after;
    reason = "the issuer's certificate expires first";
  }
  const std::int64_t life = std::max<std::int64_t>(not_after - not_before, 6);
  RenewalSuggestion s;
  s.start = not_before + life * 2 / 3;
  s.end = not_before + life * 5 / 6;
  s.retry_after = std::clamp<std::int64_t>(life / 12, kMinRetry, kMaxRetry);
  s.reason = std::move(reason);
  if (s.end <= now && !s.reason.empty()) return now_please(now, s.reason);
  return s;
}

}  // namespace hsmca::signer
