#include "hsmca/appliance/ocsp_service.hpp"

#include <algorithm>

#include "exchange.hpp"

namespace hsmca::appliance {
namespace {

std::string bytes_text(const signer::Bytes& b) { return std::string(b.begin(), b.end()); }

bool same_status(const signer::OcspStatus& a, const signer::OcspStatus& b) {
  return a.status == b.status && a.revoked_at == b.revoked_at && a.reason == b.reason;
}

std::string_view status_label(const signer::OcspStatus& s) {
  switch (s.status) {
    case signer::OcspStatus::Status::good:
      return "good";
    case signer::OcspStatus::Status::revoked:
      return "revoked";
    case signer::OcspStatus::Status::unknown:
      break;
  }
  return "unknown";
}

}  // namespace

OcspService::OcspService(OcspSigners signers, Options options, StatusLookup lookup, ReadVersion read_version,
                         RevocationWatcher& revocations, Submit submit, Metrics& metrics, const signer::Clock& clock)
    : signers_(signers),
      options_(options),
      lookup_(std::move(lookup)),
      read_version_(std::move(read_version)),
      revocations_(revocations),
      submit_(std::move(submit)),
      metrics_(metrics),
      clock_(clock),
      cache_(options.cache_entries),
      fresh_signatures_(options.fresh_signatures_per_second, std::max(1, options.fresh_signatures_per_second),
                        clock.steady()) {
  using signer::OcspResponder;
  using signer::OcspResponseStatus;
  malformed_ = bytes_text(OcspResponder::error_response(OcspResponseStatus::malformed_request));
  unauthorized_ = bytes_text(OcspResponder::error_response(OcspResponseStatus::unauthorized));
  try_later_ = bytes_text(OcspResponder::error_response(OcspResponseStatus::try_later));
  internal_error_ = bytes_text(OcspResponder::error_response(OcspResponseStatus::internal_error));
}

OcspReply OcspService::unsigned_reply(unsigned http_status, std::string_view status) const {
  OcspReply r;
  r.http_status = http_status;
  r.status = status;
  r.source = "none";
  r.der = status == "malformedRequest" ? malformed_
          : status == "unauthorized"   ? unauthorized_
          : status == "tryLater"       ? try_later_
                                       : internal_error_;
  return r;
}

// The token or the ledger away: try later (RFC 6960 4.2.1); anything else is ours.
OcspReply OcspService::failure_reply(const std::exception& e) const {
  return failure_for(e).status == 503 ? unsigned_reply(503, "tryLater") : unsigned_reply(500, "internalError");
}

OcspReply OcspService::malformed(unsigned http_status) const { return unsigned_reply(http_status, "malformedRequest"); }

const signer::OcspResponder& OcspService::responder(std::chrono::system_clock::time_point next_update) const {
  const auto now = clock_.now();
  if (signers_.delegated && signers_.delegated_from <= now && next_update <= signers_.delegated_until) {
    return *signers_.delegated;
  }
  return *signers_.issuer;
}

void OcspService::answer(std::span<const unsigned char> request_der, Reply reply) {
  auto parsed = signer::parse_ocsp_request(request_der);
  if (!parsed.ok()) return reply(malformed(200));
  const auto& query = parsed.value();
  if (query.requests.size() == 1) {
    reply = [reply = std::move(reply), serial = query.requests.front().serial_hex](OcspReply r) {
      r.serial = serial;
      reply(std::move(r));
    };
  }
  bool ours = false;
  for (const auto& id : query.requests) ours = ours || signers_.issuer->issued_by_us(id);
  // RFC 5019 2.2.3: about certificates of another CA, unsigned.
  if (!ours) return reply(unsigned_reply(200, "unauthorized"));
  // An answer for this request alone costs a signature: within the budget
  // only. Beyond it a nonce is left out (RFC 8954 3 lets a responder ignore
  // it) and the cached answer serves; several certificates get tryLater.
  if (query.requests.size() != 1 || query.nonce) {
    if (fresh_signatures_.try_take(clock_.steady())) {
      if (!submit_([this, query = query, reply] { answer_fresh(query, reply); })) {
        reply(unsigned_reply(503, "tryLater"));
      }
      return;
    }
    metrics_.count_ocsp_over_budget(query.requests.size() != 1 ? "several" : "nonce");
    if (query.requests.size() != 1) return reply(unsigned_reply(503, "tryLater"));
  }

  const auto& id = query.requests.front();
  const std::string key(id.der.begin(), id.der.end());
  if (auto hit = cache_.fresh(key, revocations_.current(), clock_.steady())) {
    OcspReply r;
    r.der = hit->der;
    r.status = status_label(hit->status);
    r.source = "cache";
    r.cacheable = std::move(hit);
    return reply(std::move(r));
  }
  {
    std::lock_guard lock(mutex_);
    auto [waiting, first] = waiting_.try_emplace(key);
    waiting->second.push_back(reply);
    if (!first) return;  // a worker is already on it
  }
  if (!submit_([this, id] { answer_cached(id); })) {
    std::vector<Reply> waiters;
    {
      std::lock_guard lock(mutex_);
      waiters = std::move(waiting_[key]);
      waiting_.erase(key);
    }
    for (const auto& w : waiters) w(unsigned_reply(503, "tryLater"));
  }
}

void OcspService::answer_cached(const signer::CertId& id) {
  const std::string key(id.der.begin(), id.der.end());
  std::shared_ptr<const OcspAnswer> answer;
  bool signed_now = false;
  OcspReply failure;
  std::vector<Reply> waiters;
  for (int round = 0;; ++round) {
    answer.reset();
    signed_now = false;
    signer::RevocationVersion version;
    try {
      // The version is read before the status: a revocation in between makes
      // the answer look stale at once, never hides the revocation.
      version = read_version_();
      revocations_.advance(version);
      const auto status = lookup_(id.serial_hex);
      const auto steady_now = clock_.steady();
      auto cached = cache_.any(key);
      if (cached && same_status(cached->status, status) && steady_now < cached->refresh_after) {
        cache_.confirm(key, cached, version);
        answer = std::move(cached);
      } else if (status.status == signer::OcspStatus::Status::unknown && !fresh_signatures_.try_take(steady_now)) {
        // Serials nobody issued are what a flood of random requests asks
        // about: past the budget they get an unsigned unauthorized (RFC 5019 2.2.3).
        metrics_.count_ocsp_over_budget("unknown");
        failure = unsigned_reply(200, "unauthorized");
      } else {
        const auto validity = options_.validity;
        auto made = std::make_shared<OcspAnswer>();
        made->status = status;
        made->this_update = std::chrono::time_point_cast<std::chrono::seconds>(clock_.now());
        made->next_update = made->this_update + validity;
        made->refresh_after =
            steady_now + (status.status == signer::OcspStatus::Status::unknown
                              ? std::min<std::chrono::steady_clock::duration>(options_.unknown_recheck, validity / 2)
                              : std::chrono::steady_clock::duration(validity / 2));
        made->der = bytes_text(responder(made->next_update).respond_one(id, status, made->this_update, made->next_update));
        cache_.store(key, made, version);
        answer = std::move(made);
        signed_now = true;
      }
    } catch (const std::exception& e) {
      failure = failure_reply(e);
    }
    std::lock_guard lock(mutex_);
    // Waiters join under this lock; one that joined after the watcher saw a
    // newer revocation than this round read must not get its answer: look
    // again (the ledger's version only grows, so a round or two suffices).
    if (answer && round < 3 && !at_least(version, revocations_.current())) continue;
    waiters = std::move(waiting_[key]);
    waiting_.erase(key);
    break;
  }
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    if (!answer) {
      waiters[i](failure);
      continue;
    }
    // The first waiter's answer was signed now, or re-confirmed by a ledger
    // read; the rest shared it.
    OcspReply r;
    r.der = answer->der;
    r.status = status_label(answer->status);
    r.source = i > 0 ? "cache" : signed_now ? "signed" : "ledger";
    r.cacheable = answer;
    waiters[i](std::move(r));
  }
}

void OcspService::answer_fresh(const signer::OcspQuery& query, const Reply& reply) {
  OcspReply r;
  try {
    const auto this_update = std::chrono::time_point_cast<std::chrono::seconds>(clock_.now());
    const auto next_update = this_update + options_.validity;
    r.status = query.requests.size() == 1 ? "good" : "several";
    auto lookup = [&](const std::string& serial) {
      auto status = lookup_(serial);
      if (query.requests.size() == 1) r.status = status_label(status);
      return status;
    };
    r.der = bytes_text(responder(next_update).respond(query, lookup, this_update, next_update));
    r.source = "signed";
  } catch (const std::exception& e) {
    r = failure_reply(e);
  }
  reply(std::move(r));
}

}  // namespace hsmca::appliance
