#include "acme_service.hpp"

#include <openssl/x509.h>

#include <algorithm>

#include "acme_cert_id.hpp"
#include "acme_validation.hpp"
#include "hsmca/signer/acme_policy.hpp"
#include "hsmca/signer/certificate.hpp"
#include "hsmca/signer/renewal_info.hpp"
#include "hsmca/signer/revocation_reason.hpp"
#include "hsmca/signer/serial.hpp"
#include "log.hpp"

namespace hsmca::appliance::acme {

using nlohmann::json;
using signer::AcmeAccount;
using signer::AcmeAuthorization;
using signer::AcmeChallenge;
using signer::AcmeOrder;

namespace {

constexpr std::size_t kMaxContacts = 8;

Problem refusal(std::string type, std::string detail, unsigned status = 400) {
  return Problem{std::move(type), std::move(detail), status};
}

// How long a reused authorization must still be good for (see new_order).
constexpr std::int64_t kReuseMargin = 3600;

Problem from_rejection(const signer::Rejection& r, std::string type) {
  return refusal(std::move(type), signer::told_to_acme_account(r).message, 400);
}

// RFC 8555 7.3: mailto: URLs only, one address each.
std::optional<Problem> read_contact(const json& payload, std::vector<std::string>& out) {
  if (!payload.contains("contact")) return std::nullopt;
  const auto& contact = payload["contact"];
  if (!contact.is_array()) return refusal("malformed", "\"contact\" must be an array of mailto: URLs");
  if (contact.size() > kMaxContacts) {
    return refusal("invalidContact", "at most " + std::to_string(kMaxContacts) + " contacts");
  }
  for (const auto& c : contact) {
    if (!c.is_string()) return refusal("malformed", "\"contact\" must be an array of mailto: URLs");
    const auto& url = c.get_ref<const std::string&>();
    if (!url.starts_with("mailto:")) {
      return refusal("unsupportedContact", "only mailto: contacts are taken, not \"" + url.substr(0, 64) + "\"");
    }
    const std::string address = url.substr(7);
    const auto at = address.find('@');
    if (address.empty() || address.size() > 254 || at == 0 || at == std::string::npos || at + 1 == address.size() ||
        address.find_first_of(",?&\r\n \t<>") != std::string::npos) {
      return refusal("invalidContact", "\"" + url.substr(0, 64) + "\" is not mailto: one address");
    }
    out.push_back(url);
  }
  return std::nullopt;
}

std::string problem_json(const std::string& type, const std::string& detail) {
  // A detail may echo a client's bytes: what is not UTF-8 becomes U+FFFD, never an exception.
  return json{{"type", "urn:ietf:params:acme:error:" + type}, {"detail", detail}}.dump(-1, ' ', false,
                                                                                      json::error_handler_t::replace);
}

}  // namespace

json Problem::document() const {
  json doc = {{"type", "urn:ietf:params:acme:error:" + type}, {"detail", detail}, {"status", status}};
  if (!subproblems.is_null()) doc["subproblems"] = subproblems;
  if (!algorithms.is_null()) doc["algorithms"] = algorithms;
  return doc;
}

AcmeService::AcmeService(const AcmeConfig& config, signer::CertificateAuthority& ca, signer::Ledger& ledger,
                         RevocationWatcher& revocations, const signer::Clock& clock)
    : config_(config),
      ca_(ca),
      ledger_(ledger),
      store_(ledger.acme()),
      revocations_(revocations),
      clock_(clock),
      new_accounts_(config.new_accounts_per_hour / 3600.0, config.new_accounts_per_hour),
      validations_(config.validation_threads, config.validation_queue) {}

AcmeService::~AcmeService() { validations_.stop(std::chrono::milliseconds(0)); }

void AcmeService::drain(std::chrono::milliseconds grace) { validations_.stop(grace); }

std::int64_t AcmeService::now() const { return signer::unix_seconds(clock_.now()); }

std::optional<AcmeAccount> AcmeService::account(const std::string& account_id) const {
  return store_.account(account_id);
}

std::optional<Jwk> AcmeService::account_key(const std::string& account_id) const {
  auto a = store_.account(account_id);
  if (!a) return std::nullopt;
  // RFC 8555 7.3.6: a deactivated account's requests are refused.
  if (a->status != signer::AcmeAccountStatus::valid) {
    throw JwsError(JwsProblem::unauthorized, "account " + a->id + " is deactivated");
  }
  return account_key(*a);
}

Jwk AcmeService::account_key(const AcmeAccount& a) {
  auto parsed = parse_strict_json(a.jwk);
  if (!parsed) throw std::runtime_error("the ledger holds an unreadable key for account " + a.id);
  return parse_jwk(*parsed);
}

Result<NewAccount> AcmeService::new_account(const Jwk& key, const json& payload, const std::string& new_account_url,
                                            const std::string& client) {
  const std::string thumbprint = jwk_thumbprint(key);
  // RFC 8555 7.3.1: a key that has an account gets it back, nothing new.
  if (auto existing = store_.account_by_thumbprint(thumbprint)) return NewAccount{std::move(*existing), false};
  if (payload.contains("onlyReturnExisting") && payload["onlyReturnExisting"] == true) {
    return refusal("accountDoesNotExist", "no account has this key", 400);
  }
  if (payload.contains("termsOfServiceAgreed") && !payload["termsOfServiceAgreed"].is_boolean()) {
    return refusal("malformed", "\"termsOfServiceAgreed\" must be a boolean");
  }
  AcmeAccount account;
  if (auto bad = read_contact(payload, account.contact)) return *bad;
  if (payload.contains("externalAccountBinding")) {
    try {
      account.eab_kid = verify_eab(payload["externalAccountBinding"], key, new_account_url,
                                   [this](std::string_view kid) -> std::optional<Bytes> {
                                     auto k = store_.eab_key(std::string(kid));
                                     if (!k) return std::nullopt;
                                     return std::move(k->hmac_key);
                                   });
    } catch (const JwsError& e) {
      return refusal(std::string(acme_error_name(e.problem())),
                     std::string("external account binding refused: ") + e.what(),
                     e.problem() == JwsProblem::unauthorized ? 403 : 400);
    }
  } else if (config_.external_account_binding) {
    return refusal("externalAccountRequired",
                   "this CA requires an external account binding (acme.external_account_binding): ask its operator "
                   "for a key id and HMAC key from `hsmca acme eab add`");
  }
  // Without EAB anyone may register, and every account has its own order
  // and validation allowances: each client address creates a bounded number.
  const bool limited = account.eab_kid.empty();
  if (limited) {
    if (const auto wait = new_accounts_.take(client, clock_.steady()); wait > 0) {
      Problem p = refusal("rateLimited", "at most " + std::to_string(config_.new_accounts_per_hour) +
                                             " new accounts per client address and hour without an external account "
                                             "binding; retry in " + std::to_string(wait) + " s",
                          429);
      p.retry_after = wait;
      return p;
    }
  }
  account.id = signer::random_acme_id();
  account.thumbprint = thumbprint;
  account.jwk = key.json().dump();
  account.created_at = now();
  try {
    auto stored = store_.create_account(account);
    const bool created = stored.id == account.id;
    if (limited && !created) new_accounts_.refund(client, clock_.steady());  // another request created it first
    if (created) log_line({{"event", "acme_account_created"}, {"account", stored.id}, {"eab_kid", stored.eab_kid}});
    return NewAccount{std::move(stored), created};
  } catch (const std::invalid_argument& e) {
    return refusal("unauthorized", std::string("external account binding refused: ") + e.what(), 403);
  }
}

Result<AcmeAccount> AcmeService::update_account(const AcmeAccount& account, const json& payload) {
  for (const auto& [key, value] : payload.items()) {
    if (key != "contact" && key != "status" && key != "termsOfServiceAgreed" && key != "orders") {
      return refusal("malformed", "an account update may change \"contact\" or set \"status\": \"deactivated\", not \"" +
                                      key + "\"");
    }
  }
  if (payload.contains("status")) {
    if (payload["status"] != "deactivated") {
      return refusal("malformed", "an account's status can only be set to \"deactivated\"");
    }
    store_.deactivate_account(account.id);
    log_line({{"event", "acme_account_deactivated"}, {"account", account.id}});
  } else if (payload.contains("contact")) {
    std::vector<std::string> contact;
    if (auto bad = read_contact(payload, contact)) return *bad;
    store_.update_contact(account.id, contact);
  }
  auto now_stored = store_.account(account.id);
  if (!now_stored) return refusal("accountDoesNotExist", "account " + account.id + " is gone", 400);
  return *now_stored;
}

Result<AcmeAccount> AcmeService::change_key(const AcmeAccount& account, const VerifiedJws& outer,
                                            const std::string& account_url) {
  Jwk old_key = outer.key;
  Jwk new_key = [&] { return verify_key_change(outer, old_key, account_url); }();
  const std::string thumbprint = jwk_thumbprint(new_key);
  if (!store_.change_key(account.id, jwk_thumbprint(old_key), thumbprint, new_key.json().dump())) {
    // RFC 8555 7.3.5: 409 with the Location of the account that has the key; or the key changed meanwhile.
    return refusal("malformed", "another account already has the new key, or this account's key changed meanwhile", 409);
  }
  log_line({{"event", "acme_key_changed"}, {"account", account.id}});
  return *store_.account(account.id);
}

AcmeService::OrderPage AcmeService::order_ids(const AcmeAccount& account, std::size_t page) const {
  OrderPage out;
  out.ids = store_.order_ids(account.id, now(), page * kOrdersPerPage, kOrdersPerPage + 1);
  out.more = out.ids.size() > kOrdersPerPage;
  if (out.more) out.ids.pop_back();
  return out;
}

std::optional<Problem> AcmeService::rate_limited(const std::vector<std::int64_t>& times, int limit,
                                                 const char* what) const {
  if (times.size() < static_cast<std::size_t>(limit)) return std::nullopt;
  // The window frees a place when the oldest counted event is an hour old.
  const std::int64_t oldest = times[times.size() - static_cast<std::size_t>(limit)];
  Problem p = refusal("rateLimited",
                      std::string("at most ") + std::to_string(limit) + " " + what + " per account and hour", 429);
  p.retry_after = std::max<std::int64_t>(1, oldest + 3600 - now());
  return p;
}

Result<AcmeOrder> AcmeService::new_order(const AcmeAccount& account, const json& payload) {
  if (payload.contains("notBefore") || payload.contains("notAfter")) {
    return refusal("malformed", "notBefore and notAfter are not supported: the profile decides the validity");
  }
  if (!payload.contains("identifiers") || !payload["identifiers"].is_array()) {
    return refusal("malformed", "a newOrder payload needs \"identifiers\": [{\"type\": \"dns\", \"value\": NAME}]");
  }
  std::vector<signer::AcmeIdentifier> requested;
  for (const auto& id : payload["identifiers"]) {
    if (!id.is_object() || !id.contains("type") || !id["type"].is_string() || !id.contains("value") ||
        !id["value"].is_string()) {
      return refusal("malformed", "each identifier is {\"type\": \"dns\" | \"ip\", \"value\": STRING}");
    }
    const auto type = signer::parse_acme_identifier_type(id["type"].get<std::string>());
    if (!type) {
      return refusal("unsupportedIdentifier", "identifier type \"" + id["type"].get<std::string>().substr(0, 32) +
                                                  "\" is not supported (dns, ip)");
    }
    requested.push_back({*type, id["value"].get<std::string>()});
  }
  // draft-aaron-acme-profiles: the order may name one of the directory's meta.profiles.
  std::string profile_name = config_.profile;
  if (payload.contains("profile")) {
    if (!payload["profile"].is_string()) return refusal("malformed", "\"profile\" must be a profile's name");
    profile_name = payload["profile"].get<std::string>();
  }
  const signer::Profile* profile = nullptr;
  std::string offered;
  for (const auto* p : signer::acme_orderable_profiles(ca_.profiles(), config_.profiles)) {
    if (p->name == profile_name) profile = p;
    offered += (offered.empty() ? "" : ", ") + p->name;
  }
  if (profile == nullptr) {
    return refusal("invalidProfile", "profile \"" + profile_name.substr(0, 64) +
                                         "\" is not offered over ACME (the directory's meta.profiles: " + offered + ")");
  }
  std::string replaces;
  if (payload.contains("replaces")) {
    if (!payload["replaces"].is_string()) return refusal("malformed", "\"replaces\" must be a certID (RFC 9773 4.1)");
    replaces = payload["replaces"].get<std::string>();
    if (replaces.empty()) return refusal("malformed", "\"replaces\" is empty; leave it out when the order replaces nothing");
  }
  auto decision = signer::decide_acme_order(*profile, account.id, requested);
  if (decision.refused) {
    const bool forbidden = decision.refused->code == "profile_forbidden";
    return refusal(forbidden ? "unauthorized" : "malformed", decision.refused->message, forbidden ? 403 : 400);
  }
  if (!decision.rejected.empty()) {
    Problem p = refusal("rejectedIdentifier", "", 400);
    p.subproblems = json::array();
    std::string reasons;
    for (const auto& [id, why] : decision.rejected) {
      reasons += (reasons.empty() ? "" : "; ") + why.message;
      p.subproblems.push_back({{"type", "urn:ietf:params:acme:error:rejectedIdentifier"},
                               {"detail", why.message},
                               {"identifier", {{"type", std::string(signer::acme_name(id.type))}, {"value", id.value}}}});
    }
    p.detail = "the CA will not issue for these identifiers: " + reasons;
    return p;
  }
  const std::int64_t t = now();
  if (auto limited = rate_limited(store_.order_times(account.id, t - 3600), config_.orders_per_hour, "new orders")) {
    return *limited;
  }
  if (!replaces.empty()) {
    const auto id = parse_cert_id(replaces);
    if (!id) return refusal("malformed", "\"replaces\" is not a certID (RFC 9773 4.1: base64url AKI \".\" base64url serial)");
    if (auto refused = signer::check_acme_replacement(store_, replaces, ledger_.find(id->issuer_id, id->serial),
                                                      account.id, decision.identifiers, now())) {
      if (refused->code == "already_replaced") return refusal("alreadyReplaced", refused->message, 409);
      if (refused->code == "unauthorized") return refusal("unauthorized", refused->message, 403);
      return refusal("malformed", refused->message);
    }
  }

  AcmeOrder order;
  order.id = signer::random_acme_id();
  order.account_id = account.id;
  order.identifiers = decision.identifiers;
  order.profile = profile->name;
  order.replaces = replaces;
  order.created_at = t;
  order.expires = t + std::int64_t{config_.order_lifetime_hours} * 3600;
  std::vector<AcmeAuthorization> fresh;
  for (const auto& id : decision.identifiers) {
    const bool wildcard = id.type == signer::AcmeIdentifierType::dns && id.value.starts_with("*.");
    signer::AcmeIdentifier base{id.type, wildcard ? id.value.substr(2) : id.value};
    if (config_.authorization_reuse_hours > 0) {
      // Only one good for another hour at least: the order expires with it,
      // and a client needs time to finalize.
      if (auto reused = store_.reusable_authorization(account.id, base, wildcard, t + kReuseMargin)) {
        order.authorization_ids.push_back(reused->id);
        // The order is good only while every authorization it stands on is.
        order.expires = std::min(order.expires, reused->expires);
        continue;
      }
    }
    AcmeAuthorization a;
    a.id = signer::random_acme_id();
    a.account_id = account.id;
    a.identifier = base;
    a.wildcard = wildcard;
    a.expires = t + std::int64_t{std::max(config_.authorization_reuse_hours, config_.order_lifetime_hours)} * 3600;
    // Wildcards only through dns-01 (RFC 8555 7.1.3); IP addresses not through dns-01 (RFC 8738 7).
    std::vector<signer::AcmeChallengeType> types;
    if (!wildcard) types.push_back(signer::AcmeChallengeType::http01);
    if (id.type == signer::AcmeIdentifierType::dns) types.push_back(signer::AcmeChallengeType::dns01);
    if (!wildcard) types.push_back(signer::AcmeChallengeType::tls_alpn01);
    const std::string token = signer::random_acme_id() + signer::random_acme_id();  // 256 bits
    for (auto type : types) a.challenges.push_back({signer::random_acme_id(), a.id, type, token});
    order.authorization_ids.push_back(a.id);
    fresh.push_back(std::move(a));
  }
  // The store checks both rules again inside its write: another newOrder of
  // this account may have passed the checks above at the same time.
  switch (store_.create_order(order, fresh, t, config_.orders_per_hour)) {
    case signer::AcmeStore::Creation::created:
      break;
    case signer::AcmeStore::Creation::over_hourly_limit: {
      // The orders that filled the hour, read again for the Retry-After;
      // should one have been pruned meanwhile, the client may try at once.
      auto times = store_.order_times(account.id, t - 3600);
      const auto limit = static_cast<std::size_t>(config_.orders_per_hour);
      if (times.size() < limit) times.insert(times.begin(), limit - times.size(), t - 3600);
      return *rate_limited(times, config_.orders_per_hour, "new orders");
    }
    case signer::AcmeStore::Creation::already_replaced:
      return refusal("alreadyReplaced", "the certificate " + replaces + " was already replaced by another order", 409);
  }
  log_line({{"event", "acme_order_created"}, {"account", account.id}, {"order", order.id}});
  auto stored = store_.order(order.id);
  if (!stored) throw signer::LedgerError("the new order " + order.id + " is not in the ledger");
  return *stored;
}

Result<AcmeOrder> AcmeService::order(const AcmeAccount& account, const std::string& id) const {
  auto o = store_.order(id);
  if (!o) return refusal("malformed", "no order " + id.substr(0, 64), 404);
  if (o->account_id != account.id) return refusal("unauthorized", "order " + id + " belongs to another account", 403);
  if (o->expires <= now() && (o->status == signer::AcmeOrderStatus::pending ||
                              o->status == signer::AcmeOrderStatus::ready)) {
    o->status = signer::AcmeOrderStatus::invalid;
    o->error = problem_json("malformed", "the order expired");
  }
  return *o;
}

Result<AcmeAuthorization> AcmeService::authorization(const AcmeAccount& account, const std::string& id) const {
  auto a = store_.authorization(id);
  if (!a) return refusal("malformed", "no authorization " + id.substr(0, 64), 404);
  if (a->account_id != account.id) {
    return refusal("unauthorized", "authorization " + id + " belongs to another account", 403);
  }
  if (a->expires <= now() && a->status == signer::AcmeAuthzStatus::pending) a->status = signer::AcmeAuthzStatus::expired;
  return *a;
}

Result<AcmeChallenge> AcmeService::challenge(const AcmeAccount& account, const std::string& id) const {
  auto c = store_.challenge(id);
  if (!c) return refusal("malformed", "no challenge " + id.substr(0, 64), 404);
  auto a = store_.authorization(c->authz_id);
  if (!a || a->account_id != account.id) {
    return refusal("unauthorized", "challenge " + id + " belongs to another account", 403);
  }
  return *c;
}

Result<AcmeChallenge> AcmeService::respond_to_challenge(const AcmeAccount& account, const std::string& id) {
  auto found = challenge(account, id);
  if (auto* p = std::get_if<Problem>(&found)) return *p;
  const std::int64_t t = now();
  // Only the first response starts a validation; later ones read the state (RFC 8555 7.5.1).
  if (std::get<AcmeChallenge>(found).status != signer::AcmeChallengeStatus::pending) return found;
  if (auto limited = rate_limited(store_.failed_validation_times(account.id, t - 3600),
                                  config_.failed_validations_per_hour, "failed validations")) {
    return *limited;
  }
  // A place in the validation pool first: when there is none the challenge
  // stays pending and the client is asked to come back, never failed for
  // what other accounts are doing.
  if (auto full = reserve_validation(account.id)) return *full;
  if (!store_.start_challenge(id, t)) {
    release_validation(account.id);
    return challenge(account, id);
  }
  auto job = [this, id, account_id = account.id] {
    struct Release {
      AcmeService& service;
      const std::string& account_id;
      ~Release() { service.release_validation(account_id); }
    } release{*this, account_id};
    validate(id, account_id);
  };
  if (!validations_.try_submit(std::move(job))) {  // only when stopping: the places are counted
    release_validation(account.id);
    store_.finish_challenge(id, false, problem_json("serverInternal", "the CA is shutting down; try a new order"),
                            now());
  }
  return challenge(account, id);
}

std::optional<Problem> AcmeService::reserve_validation(const std::string& account_id) {
  const std::size_t places = config_.validation_threads + config_.validation_queue;
  std::lock_guard lock(validations_mutex_);
  // Half the places at most for one account: it cannot crowd every other out.
  // (find, not []: a refused account leaves no entry behind.)
  const auto held = validations_by_account_.find(account_id);
  if (held != validations_by_account_.end() && held->second >= std::max<std::size_t>(1, places / 2)) {
    Problem p = refusal("rateLimited", "this account has " + std::to_string(places / 2) +
                                           " validations in progress, as many as one account may; retry shortly", 429);
    p.retry_after = 1 + config_.validation_timeout.count() / 1000;
    return p;
  }
  if (validations_reserved_ >= places) {
    Problem p = refusal("rateLimited", "the CA's validation queue is full; retry shortly", 503);
    p.retry_after = 1 + config_.validation_timeout.count() / 1000;
    return p;
  }
  ++validations_by_account_[account_id];
  ++validations_reserved_;
  return std::nullopt;
}

std::size_t AcmeService::accounts_validating() const {
  std::lock_guard lock(validations_mutex_);
  return validations_by_account_.size();
}

void AcmeService::release_validation(const std::string& account_id) {
  std::lock_guard lock(validations_mutex_);
  if (--validations_by_account_[account_id] == 0) validations_by_account_.erase(account_id);
  --validations_reserved_;
}

// On the validation pool: the network, then the outcome durably.
void AcmeService::validate(std::string challenge_id, std::string account_id) {
  bool valid = false;
  std::string error;
  try {
    auto c = store_.challenge(challenge_id);
    auto a = c ? store_.authorization(c->authz_id) : std::nullopt;
    auto key = account_key(account_id);
    if (!c || !a || !key) throw std::runtime_error("the challenge, its authorization or its account is gone");
    ValidationSettings settings{config_.dns_server, config_.http_port, config_.tls_port, config_.validation_timeout};
    Identifier identifier{a->identifier.type == signer::AcmeIdentifierType::dns ? Identifier::Type::dns
                                                                                : Identifier::Type::ip,
                          (a->wildcard ? "*." : "") + a->identifier.value};
    const ChallengeType type = c->type == signer::AcmeChallengeType::http01  ? ChallengeType::http01
                               : c->type == signer::AcmeChallengeType::dns01 ? ChallengeType::dns01
                                                                             : ChallengeType::tls_alpn01;
    auto result = acme::validate(settings, type, identifier, c->token, key_authorization(c->token, *key));
    if (result.valid && !config_.caa_identities.empty()) result = check_caa(settings, identifier, config_.caa_identities);
    valid = result.valid;
    if (!valid) error = problem_json(result.problem, result.detail);
  } catch (const std::exception& e) {
    // The account is told that it failed inside; the log says what.
    error = problem_json("serverInternal", "the validation failed inside the CA; respond to a new order's challenge");
    log_line({{"event", "acme_validation_error"}, {"challenge", challenge_id}, {"problem", e.what()}});
  }
  try {
    store_.finish_challenge(challenge_id, valid, error, now());
    log_line({{"event", "acme_validation"}, {"challenge", challenge_id}, {"account", account_id}, {"valid", valid}});
  } catch (const std::exception& e) {
    // Left processing: the authorization expires with its order.
    log_line({{"event", "acme_validation_unrecorded"}, {"challenge", challenge_id}, {"problem", e.what()}});
  }
}

Result<AcmeOrder> AcmeService::finalize(const AcmeAccount& account, const std::string& order_id, const json& payload) {
  auto found = order(account, order_id);
  if (auto* p = std::get_if<Problem>(&found)) return *p;
  const AcmeOrder& o = std::get<AcmeOrder>(found);
  if (o.status != signer::AcmeOrderStatus::ready) {
    return refusal("orderNotReady", "order " + o.id + " is " + std::string(signer::acme_name(o.status)) +
                                        ", not ready: every authorization must be valid before finalize",
                   403);
  }
  // Offered when the order was made is not enough: the operator may have withdrawn the profile since.
  const auto offered = signer::acme_orderable_profiles(ca_.profiles(), config_.profiles);
  if (std::none_of(offered.begin(), offered.end(), [&](const signer::Profile* p) { return p->name == o.profile; })) {
    return refusal("unauthorized", "profile \"" + o.profile + "\" is no longer offered over ACME; place a new order", 403);
  }
  if (!payload.contains("csr") || !payload["csr"].is_string()) {
    return refusal("malformed", "finalize needs {\"csr\": base64url DER PKCS#10}");
  }
  const auto csr = base64url_decode(payload["csr"].get<std::string>());
  if (!csr) return refusal("badCSR", "\"csr\" is not base64url");
  const auto caller = signer::acme_caller(account.id);
  signer::IssuanceRequest request{*csr, o.profile, std::nullopt, caller};
  auto& ca = ca_;
  auto plan = ca.prepare(request, clock_.now());
  if (!plan.ok()) {
    const auto& r = plan.rejection();
    if (r.code == "profile_forbidden") return refusal("unauthorized", r.message, 403);
    return from_rejection(r, "badCSR");
  }
  if (auto bad = signer::check_acme_csr_names(plan.value(), o.identifiers)) return from_rejection(*bad, "badCSR");
  // Decided: now the order moves, once (a second finalize finds it processing).
  if (!store_.begin_finalize(o.id, now())) {
    return refusal("orderNotReady",
                   "order " + o.id + " is no longer ready: it is being finalized already, or it or an authorization "
                   "it stands on expired",
                   403);
  }
  try {
    auto issued = ca.complete(plan.value(), o.profile, caller.description);
    if (!issued.ok()) {
      store_.fail_order(o.id, problem_json("badCSR", issued.rejection().message));
      return from_rejection(issued.rejection(), "badCSR");
    }
    store_.finish_order(o.id, issued.value().serial_hex());
    log_line({{"event", "acme_order_valid"}, {"account", account.id}, {"order", o.id},
              {"serial", issued.value().serial_hex()}});
  } catch (const signer::TokenUnavailable&) {
    // Nothing was signed: the order is ready again, and the client's retry
    // (503 with Retry-After) finalizes it once the token is back.
    store_.reopen_order(o.id);
    throw;
  } catch (const std::exception& e) {
    store_.fail_order(o.id, problem_json("serverInternal", "issuance failed"));
    throw;
  }
  return order(account, o.id);
}

Result<std::string> AcmeService::certificate_chain(const AcmeAccount& account, const std::string& serial) const {
  auto o = store_.order_for_certificate(serial);
  if (!o) return refusal("malformed", "no certificate " + serial.substr(0, 64), 404);
  if (o->account_id != account.id) {
    return refusal("unauthorized", "certificate " + serial + " was ordered by another account", 403);
  }
  auto entry = ledger_.find(ca_.issuer_id(), serial);
  if (!entry || entry->der.empty()) return refusal("malformed", "no certificate " + serial, 404);
  return signer::IssuedCertificate::from_der(entry->der).pem() + ca_.chain_pem();
}

Result<signer::RenewalSuggestion> AcmeService::renewal_info(const std::string& cert_id) const {
  const auto id = parse_cert_id(cert_id);
  if (!id) {
    return refusal("malformed", "\"" + cert_id.substr(0, 64) +
                                    "\" is not a certID (RFC 9773 4.1: base64url AKI \".\" base64url serial)");
  }
  // Certificates ordered over ACME only: what an ACME client asks about. Of
  // the others (EST, the JSON API, admin client certificates) an
  // unauthenticated caller learns nothing here, not even their validity.
  const auto entry = ledger_.find(id->issuer_id, id->serial);
  if (!entry || (entry->status != signer::CertificateStatus::issued &&
                 entry->status != signer::CertificateStatus::revoked) ||
      !store_.order_for_certificate(id->serial)) {
    return refusal("malformed", "no certificate " + id->serial + " ordered over ACME under key " + id->issuer_id, 404);
  }
  signer::IssuerStanding issuer;
  issuer.current = id->issuer_id == ca_.issuer_id();
  if (issuer.current) issuer.not_after = signer::unix_seconds(X509_get0_notAfter(ca_.issuer_certificate()));
  return signer::suggest_renewal(*entry, issuer, now());
}

Result<std::monostate> AcmeService::revoke(const std::optional<AcmeAccount>& account, const Jwk& signer_key,
                                           const json& payload) {
  if (!payload.contains("certificate") || !payload["certificate"].is_string()) {
    return refusal("malformed", "revokeCert needs {\"certificate\": base64url DER}");
  }
  auto reason = signer::RevocationReason::unspecified;
  if (payload.contains("reason")) {
    if (!payload["reason"].is_number_integer()) return refusal("badRevocationReason", "\"reason\" must be a code");
    const auto parsed = signer::reason_from_code(payload["reason"].get<long>());
    if (!parsed) {
      return refusal("badRevocationReason", "reason code " + std::to_string(payload["reason"].get<long>()) +
                                                " is not one this CA records (" + signer::revocation_reason_names() + ")");
    }
    reason = *parsed;
    if (auto refused = signer::check_acme_revocation_reason(reason)) {
      return refusal("badRevocationReason", refused->message);
    }
  }
  const auto der = base64url_decode(payload["certificate"].get<std::string>());
  if (!der) return refusal("malformed", "\"certificate\" is not base64url");
  signer::X509Ptr cert;
  try {
    cert = signer::X509Ptr(X509_dup(signer::IssuedCertificate::from_der(*der).x509()));
  } catch (const std::exception&) {
    return refusal("malformed", "\"certificate\" is not one DER certificate");
  }
  const auto standing = ca_.standing(cert.get(), clock_.now());
  if (standing.status == signer::Standing::Status::not_ours) {
    return refusal("malformed", "the certificate was not issued by this CA", 404);
  }
  const std::string serial = standing.entry->record.serial;
  // The signer key is the certificate's own when the request carried it as jwk.
  bool by_certificate_key = false;
  if (!account) {
    unsigned char* spki = nullptr;
    const int len = i2d_PUBKEY(signer_key.key(), &spki);
    if (len > 0) {
      by_certificate_key = signer::spki_matches(cert.get(), signer::Bytes(spki, spki + len));
      OPENSSL_free(spki);
    }
  }
  if (auto refused = signer::authorize_acme_revocation(
          store_, serial, account ? std::optional<std::string>(account->id) : std::nullopt, by_certificate_key)) {
    return refusal("unauthorized", refused->message, 403);
  }
  auto& ledger = ledger_;
  const auto outcome = ledger.revoke(ca_.issuer_id(), serial, reason, now());
  using R = signer::RevokeOutcome::Result;
  if (outcome.result == R::already_revoked) return refusal("alreadyRevoked", "certificate " + serial + " is revoked");
  if (outcome.result != R::revoked) return refusal("malformed", "certificate " + serial + " is not issued", 404);
  // Before the answer: this process's OCSP and CRL see it at once.
  revocations_.advance(ledger.revocation_version(ca_.issuer_id()));
  log_line({{"event", "acme_revoked"}, {"serial", serial}, {"account", account ? account->id : "(certificate key)"}});
  return std::monostate{};
}

}  // namespace hsmca::appliance::acme
