#pragma once
// Prometheus text exposition (format 0.0.4) of the appliance's counters.
// Every update is lock-free or takes one short lock: it runs on the hot path.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "hsmca/token/session_pool.hpp"

namespace hsmca::appliance {
namespace detail {

// Counters keyed by N label values. An existing series is bumped under a
// shared lock (many threads at once); only a new label combination takes the
// exclusive lock. Past kMaxSeries combinations further ones are counted under
// the value "other" for every label, so a client cannot grow the exposition
// without bound.
template <std::size_t N>
class LabelledCounter {
 public:
  static constexpr std::size_t kMaxSeries = 512;
  using Key = std::array<std::string, N>;
  using KeyView = std::array<std::string_view, N>;

  // Defined in metrics.cpp for N = 1 and 2.
  void add(const KeyView& labels, std::uint64_t n = 1);
  // Calls `f(labels, value)` for each series in label order, under the shared lock.
  void for_each(const std::function<void(const Key&, std::uint64_t)>& f) const;

 private:
  struct Less {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      for (std::size_t i = 0; i < N; ++i) {
        const std::string_view x = a[i];
        const std::string_view y = b[i];
        if (x != y) return x < y;
      }
      return false;
    }
  };
  mutable std::shared_mutex mutex_;
  // std::map nodes never move, so the atomics stay put while the map grows.
  std::map<Key, std::atomic<std::uint64_t>, Less> series_;
};

}  // namespace detail

class Metrics {
 public:
  // hsmca_token_sign_seconds bucket upper bounds (le), in nanoseconds: 50 us .. 1 s.
  static constexpr std::array<std::uint64_t, 14> kSignBucketsNs = {
      50'000,      100'000,     250'000,     500'000,     1'000'000,   2'500'000,   5'000'000,
      10'000'000,  25'000'000,  50'000'000,  100'000'000, 250'000'000, 500'000'000, 1'000'000'000};

  // hsmca_issuances_total{profile,result}: result "issued", "rejected", "error"
  void count_issuance(const std::string& profile, const std::string& result);
  // hsmca_token_sign_seconds histogram (buckets from 50 us to 1 s)
  void observe_token_sign(std::chrono::nanoseconds duration);
  // hsmca_token_errors_total{rv}: rv as its CKR_ name
  void count_token_error(const std::string& rv_name);
  // hsmca_token_outages_total: the token's circuit breaker opened
  void count_token_outage() noexcept;
  // hsmca_http_requests_total{route,status}; route is the matched pattern, never the raw path
  void count_http(const std::string& route, unsigned status);
  // hsmca_ocsp_responses_total{status,source}: status "good", "revoked",
  // "unknown" or the error (malformedRequest, unauthorized, tryLater,
  // internalError, or "several" for a request about more than one); source
  // "cache", "ledger" (a cached answer re-confirmed by a ledger read), "signed",
  // or "none" for the unsigned errors
  void count_ocsp(std::string_view status, std::string_view source);
  // hsmca_ocsp_over_budget_total{kind}: answers that would have cost a token
  // signature beyond revocation.ocsp_fresh_signatures_per_second; kind "nonce"
  // (answered without it, from the cache), "several" (tryLater), "unknown" (unauthorized)
  void count_ocsp_over_budget(std::string_view kind);
  // hsmca_http_requests_in_flight gauge
  void request_started() noexcept;
  void request_finished() noexcept;
  std::int64_t in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }

  // The whole exposition, with the pool's gauges (hsmca_token_sessions_busy,
  // hsmca_token_sessions_total, hsmca_token_sessions_healthy, hsmca_token_recoveries_total,
  // hsmca_token_sessions_stuck, hsmca_token_available, hsmca_token_outages_total)
  // and any extra gauge lines the caller appends. Ends with a newline.
  std::string render(const token::PoolStats& pool) const;

 private:
  detail::LabelledCounter<2> issuances_;
  detail::LabelledCounter<1> token_errors_;
  detail::LabelledCounter<2> http_requests_;
  detail::LabelledCounter<2> ocsp_responses_;
  detail::LabelledCounter<1> ocsp_over_budget_;
  // Per bucket, not cumulative (the last one is +Inf); render() adds them up,
  // so _count (the sum) always agrees with the +Inf bucket.
  std::array<std::atomic<std::uint64_t>, kSignBucketsNs.size() + 1> sign_buckets_{};
  std::atomic<std::uint64_t> sign_sum_ns_{0};
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::uint64_t> token_outages_{0};
};

// A Prometheus label value: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);

}  // namespace hsmca::appliance
