#include "credentials.hpp"

#include <strings.h>

namespace hsmca::appliance {
namespace {

// Bounds the standing cache; full, it starts over.
constexpr std::size_t kStandingEntries = 10'000;

}  // namespace

Credentials::Credentials(const ApplianceConfig& config, const Authorizer& authorizer, signer::CertificateAuthority& ca,
                         RevocationWatcher& revocations, const signer::Clock& clock)
    : authorizer_(authorizer),
      ca_(ca),
      revocations_(revocations),
      clock_(clock),
      client_crls_(config.client_crls, config.client_ca),
      version_(revocations.current()) {}

Identity Credentials::identify(const RequestContext& ctx) const {
  auto auth = ctx.request.find(http::field::authorization);
  if (auth != ctx.request.end()) {
    std::string_view value(auth->value().data(), auth->value().size());
    constexpr std::string_view kBearer = "Bearer ";
    if (value.size() > kBearer.size() && strncasecmp(value.data(), kBearer.data(), kBearer.size()) == 0) {
      return authorizer_.for_bearer_token(value.substr(kBearer.size()));
    }
    return {};
  }
  if (ctx.peer && ctx.peer_trusted) return authorizer_.for_client_certificate(ctx.peer.get());
  return {};
}

std::string Credentials::shut_out(const RequestContext& ctx, const Identity& identity) {
  X509* peer = ctx.peer.get();
  // The fingerprint identify() took already: no second digest per request.
  if (peer == nullptr || identity.fingerprint.empty()) return "cannot be read";
  const std::string& key = identity.fingerprint;
  const auto version = revocations_.current();
  const auto crls = client_crls_.generation();
  {
    std::lock_guard lock(mutex_);
    if (version_ != version || crls_ != crls) {
      seen_.clear();
      version_ = version;
      crls_ = crls;
    }
    if (auto hit = seen_.find(key); hit != seen_.end()) return hit->second;
  }
  // A ledger read, on this thread: one per certificate and revocation version.
  std::string why;
  if (X509_NAME_cmp(X509_get_issuer_name(peer), X509_get_subject_name(ca_.issuer_certificate())) == 0) {
    // Names this CA as its issuer: it counts only as the ledger has it.
    const auto standing = ca_.standing(peer, clock_.now());
    if (standing.status != signer::Standing::Status::issued) {
      why = "is " + std::string(signer::standing_name(standing.status));
    }
  } else {
    // Another CA's certificate: its CRL, when one is configured, says.
    why = client_crls_.why_refused(peer, clock_.now());
  }
  std::lock_guard lock(mutex_);
  if (version_ == version && crls_ == crls) {
    if (seen_.size() >= kStandingEntries) seen_.clear();
    seen_.emplace(key, why);
  }
  return why;
}

}  // namespace hsmca::appliance
