#include "crl_handler.hpp"

#include <algorithm>

#include "hsmca/appliance/ocsp_http.hpp"
#include "log.hpp"

namespace hsmca::appliance {
namespace {

// How long an HTTP cache may keep GET /crl's answer.
constexpr std::chrono::seconds kCrlMaxAge{300};

std::vector<X509*> chain_of(signer::CertificateAuthority& ca) {
  std::vector<X509*> chain;
  for (const auto& c : ca.chain()) chain.push_back(c.get());
  return chain;
}

}  // namespace

CrlHandler::CrlHandler(const ServiceState& state)
    : state_(state),
      publisher_([&issuing = state.issuing] { return issuing.ledger().revocation_version(issuing.ca().issuer_id()); },
                 [&state](const signer::RevocationVersion& version) {
                   const auto validity = std::chrono::hours{state.ca_config.revocation.crl_validity_hours};
                   const auto signed_crl = state.issuing.ca().issue_crl(validity);
                   PublishedCrl made;
                   made.der.assign(signed_crl.der.begin(), signed_crl.der.end());
                   made.number = signed_crl.number;
                   made.version = version;
                   made.this_update = std::chrono::system_clock::time_point{std::chrono::seconds{signed_crl.this_update}};
                   made.next_update = std::chrono::system_clock::time_point{std::chrono::seconds{signed_crl.next_update}};
                   made.refresh_after = state.clock.steady() + validity / 2;
                   log_line({{"event", "crl_signed"},
                             {"crl_number", signed_crl.number},
                             {"revoked", signed_crl.entries},
                             {"next_update", signer::rfc3339(signed_crl.next_update)}});
                   return made;
                 },
                 state.revocations, [&state](std::function<void()> job) { return state.pool.try_submit(std::move(job)); },
                 state.clock) {
  if (!state.config.root_crl.empty()) {
    root_ = std::make_unique<RootCrlFile>(state.config.root_crl, chain_of(state.issuing.ca()), state.clock);
  }
}

void CrlHandler::send(const ExchangePtr& ex, const PublishedCrl& crl) const {
  Response res = ex->response(http::status::ok);
  res.set(http::field::content_type, "application/pkix-crl");
  const auto now = state_.clock.now();
  const auto age = std::clamp<std::int64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(crl.next_update - now).count(), 0, kCrlMaxAge.count());
  res.set(http::field::last_modified, http_date(crl.this_update));
  res.set(http::field::expires, http_date(now + std::chrono::seconds{age}));
  res.set(http::field::cache_control, "max-age=" + std::to_string(age) + ", public, no-transform, must-revalidate");
  res.set(http::field::etag, "\"" + std::to_string(crl.number) + "\"");
  res.body() = crl.der;
  ex->finish(std::move(res));
}

void CrlHandler::issuer_crl(const ExchangePtr& ex) {
  publisher_.get([this, ex](std::shared_ptr<const PublishedCrl> crl, std::exception_ptr error) {
    if (crl) return send(ex, *crl);
    ex->fail(error);
  });
}

void CrlHandler::root_crl(const ExchangePtr& ex) {
  if (!root_) {
    return ex->error(404, "not_found", "this appliance publishes no root CRL (appliance.root_crl in the CA file)");
  }
  auto current = root_->current();
  if (!current) {
    return ex->error(503, "root_crl_unavailable",
                     root_->file().string() + " is missing or not a CRL of the chain: copy the root's latest CRL there");
  }
  send(ex, *current);
}

}  // namespace hsmca::appliance
