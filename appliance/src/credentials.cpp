#include "credentials.hpp"

#include <openssl/crypto.h>
#include <strings.h>

#include <algorithm>

#include "hsmca/appliance/est.hpp"

namespace hsmca::appliance {
namespace {

// Bounds the standing cache; full, it starts over.
constexpr std::size_t kStandingEntries = 10'000;
// Failed passwords per client address: 5 at once, then one a minute — a
// password cannot be guessed at line rate, and a user who mistypes is back
// within a minute.
constexpr double kPasswordFailuresBurst = 5;
constexpr double kPasswordFailuresPerSecond = 1.0 / 60;


}  // namespace

Credentials::Credentials(const ApplianceConfig& config, const Authorizer& authorizer, signer::CertificateAuthority& ca,
                         RevocationWatcher& revocations, const signer::Clock& clock)
    : authorizer_(authorizer),
      ca_(ca),
      revocations_(revocations),
      clock_(clock),
      client_crls_(config.client_crls, config.client_ca),
      passwords_(config.htpasswd.empty() ? PasswordFile{} : PasswordFile::load(config.htpasswd)),
      failures_(kPasswordFailuresPerSecond, kPasswordFailuresBurst),
      version_(revocations.current()) {}

Identity Credentials::identify(const RequestContext& ctx) const {
  auto auth = ctx.request.find(http::field::authorization);
  if (auth != ctx.request.end()) {
    std::string_view value(auth->value().data(), auth->value().size());
    constexpr std::string_view kBearer = "Bearer ";
    if (value.size() > kBearer.size() && strncasecmp(value.data(), kBearer.data(), kBearer.size()) == 0) {
      return authorizer_.for_bearer_token(value.substr(kBearer.size()));
    }
    // Basic: the password is checked later, on its own pool, unless a
    // trusted client certificate came too (below), which then speaks.
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

Credentials::Password::~Password() { OPENSSL_cleanse(password.data(), password.size()); }

std::optional<Credentials::Password> Credentials::basic(const RequestContext& ctx) {
  auto auth = ctx.request.find(http::field::authorization);
  if (auth == ctx.request.end()) return std::nullopt;
  const std::string_view value(auth->value().data(), auth->value().size());
  constexpr std::string_view kBasic = "Basic ";
  if (value.size() <= kBasic.size() || strncasecmp(value.data(), kBasic.data(), kBasic.size()) != 0) return std::nullopt;
  std::optional<Password> out(std::in_place);
  auto decoded = base64_decode(value.substr(kBasic.size()));
  if (!decoded) return out;
  std::string text(decoded->begin(), decoded->end());
  OPENSSL_cleanse(decoded->data(), decoded->size());
  // RFC 7617 2: user-id ":" password; the user-id has no colon.
  const auto colon = text.find(':');
  if (colon != std::string::npos && colon > 0) {
    out->user = text.substr(0, colon);
    out->password = text.substr(colon + 1);
  }
  OPENSSL_cleanse(text.data(), text.size());
  return out;
}

std::int64_t Credentials::begin_password(const RequestContext& ctx) {
  return failures_.take(client_key(ctx.remote), clock_.steady());
}

Identity Credentials::check_password(const RequestContext& ctx, const Password& password) {
  if (password.user.empty() || !passwords_.verify(password.user, password.password)) return {};
  failures_.refund(client_key(ctx.remote), clock_.steady());
  return authorizer_.for_user(password.user);
}

void Credentials::abandon_password(const RequestContext& ctx) {
  failures_.refund(client_key(ctx.remote), clock_.steady());
}

}  // namespace hsmca::appliance
