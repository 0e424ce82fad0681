#include "hsmca/appliance/metrics.hpp"

#include <algorithm>
#include <string_view>

namespace hsmca::appliance {
namespace detail {

template <std::size_t N>
void LabelledCounter<N>::add(const KeyView& labels, std::uint64_t n) {
  {
    std::shared_lock lock(mutex_);
    if (auto it = series_.find(labels); it != series_.end()) {
      it->second.fetch_add(n, std::memory_order_relaxed);
      return;
    }
  }
  std::unique_lock lock(mutex_);
  auto it = series_.find(labels);  // another thread may have added it meanwhile
  if (it == series_.end()) {
    Key key;
    if (series_.size() < kMaxSeries) {
      for (std::size_t i = 0; i < N; ++i) key[i] = labels[i];
    } else {
      key.fill("other");
    }
    it = series_.try_emplace(std::move(key), 0).first;
  }
  it->second.fetch_add(n, std::memory_order_relaxed);
}

template <std::size_t N>
void LabelledCounter<N>::for_each(const std::function<void(const Key&, std::uint64_t)>& f) const {
  std::shared_lock lock(mutex_);
  for (const auto& [key, value] : series_) f(key, value.load(std::memory_order_relaxed));
}

template class LabelledCounter<1>;
template class LabelledCounter<2>;

}  // namespace detail

namespace {

// Exact decimal seconds from nanoseconds, without a float's rounding:
// 50'000 -> "0.00005", 1'000'000'000 -> "1", 1'500'000'000 -> "1.5".
std::string seconds_text(std::uint64_t ns) {
  std::string out = std::to_string(ns / 1'000'000'000);
  std::string fraction = std::to_string(ns % 1'000'000'000);
  fraction.insert(0, 9 - fraction.size(), '0');
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  if (!fraction.empty()) out += "." + fraction;
  return out;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

template <std::size_t N>
void labelled(std::string& out, std::string_view name, const std::array<std::string_view, N>& label_names,
              const detail::LabelledCounter<N>& counter) {
  counter.for_each([&](const std::array<std::string, N>& values, std::uint64_t value) {
    out.append(name).append("{");
    for (std::size_t i = 0; i < N; ++i) {
      if (i > 0) out += ',';
      out.append(label_names[i]).append("=\"").append(escape_label_value(values[i])).append("\"");
    }
    out.append("} ").append(std::to_string(value)).append("\n");
  });
}

template <typename T>
void sample(std::string& out, std::string_view name, T value) {
  out.append(name).append(" ").append(std::to_string(value)).append("\n");
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

void Metrics::count_issuance(const std::string& profile, const std::string& result) {
  issuances_.add({profile, result});
}

void Metrics::count_ocsp(std::string_view status, std::string_view source) { ocsp_responses_.add({status, source}); }

void Metrics::count_ocsp_over_budget(std::string_view kind) { ocsp_over_budget_.add({kind}); }

void Metrics::observe_token_sign(std::chrono::nanoseconds duration) {
  const auto ns = static_cast<std::uint64_t>(std::max<std::chrono::nanoseconds::rep>(duration.count(), 0));
  std::size_t bucket = 0;
  while (bucket < kSignBucketsNs.size() && ns > kSignBucketsNs[bucket]) ++bucket;  // le: upper bound inclusive
  sign_buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sign_sum_ns_.fetch_add(ns, std::memory_order_relaxed);
}

void Metrics::count_token_error(const std::string& rv_name) { token_errors_.add({rv_name}); }
void Metrics::count_token_outage() noexcept { token_outages_.fetch_add(1, std::memory_order_relaxed); }

void Metrics::count_http(const std::string& route, unsigned status) {
  // A status code fits the small-string buffer: no allocation for an existing series.
  const std::string code = std::to_string(status);
  http_requests_.add({route, code});
}

void Metrics::request_started() noexcept { in_flight_.fetch_add(1, std::memory_order_relaxed); }
void Metrics::request_finished() noexcept { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

std::string Metrics::render(const token::PoolStats& pool) const {
  std::string out;
  out.reserve(4096);

  header(out, "hsmca_issuances_total", "counter", "Certificate requests decided, by profile and result (issued, rejected, error).");
  labelled<2>(out, "hsmca_issuances_total", {"profile", "result"}, issuances_);

  header(out, "hsmca_token_sign_seconds", "histogram", "Time the token took to make one signature.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < sign_buckets_.size(); ++i) {
    cumulative += sign_buckets_[i].load(std::memory_order_relaxed);
    const std::string le = i < kSignBucketsNs.size() ? seconds_text(kSignBucketsNs[i]) : "+Inf";
    out.append("hsmca_token_sign_seconds_bucket{le=\"").append(le).append("\"} ").append(std::to_string(cumulative)).append("\n");
  }
  out.append("hsmca_token_sign_seconds_sum ").append(seconds_text(sign_sum_ns_.load(std::memory_order_relaxed))).append("\n");
  sample(out, "hsmca_token_sign_seconds_count", cumulative);

  header(out, "hsmca_token_errors_total", "counter", "PKCS#11 faults seen by the session pool, by CK_RV name.");
  labelled<1>(out, "hsmca_token_errors_total", {"rv"}, token_errors_);

  header(out, "hsmca_http_requests_total", "counter", "HTTP requests answered, by route pattern and status.");
  labelled<2>(out, "hsmca_http_requests_total", {"route", "status"}, http_requests_);

  header(out, "hsmca_ocsp_responses_total", "counter",
         "OCSP responses sent, by certificate status or error and by source (cache, ledger, signed, none).");
  labelled<2>(out, "hsmca_ocsp_responses_total", {"status", "source"}, ocsp_responses_);
  header(out, "hsmca_ocsp_over_budget_total", "counter",
         "OCSP answers that would have needed a token signature beyond the responder's budget, by kind.");
  labelled<1>(out, "hsmca_ocsp_over_budget_total", {"kind"}, ocsp_over_budget_);

  header(out, "hsmca_http_requests_in_flight", "gauge", "HTTP requests being handled now.");
  sample(out, "hsmca_http_requests_in_flight", in_flight_.load(std::memory_order_relaxed));

  header(out, "hsmca_token_sessions_total", "gauge", "Sessions in the token session pool.");
  sample(out, "hsmca_token_sessions_total", pool.total);
  header(out, "hsmca_token_sessions_busy", "gauge", "Token sessions leased to a signing call now.");
  sample(out, "hsmca_token_sessions_busy", pool.busy);
  header(out, "hsmca_token_sessions_healthy", "gauge", "Token sessions open and logged in, as far as the pool knows.");
  sample(out, "hsmca_token_sessions_healthy", pool.healthy);
  header(out, "hsmca_token_recoveries_total", "counter", "Token sessions rebuilt after a fault.");
  sample(out, "hsmca_token_recoveries_total", pool.recoveries);
  header(out, "hsmca_token_sessions_stuck", "gauge",
         "Token sessions inside a call for longer than pkcs11.call_timeout_ms, set aside until it returns.");
  sample(out, "hsmca_token_sessions_stuck", pool.stuck);
  header(out, "hsmca_token_available", "gauge",
         "1 while the token is called, 0 while its circuit breaker refuses calls (an outage).");
  sample(out, "hsmca_token_available", pool.outage ? 0 : 1);
  header(out, "hsmca_token_outages_total", "counter", "Token outages: times the circuit breaker opened.");
  sample(out, "hsmca_token_outages_total", token_outages_.load(std::memory_order_relaxed));
  return out;
}

}  // namespace hsmca::appliance
