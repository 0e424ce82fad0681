#include "acme_handler.hpp"

#include <algorithm>
#include <cctype>

#include "hsmca/signer/acme_policy.hpp"
#include "hsmca/signer/certificate.hpp"
#include "log.hpp"

namespace hsmca::appliance {

using acme::Problem;
using nlohmann::json;

namespace {

constexpr const char* kPrefix = "/acme";
// renewalInfo per client address: 50 at once, then 10 a second — far above
// what a fleet behind one address asks (each certificate every few hours).
constexpr double kRenewalInfoBurst = 50;
constexpr double kRenewalInfoPerSecond = 10;

// The Host header as this server's origin: a name or address and a port,
// nothing that could bend the URLs we hand out. Empty when unusable.
std::string origin_of(const Request& req) {
  const std::string host(req[http::field::host]);
  if (host.empty() || host.size() > 255) return {};
  for (char c : host) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '.' && c != '-' && c != ':' && c != '[' && c != ']') return {};
  }
  std::string lower = host;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return "https://" + lower;
}

std::string rfc3339(std::int64_t t) { return signer::rfc3339(t); }

// A body may echo a client's bytes (a path, a profile's name): what is not
// UTF-8 becomes U+FFFD, never an exception and a 500.
std::string body_of(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

unsigned status_of(acme::JwsProblem p) {
  switch (p) {
    case acme::JwsProblem::unauthorized: return 403;
    default: return 400;
  }
}

Problem problem_of(const acme::JwsError& e) {
  Problem p{std::string(acme::acme_error_name(e.problem())), e.what(), status_of(e.problem())};
  if (e.problem() == acme::JwsProblem::bad_signature_algorithm) {
    p.algorithms = json::array();
    for (auto a : acme::supported_algorithms()) p.algorithms.push_back(std::string(a));
  }
  return p;
}

}  // namespace

AcmeHandler::AcmeHandler(const ServiceState& state)
    : state_(state),
      nonces_(state.clock),
      renewal_info_limit_(kRenewalInfoPerSecond, kRenewalInfoBurst),
      service_(*state.config.acme, state.issuing.ca(), state.issuing.ledger(), state.revocations, state.clock) {}

void AcmeHandler::finish(const ExchangePtr& ex, Response res, const std::string& base) {
  // RFC 8555 6.5: a nonce on every answer, errors included, so a client
  // never needs a round trip to newNonce after the first.
  res.set("Replay-Nonce", nonces_.issue());
  res.set(http::field::cache_control, "no-store");
  if (!base.empty()) res.insert(http::field::link, "<" + base + kPrefix + "/directory>;rel=\"index\"");
  ex->finish(std::move(res));
}

void AcmeHandler::answer(const ExchangePtr& ex, unsigned status, const std::string& base, const json& body,
                         const std::string& location) {
  Response res = ex->response(static_cast<http::status>(status));
  res.set(http::field::content_type, "application/json");
  if (!location.empty()) res.set(http::field::location, location);
  res.body() = body_of(body);
  finish(ex, std::move(res), base);
}

void AcmeHandler::answer_problem(const ExchangePtr& ex, const std::string& base, const Problem& problem) {
  Response res = ex->response(static_cast<http::status>(problem.status));
  res.set(http::field::content_type, "application/problem+json");
  if (problem.retry_after > 0) res.set(http::field::retry_after, std::to_string(problem.retry_after));
  res.body() = body_of(problem.document());
  finish(ex, std::move(res), base);
}

void AcmeHandler::directory(const ExchangePtr& ex) {
  const std::string base = origin_of(ex->ctx.request);
  if (base.empty()) return answer_problem(ex, base, {"malformed", "the request has no usable Host header"});
  const std::string p = base + kPrefix;
  const auto& cfg = service_.config();
  // draft-aaron-acme-profiles: what newOrder's "profile" may name; without one, acme.profile.
  json profiles = json::object();
  for (const auto* profile : signer::acme_orderable_profiles(state_.issuing.ca().profiles(), cfg.profiles)) {
    profiles[profile->name] = signer::describe_profile(*profile) + (profile->name == cfg.profile ? " (default)" : "");
  }
  answer(ex, 200, base,
         {{"newNonce", p + "/new-nonce"},
          {"newAccount", p + "/new-account"},
          {"newOrder", p + "/new-order"},
          {"revokeCert", p + "/revoke-cert"},
          {"keyChange", p + "/key-change"},
          {"renewalInfo", p + "/renewal-info"},
          {"meta", {{"externalAccountRequired", cfg.external_account_binding}, {"profiles", profiles}}}});
}

void AcmeHandler::renewal_info(const ExchangePtr& ex, const std::string& cert_id) {
  const std::string base = origin_of(ex->ctx.request);
  if (const auto wait = renewal_info_limit_.take(client_key(ex->ctx.remote), state_.clock.steady()); wait > 0) {
    Problem limited{"rateLimited", "too many renewalInfo requests from this address; retry in " +
                                       std::to_string(wait) + " s", 429};
    limited.retry_after = wait;
    return answer_problem(ex, base, limited);
  }
  // A ledger read: on a worker.
  auto job = [this, ex, cert_id, base] {
    try {
      auto r = service_.renewal_info(cert_id);
      if (const auto* problem = std::get_if<Problem>(&r)) return answer_problem(ex, base, *problem);
      const auto& s = std::get<signer::RenewalSuggestion>(r);
      Response res = ex->response(http::status::ok);
      res.set(http::field::content_type, "application/json");
      // RFC 9773 4.3: when to ask again.
      res.set(http::field::retry_after, std::to_string(s.retry_after));
      res.body() = body_of(json{{"suggestedWindow", {{"start", rfc3339(s.start)}, {"end", rfc3339(s.end)}}}});
      finish(ex, std::move(res), base);
    } catch (const std::exception& e) {
      answer_failure(ex, base, e);
    }
  };
  if (!state_.pool.try_submit(std::move(job))) answer_busy(ex, base);
}

void AcmeHandler::unrouted(const ExchangePtr& ex, unsigned status, const std::string& allow) {
  const std::string base = origin_of(ex->ctx.request);
  const std::string_view target(ex->ctx.request.target().data(), ex->ctx.request.target().size());
  Problem p{"malformed", "", status};
  if (status == 405) {
    // RFC 8555 6.3: GET is for the directory, newNonce and renewalInfo; every other resource is POST-as-GET.
    p.detail = "use " + allow + " for this resource";
    Response res = ex->response(http::status::method_not_allowed);
    res.set(http::field::allow, allow);
    res.set(http::field::content_type, "application/problem+json");
    res.body() = body_of(p.document());
    return finish(ex, std::move(res), base);
  }
  p.detail = "no ACME resource " + std::string(target.substr(0, std::min<std::size_t>(target.find('?'), 128)));
  answer_problem(ex, base, p);
}

void AcmeHandler::new_nonce(const ExchangePtr& ex) {
  // RFC 8555 7.2: 200 for HEAD, 204 for GET.
  const bool head = ex->ctx.request.method() == http::verb::head;
  Response res = ex->response(head ? http::status::ok : http::status::no_content);
  finish(ex, std::move(res), origin_of(ex->ctx.request));
}

void AcmeHandler::post(const ExchangePtr& ex, Resource resource, const std::string& id) {
  const std::string base = origin_of(ex->ctx.request);
  if (base.empty()) return answer_problem(ex, base, {"malformed", "the request has no usable Host header"});
  if (media_type(ex->ctx.request) != "application/jose+json") {
    return answer_problem(ex, base, {"malformed", "ACME requests are application/jose+json (RFC 8555 6.2)", 415});
  }
  // The ledger and the token: on a worker, never the I/O thread.
  auto job = [this, ex, resource, id, base] {
    try {
      run_post(ex, resource, id, base);
    } catch (const acme::JwsError& e) {
      answer_problem(ex, base, problem_of(e));
    } catch (const std::exception& e) {
      answer_failure(ex, base, e);
    }
  };
  if (!state_.pool.try_submit(std::move(job))) answer_busy(ex, base);
}

void AcmeHandler::answer_failure(const ExchangePtr& ex, const std::string& base, const std::exception& e) {
  // ACME's answer to an operational failure: a problem document with a
  // nonce (the client retries), never the JSON API's error shape.
  const auto failure = failure_for(e);
  Problem p{"serverInternal", failure.message, failure.status};
  if (failure.status == 503) p.retry_after = std::max<std::int64_t>(1, failure.retry_after);
  ex->problem = e.what();
  answer_problem(ex, base, p);
}

void AcmeHandler::answer_busy(const ExchangePtr& ex, const std::string& base) {
  Problem busy{"rateLimited", "the CA is busy; retry shortly", 503};
  busy.retry_after = 1;
  answer_problem(ex, base, busy);
}

void AcmeHandler::run_post(const ExchangePtr& ex, Resource resource, const std::string& id, const std::string& base) {
  const auto& req = ex->ctx.request;
  const std::string_view target(req.target().data(), req.target().size());
  // The whole URL, query included: a JWS names exactly what it asks for (the
  // orders list's cursor). No other resource takes a query.
  if (target.find('?') != std::string_view::npos && resource != Resource::account_orders) {
    return answer_problem(ex, base, {"malformed", "this resource takes no query: POST to the URL the server gave"});
  }
  const std::string url = base + std::string(target);
  const std::string account_prefix = base + kPrefix + "/account/";

  acme::JwsRequest jws_request;
  jws_request.url = url;
  jws_request.key = resource == Resource::new_account ? acme::KeyReference::jwk
                    : resource == Resource::revoke    ? acme::KeyReference::either
                                                      : acme::KeyReference::kid;
  // The account the kid names, read once: its key verifies the JWS, and it is who asks.
  std::optional<signer::AcmeAccount> account;
  jws_request.key_for_kid = [&](std::string_view kid) -> std::optional<acme::Jwk> {
    if (!kid.starts_with(account_prefix)) return std::nullopt;
    account = service_.account(std::string(kid.substr(account_prefix.size())));
    if (!account) return std::nullopt;
    return acme::AcmeService::account_key(*account);
  };
  jws_request.consume_nonce = [this](std::string_view nonce) { return nonces_.consume(nonce); };
  const acme::VerifiedJws jws = acme::verify_jws(req.body(), jws_request);

  if (jws.kid && !account) return answer_problem(ex, base, {"accountDoesNotExist", "no account " + *jws.kid});
  if (!jws.kid) account.reset();
  // RFC 8555 7.3.6, told only to the holder of the account's key: a deactivated account's requests are refused.
  if (account && account->status != signer::AcmeAccountStatus::valid) {
    return answer_problem(ex, base, {"unauthorized", "account " + account->id + " is deactivated", 403});
  }
  const json payload = jws.post_as_get() ? json::object() : jws.payload_object();
  const std::string p = base + kPrefix;
  auto fail = [&](const auto& result) -> bool {
    if (const auto* problem = std::get_if<Problem>(&result)) {
      answer_problem(ex, base, *problem);
      return true;
    }
    return false;
  };

  switch (resource) {
    case Resource::new_account: {
      auto r = service_.new_account(*jws.jwk, payload, p + "/new-account", client_key(ex->ctx.remote, 48));
      if (fail(r)) return;
      const auto& made = std::get<acme::NewAccount>(r);
      return answer(ex, made.created ? 201 : 200, base, account_json(made.account, base),
                    account_prefix + made.account.id);
    }
    case Resource::account: {
      if (account->id != id) return answer_problem(ex, base, {"unauthorized", "the JWS is not by account " + id, 403});
      auto r = jws.post_as_get() ? acme::Result<signer::AcmeAccount>(*account)
                                 : service_.update_account(*account, payload);
      if (fail(r)) return;
      return answer(ex, 200, base, account_json(std::get<signer::AcmeAccount>(r), base));
    }
    case Resource::account_orders: {
      if (account->id != id) return answer_problem(ex, base, {"unauthorized", "the JWS is not by account " + id, 403});
      // RFC 8555 7.1.2.1: a page, and a Link to the next while there is one.
      std::size_t page = 0;
      const auto query = target.find('?');
      if (query != std::string_view::npos) {
        const std::string_view q = target.substr(query + 1);
        const bool digits = q.starts_with("cursor=") && q.size() > 7 && q.size() <= 7 + 6 &&
                            std::all_of(q.begin() + 7, q.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!digits) {
          return answer_problem(ex, base, {"malformed", "the orders list takes one query parameter, cursor=PAGE"});
        }
        page = static_cast<std::size_t>(std::stoul(std::string(q.substr(7))));
      }
      const auto listed = service_.order_ids(*account, page);
      json orders = json::array();
      for (const auto& o : listed.ids) orders.push_back(p + "/order/" + o);
      Response res = ex->response(http::status::ok);
      res.set(http::field::content_type, "application/json");
      if (listed.more) {
        res.insert(http::field::link,
                   "<" + account_prefix + id + "/orders?cursor=" + std::to_string(page + 1) + ">;rel=\"next\"");
      }
      res.body() = body_of({{"orders", orders}});
      return finish(ex, std::move(res), base);
    }
    case Resource::key_change: {
      auto r = service_.change_key(*account, jws, *jws.kid);
      if (fail(r)) return;
      return answer(ex, 200, base, account_json(std::get<signer::AcmeAccount>(r), base));
    }
    case Resource::new_order: {
      auto r = service_.new_order(*account, payload);
      if (fail(r)) return;
      const auto& o = std::get<signer::AcmeOrder>(r);
      return answer(ex, 201, base, order_json(o, base), p + "/order/" + o.id);
    }
    case Resource::order: {
      auto r = service_.order(*account, id);
      if (fail(r)) return;
      const auto& o = std::get<signer::AcmeOrder>(r);
      Response res = ex->response(http::status::ok);
      res.set(http::field::content_type, "application/json");
      // RFC 8555 7.4: a client polls a processing order after Retry-After.
      if (o.status == signer::AcmeOrderStatus::processing) res.set(http::field::retry_after, "1");
      res.body() = body_of(order_json(o, base));
      return finish(ex, std::move(res), base);
    }
    case Resource::finalize: {
      auto r = service_.finalize(*account, id, payload);
      if (fail(r)) return;
      const auto& o = std::get<signer::AcmeOrder>(r);
      ex->serial = o.certificate_serial;
      return answer(ex, 200, base, order_json(o, base), p + "/order/" + o.id);
    }
    case Resource::authz: {
      auto r = service_.authorization(*account, id);
      if (fail(r)) return;
      return answer(ex, 200, base, authz_json(std::get<signer::AcmeAuthorization>(r), base));
    }
    case Resource::challenge: {
      // RFC 8555 7.5.1: an empty object responds; POST-as-GET only reads.
      auto r = jws.post_as_get() ? service_.challenge(*account, id) : service_.respond_to_challenge(*account, id);
      if (fail(r)) return;
      const auto& c = std::get<signer::AcmeChallenge>(r);
      Response res = ex->response(http::status::ok);
      res.set(http::field::content_type, "application/json");
      res.insert(http::field::link, "<" + p + "/authz/" + c.authz_id + ">;rel=\"up\"");
      res.body() = body_of(challenge_json(c, base));
      return finish(ex, std::move(res), base);
    }
    case Resource::certificate: {
      auto r = service_.certificate_chain(*account, id);
      if (fail(r)) return;
      ex->serial = id;
      Response res = ex->response(http::status::ok);
      res.set(http::field::content_type, "application/pem-certificate-chain");
      res.body() = std::get<std::string>(r);
      return finish(ex, std::move(res), base);
    }
    case Resource::revoke: {
      auto r = service_.revoke(account, jws.key, payload);
      if (fail(r)) return;
      Response res = ex->response(http::status::ok);
      return finish(ex, std::move(res), base);
    }
  }
}

json AcmeHandler::account_json(const signer::AcmeAccount& a, const std::string& base) const {
  json j = {{"status", std::string(signer::acme_name(a.status))},
            {"contact", a.contact},
            {"orders", base + kPrefix + "/account/" + a.id + "/orders"},
            {"createdAt", rfc3339(a.created_at)}};
  if (!a.eab_kid.empty()) j["externalAccountBinding"] = {{"kid", a.eab_kid}};
  return j;
}

json AcmeHandler::order_json(const signer::AcmeOrder& o, const std::string& base) const {
  const std::string p = base + kPrefix;
  json ids = json::array(), authzs = json::array();
  for (const auto& id : o.identifiers) ids.push_back({{"type", std::string(signer::acme_name(id.type))}, {"value", id.value}});
  for (const auto& a : o.authorization_ids) authzs.push_back(p + "/authz/" + a);
  json j = {{"status", std::string(signer::acme_name(o.status))},
            {"expires", rfc3339(o.expires)},
            {"identifiers", ids},
            {"authorizations", authzs},
            {"finalize", p + "/order/" + o.id + "/finalize"},
            {"profile", o.profile}};
  if (!o.replaces.empty()) j["replaces"] = o.replaces;
  if (!o.error.empty()) {
    if (auto e = acme::parse_strict_json(o.error)) j["error"] = *e;
  }
  if (!o.certificate_serial.empty()) j["certificate"] = p + "/cert/" + o.certificate_serial;
  return j;
}

json AcmeHandler::authz_json(const signer::AcmeAuthorization& a, const std::string& base) const {
  json challenges = json::array();
  for (const auto& c : a.challenges) challenges.push_back(challenge_json(c, base));
  json j = {{"identifier", {{"type", std::string(signer::acme_name(a.identifier.type))}, {"value", a.identifier.value}}},
            {"status", std::string(signer::acme_name(a.status))},
            {"expires", rfc3339(a.expires)},
            {"challenges", challenges}};
  if (a.wildcard) j["wildcard"] = true;
  return j;
}

json AcmeHandler::challenge_json(const signer::AcmeChallenge& c, const std::string& base) const {
  json j = {{"type", std::string(signer::acme_name(c.type))},
            {"url", base + kPrefix + "/challenge/" + c.id},
            {"token", c.token},
            {"status", std::string(signer::acme_name(c.status))}};
  if (c.status == signer::AcmeChallengeStatus::valid && c.validated) j["validated"] = rfc3339(*c.validated);
  if (!c.error.empty()) {
    if (auto e = acme::parse_strict_json(c.error)) j["error"] = *e;
  }
  return j;
}

}  // namespace hsmca::appliance
