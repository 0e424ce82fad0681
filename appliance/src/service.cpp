#include "service.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <optional>

#include "hsmca/appliance/est.hpp"
#include "hsmca/appliance/ocsp_http.hpp"
#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/ledger.hpp"
#include "hsmca/signer/revocation.hpp"
#include "hsmca/signer/strict_yaml.hpp"
#include "hsmca/token/error.hpp"

namespace hsmca::appliance {
namespace {

using nlohmann::json;

constexpr std::string_view kEstPrefix = "/.well-known/est/";
constexpr std::string_view kCertificates = "/api/v1/certificates";

std::string media_type(const Request& req) {
  std::string v(req[http::field::content_type]);
  v = v.substr(0, v.find(';'));
  while (!v.empty() && v.back() == ' ') v.pop_back();
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v;
}

// The status a refused request gets: what is wrong with the bytes is 400 (or
// 413), what the CA will not grant is 422, an unknown profile is 404.
// A caller asking for what it may not have (a profile, a renewal) is 403.
unsigned status_for(const signer::Rejection& r) {
  if (r.code == "request_too_large") return 413;
  if (r.code == "malformed_request") return 400;
  if (r.code == "unknown_profile") return 404;
  if (r.code == "profile_forbidden" || r.code == "renewal_refused") return 403;
  return 422;
}

// How often the revocation watcher reads the ledger's revocation version: a
// revocation by another process shows in every answer within this.
constexpr std::chrono::milliseconds kRevocationWatchInterval{250};
// Bounds the client-certificate standing cache; full, it starts over.
constexpr std::size_t kStandingEntries = 10'000;

// "67:CF:47" as `openssl x509 -serial` or a browser shows it -> "67cf47", the
// ledger's spelling; nullopt when it is not hex.
std::optional<std::string> normalized_serial(std::string_view text) {
  std::string serial;
  for (char c : text) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    serial += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return serial;
}

// One JSON line per request or event on stdout: machine-readable, never a
// PIN, token or key. `line` gets the time added.
void log_line(json line) {
  static std::mutex mutex;
  json out = {{"time", signer::rfc3339(std::chrono::system_clock::now(), true)}};
  out.update(line);
  std::lock_guard lock(mutex);
  std::cout << out.dump() << '\n' << std::flush;
}

// How long an HTTP cache may keep GET /crl's answer.
constexpr std::chrono::seconds kCrlMaxAge{300};

// Bounds the OCSP answer cache (~0.5-1 KiB each): enough for every
// certificate a busy issuing CA has out, small next to a flood of random CertIDs.
constexpr std::size_t kOcspCacheEntries = 20'000;
// An "unknown" answer is re-checked this often: a certificate issued by
// another process (hsmca sign) changes no revocation version.
constexpr std::chrono::seconds kUnknownRecheck{60};

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) throw signer::OpenSslError("cannot read a certificate's validity");
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string bytes_text(const token::Bytes& b) { return std::string(b.begin(), b.end()); }

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

// One request on its way through the service: the context, who asked, and
// the single way out (finish), which logs and counts it.
class Service::Exchange {
 public:
  Exchange(Service& service, RequestContext context, std::function<void(Response)> done)
      : service_(service), ctx(std::move(context)), done_(std::move(done)) {}

  Service& service_;
  RequestContext ctx;
  Identity identity;
  std::string route = "unmatched";
  std::string serial;

  void finish(unsigned status, std::string body, std::string_view content_type) {
    Response res{static_cast<http::status>(status), ctx.request.version()};
    res.set(http::field::content_type, std::string(content_type));
    res.body() = std::move(body);
    finish(std::move(res));
  }

  void finish(Response res) {
    res.set(http::field::server, "hsmca-appliance");
    const unsigned status = res.result_int();
    const auto latency = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - ctx.started);
    service_.metrics_.count_http(route, status);
    service_.metrics_.request_finished();
    json line = {{"method", std::string(ctx.request.method_string())},
                 {"route", route},
                 {"status", status},
                 {"latency_ms", std::round(latency.count() * 1000) / 1000},
                 {"client", identity.describe()},
                 {"remote", ctx.remote}};
    if (!serial.empty()) line["serial"] = serial;
    log_line(std::move(line));
    done_(std::move(res));
  }

  void error(unsigned status, const std::string& code, const std::string& message) {
    Response res{static_cast<http::status>(status), ctx.request.version()};
    res.set(http::field::content_type, "application/json");
    if (status == 401) res.set(http::field::www_authenticate, "Bearer realm=\"hsmca\"");
    if (status == 503) res.set(http::field::retry_after, "1");
    res.body() = json{{"error", code}, {"message", message}}.dump();
    finish(std::move(res));
  }

  // An OCSPResponse. `cacheable` (a signed answer without a nonce) gets the
  // RFC 5019 6.2 caching headers; everything else must not be stored.
  void finish_ocsp(unsigned status, std::string der, const OcspAnswer* cacheable = nullptr) {
    Response res{static_cast<http::status>(status), ctx.request.version()};
    res.set(http::field::content_type, "application/ocsp-response");
    if (cacheable) {
      const auto now = std::chrono::system_clock::now();
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(cacheable->next_update - now).count();
      res.set(http::field::last_modified, http_date(cacheable->this_update));
      res.set(http::field::expires, http_date(cacheable->next_update));
      res.set(http::field::cache_control,
              "max-age=" + std::to_string(left > 0 ? left : 0) + ", public, no-transform, must-revalidate");
    } else {
      res.set(http::field::cache_control, "no-store");
    }
    if (status == 503) res.set(http::field::retry_after, "1");
    res.body() = std::move(der);
    finish(std::move(res));
  }

  // The CRL (RFC 5280 is silent on HTTP caching). A revocation reaches this
  // CRL within seconds, so caches may keep it for a few minutes only, never
  // past its nextUpdate; the CRL number is its entity tag.
  void finish_crl(const CachedCrl& crl) {
    Response res{http::status::ok, ctx.request.version()};
    res.set(http::field::content_type, "application/pkix-crl");
    const auto now = std::chrono::system_clock::now();
    const auto age = std::clamp<std::int64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(crl.next_update - now).count(), 0, kCrlMaxAge.count());
    res.set(http::field::last_modified, http_date(crl.this_update));
    res.set(http::field::expires, http_date(now + std::chrono::seconds{age}));
    res.set(http::field::cache_control, "max-age=" + std::to_string(age) + ", public, no-transform, must-revalidate");
    res.set(http::field::etag, "\"" + std::to_string(crl.number) + "\"");
    res.body() = crl.der;
    finish(std::move(res));
  }

  // false (after answering 401) unless the caller is known and its
  // credential still counts: a client certificate of this CA must be in the
  // ledger, unrevoked, on every request that relies on it.
  bool authenticate() {
    if (identity.kind == Identity::Kind::none) {
      error(401, "unauthenticated",
            ctx.request.count(http::field::authorization) ? "the bearer token is not valid"
                                                           : "present a client certificate or a bearer token");
      return false;
    }
    if (identity.kind == Identity::Kind::client_certificate) {
      if (auto why = service_.shut_out(ctx, identity); !why.empty()) {
        error(401, "credential_refused", "the client certificate " + why);
        return false;
      }
    }
    return true;
  }

  // false (after answering 401/403) unless the caller holds `role`.
  bool authorize(std::string_view role) {
    if (!authenticate()) return false;
    if (!identity.has_role(role)) {
      error(403, "forbidden", identity.describe() + " lacks the " + std::string(role) + " role");
      return false;
    }
    return true;
  }

 private:
  std::function<void(Response)> done_;
};

Service::Service(const signer::CaConfig& ca_config, const ApplianceConfig& config, signer::IssuingCa& issuing,
                 const Authorizer& authorizer, Metrics& metrics, WorkPool& pool)
    : ca_config_(ca_config),
      config_(config),
      issuing_(issuing),
      authorizer_(authorizer),
      metrics_(metrics),
      pool_(pool),
      client_crls_(config.client_crls, config.client_ca),
      ocsp_validity_(std::chrono::hours{ca_config.revocation.ocsp_validity_hours}),
      ocsp_cache_(kOcspCacheEntries),
      fresh_signatures_(ca_config.revocation.ocsp_fresh_signatures_per_second,
                        std::max(1, ca_config.revocation.ocsp_fresh_signatures_per_second)),
      revocations_([&issuing] { return issuing.ledger().revocation_version(issuing.ca().issuer_id()); },
                   kRevocationWatchInterval, [](const std::exception& e) {
                     log_line({{"event", "revocation_watch_failed"}, {"problem", e.what()}});
                   }) {
  auto& ca = issuing_.ca();
  std::vector<X509*> chain{ca.issuer_certificate()};
  for (const auto& c : ca.chain()) chain.push_back(c.get());
  cacerts_body_ = base64_encode(certs_only_der(chain));
  chain_pem_ = ca.chain_pem();
  chain_json_ = json::array();
  chain_json_.push_back(signer::to_pem(ca.issuer_certificate()));
  for (const auto& c : ca.chain()) chain_json_.push_back(signer::to_pem(c.get()));
  issuer_der_ = bytes_text(signer::to_der(ca.issuer_certificate()));

  ocsp_issuer_.certificate = ca.issuer_certificate();
  ocsp_issuer_.key = &issuing_.key();
  issuer_responder_ = std::make_unique<signer::OcspResponder>(ocsp_issuer_, issuing_.key());
  if (issuing_.ocsp_key()) {
    X509* cert = issuing_.ocsp_certificate();
    try {
      delegated_responder_ = std::make_unique<signer::OcspResponder>(ocsp_issuer_, *issuing_.ocsp_key(), cert);
    } catch (const std::invalid_argument& e) {
      throw signer::ConfigError("revocation.ocsp_signer: " + std::string(e.what()));
    }
    delegated_from_ = to_time_point(X509_get0_notBefore(cert));
    delegated_until_ = to_time_point(X509_get0_notAfter(cert));
    if (delegated_until_ < std::chrono::system_clock::now() + ocsp_validity_) {
      std::cerr << "warning: the OCSP responder certificate " << ca_config.revocation.ocsp_signer->certificate.string()
                << " ends " << signer::rfc3339(delegated_until_, false)
                << ", before the responses it would sign: the issuing key signs OCSP responses until it is renewed"
                   " (hsmca ceremony run with ceremony: ocsp-signer)\n";
    }
  }
  using signer::OcspResponseStatus;
  ocsp_malformed_ = bytes_text(signer::OcspResponder::error_response(OcspResponseStatus::malformed_request));
  ocsp_unauthorized_ = bytes_text(signer::OcspResponder::error_response(OcspResponseStatus::unauthorized));
  ocsp_try_later_ = bytes_text(signer::OcspResponder::error_response(OcspResponseStatus::try_later));
  ocsp_internal_error_ = bytes_text(signer::OcspResponder::error_response(OcspResponseStatus::internal_error));
  standing_version_ = revocations_.current();
}

Identity Service::identify(const RequestContext& ctx) const {
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

std::string Service::shut_out(const RequestContext& ctx, const Identity& identity) {
  X509* peer = ctx.peer.get();
  // The fingerprint identify() took already: no second digest per request.
  if (peer == nullptr || identity.fingerprint.empty()) return "cannot be read";
  const std::string& key = identity.fingerprint;
  const auto version = revocations_.current();
  const auto crls = client_crls_.generation();
  {
    std::lock_guard lock(standing_mutex_);
    if (standing_version_ != version || standing_crls_ != crls) {
      standing_.clear();
      standing_version_ = version;
      standing_crls_ = crls;
    }
    if (auto hit = standing_.find(key); hit != standing_.end()) return hit->second;
  }
  // A ledger read, on this thread: one per certificate and revocation version.
  auto& ca = issuing_.ca();
  std::string why;
  if (X509_NAME_cmp(X509_get_issuer_name(peer), X509_get_subject_name(ca.issuer_certificate())) == 0) {
    // Names this CA as its issuer: it counts only as the ledger has it.
    const auto standing = ca.standing(peer, std::chrono::system_clock::now());
    if (standing.status != signer::Standing::Status::issued) {
      why = "is " + std::string(signer::standing_name(standing.status));
    }
  } else {
    // Another CA's certificate: its CRL, when one is configured, says.
    why = client_crls_.why_refused(peer, std::chrono::system_clock::now());
  }
  std::lock_guard lock(standing_mutex_);
  if (standing_version_ == version && standing_crls_ == crls) {
    if (standing_.size() >= kStandingEntries) standing_.clear();
    standing_.emplace(key, why);
  }
  return why;
}

void Service::handle(RequestContext ctx, std::function<void(Response)> done) {
  metrics_.request_started();
  auto ex = std::make_shared<Exchange>(*this, std::move(ctx), std::move(done));
  try {
    ex->identity = identify(ex->ctx);
    route(ex);
  } catch (const std::exception& e) {
    ex->error(500, "internal", e.what());
  }
}

void Service::route(const std::shared_ptr<Exchange>& ex) {
  const auto& req = ex->ctx.request;
  std::string target(req.target());
  std::string path = target.substr(0, target.find('?'));
  const bool get = req.method() == http::verb::get;
  const bool post = req.method() == http::verb::post;
  auto wrong_method = [&](const char* allow) {
    Response res{http::status::method_not_allowed, req.version()};
    res.set(http::field::allow, allow);
    res.set(http::field::content_type, "application/json");
    res.body() = json{{"error", "method_not_allowed"}, {"message", std::string("use ") + allow}}.dump();
    ex->finish(std::move(res));
  };

  // Public routes, on both listeners.
  if (path == "/healthz") {
    ex->route = "/healthz";
    return get ? health(ex) : wrong_method("GET");
  }
  if (path == "/ca/chain.pem") {
    ex->route = "/ca/chain.pem";
    return get ? ex->finish(200, chain_pem_, "application/pem-certificate-chain") : wrong_method("GET");
  }
  if (path == "/ca/issuer.crt") {
    // What revocation.issuer_url (AIA caIssuers) points at: RFC 5280 4.2.2.1 wants DER.
    ex->route = "/ca/issuer.crt";
    return get ? ex->finish(200, issuer_der_, "application/pkix-cert") : wrong_method("GET");
  }
  if (path == "/root.crl") {
    ex->route = "/root.crl";
    if (!get) return wrong_method("GET");
    if (config_.root_crl.empty()) {
      return ex->error(404, "not_found", "this appliance publishes no root CRL (appliance.root_crl in the CA file)");
    }
    return root_crl(ex);
  }
  if (path == "/crl") {
    ex->route = "/crl";
    return get ? crl(ex) : wrong_method("GET");
  }
  if (path == "/ocsp" || path == "/ocsp/") {
    ex->route = "/ocsp";
    if (!post) return wrong_method("POST");
    if (media_type(req) != "application/ocsp-request") {
      metrics_.count_ocsp("malformedRequest", "none");
      return ex->finish_ocsp(415, ocsp_malformed_);
    }
    return ocsp(ex, token::Bytes(req.body().begin(), req.body().end()));
  }
  if (path.rfind("/ocsp/", 0) == 0) {
    // RFC 6960 A.1.1: GET {url}/{url-encoding of base-64 encoding of the DER encoding of the OCSPRequest}
    ex->route = "/ocsp/{request}";
    if (!get) return wrong_method("GET");
    auto der = decode_ocsp_get(std::string_view(path).substr(6));
    if (!der) {
      metrics_.count_ocsp("malformedRequest", "none");
      return ex->finish_ocsp(200, ocsp_malformed_);
    }
    return ocsp(ex, *der);
  }
  if (path == "/metrics" && !ex->ctx.secure) {
    ex->route = "/metrics";
    if (!get) return wrong_method("GET");
    return ex->finish(200, metrics_.render(issuing_.pool().stats()), "text/plain; version=0.0.4");
  }
  if (!ex->ctx.secure) {
    return ex->error(404, "not_found", path + " is not served on the plain listener; enrollment is on HTTPS");
  }

  if (path.rfind(kEstPrefix, 0) == 0) {
    // /.well-known/est/[label/]operation: the optional CA label names the profile (RFC 7030 3.2.2).
    std::string rest = path.substr(kEstPrefix.size());
    std::string label, op = rest;
    if (auto slash = rest.find('/'); slash != std::string::npos) {
      label = rest.substr(0, slash);
      op = rest.substr(slash + 1);
    }
    ex->route = "/.well-known/est/" + std::string(label.empty() ? "" : "{label}/") + op;
    if (op == "cacerts") {
      if (!get) return wrong_method("GET");
      Response res{http::status::ok, req.version()};
      res.set(http::field::content_type, "application/pkcs7-mime");
      res.set("Content-Transfer-Encoding", "base64");
      res.body() = cacerts_body_;
      return ex->finish(std::move(res));
    }
    if (op == "simpleenroll" || op == "simplereenroll") {
      if (!post) return wrong_method("POST");
      return enroll(ex, label.empty() ? std::nullopt : std::optional<std::string>(label), true,
                    op == "simplereenroll");
    }
    ex->route = "/.well-known/est/unknown";
    return ex->error(404, "not_found", "EST operation '" + op + "' is not supported");
  }

  if (path == kCertificates) {
    ex->route = std::string(kCertificates);
    if (!post) return wrong_method("POST");
    return enroll(ex, std::nullopt, false, false);
  }
  if (path.rfind(std::string(kCertificates) + "/", 0) == 0) {
    const std::string rest = path.substr(kCertificates.size() + 1);
    constexpr std::string_view kRevoke = "/revoke";
    if (rest.size() > kRevoke.size() && rest.ends_with(kRevoke)) {
      ex->route = std::string(kCertificates) + "/{serial}/revoke";
      if (!post) return wrong_method("POST");
      return revoke(ex, rest.substr(0, rest.size() - kRevoke.size()));
    }
    ex->route = std::string(kCertificates) + "/{serial}";
    if (!get) return wrong_method("GET");
    return show_certificate(ex, rest);
  }
  ex->error(404, "not_found", "no route for " + path);
}

bool Service::submit(const std::shared_ptr<Exchange>& ex, std::function<void()> job) {
  if (pool_.try_submit(std::move(job))) return true;
  ex->error(503, "busy", "the signing queue is full; retry shortly");
  return false;
}

// `named`: the profile the request names (EST label, JSON "profile"); without
// one, a new certificate gets the default profile and a renewal keeps its own.
void Service::enroll(const std::shared_ptr<Exchange>& ex, std::optional<std::string> named, bool est, bool reenroll) {
  const auto& req = ex->ctx.request;
  if (reenroll) {
    // RFC 7030 4.2.2: the client authenticates with the certificate it
    // renews, and that certificate must pass client verification.
    if (!ex->ctx.peer) {
      return ex->error(401, "unauthenticated", "re-enrollment needs the client certificate being renewed");
    }
    if (!ex->ctx.peer_trusted) {
      return ex->error(403, "renewal_refused",
                       "the certificate presented for renewal did not pass client verification (appliance.auth.client_ca,"
                       " clientAuth)");
    }
    ex->identity = authorizer_.for_client_certificate(ex->ctx.peer.get());
  }
  // Which profiles the caller may have is signer's decision (requesters).
  if (!ex->authenticate()) return;

  auto csr = std::make_shared<token::Bytes>();
  if (est) {
    if (media_type(req) != "application/pkcs10") {
      return ex->error(415, "unsupported_media_type", "send the request as application/pkcs10 (base64 DER)");
    }
    auto der = base64_decode(req.body());
    if (!der || der->empty()) return ex->error(400, "malformed_request", "the body is not base64 DER");
    *csr = std::move(*der);
  } else {
    if (media_type(req) != "application/json") {
      return ex->error(415, "unsupported_media_type", "send application/json: {\"csr\": PEM, \"profile\": NAME}");
    }
    json body = json::parse(req.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("csr") || !body["csr"].is_string()) {
      return ex->error(400, "malformed_request", "expected a JSON object with \"csr\" (PEM) and optional \"profile\"");
    }
    for (const auto& [key, value] : body.items()) {
      if (key != "csr" && key != "profile") return ex->error(400, "malformed_request", "unknown field \"" + key + "\"");
    }
    if (body.contains("profile")) {
      if (!body["profile"].is_string()) return ex->error(400, "malformed_request", "\"profile\" must be a string");
      named = body["profile"].get<std::string>();
    }
    const auto& pem = body["csr"].get_ref<const std::string&>();
    csr->assign(pem.begin(), pem.end());
  }

  std::string profile = named.value_or(config_.default_profile);
  submit(ex, [this, ex, csr, profile, named, est, reenroll]() mutable {
    auto& ca = issuing_.ca();
    // Only configured profile names become metric labels: the caller chooses this one.
    const std::string metric_profile = ca.profile(profile) ? profile : "(unknown)";
    try {
      signer::IssuanceRequest request{*csr, profile, std::nullopt, ex->identity.caller()};
      if (reenroll) {
        auto renewal = ca.renewal_of(ex->ctx.peer.get(), named, std::chrono::system_clock::now());
        if (!renewal.ok()) {
          metrics_.count_issuance(metric_profile, "rejected");
          return ex->error(status_for(renewal.rejection()), renewal.rejection().code, renewal.rejection().message);
        }
        request.profile = renewal.value().profile;
        request.renewal = std::move(renewal.value());
      }
      auto outcome = ca.issue(request);
      if (!outcome.ok()) {
        metrics_.count_issuance(metric_profile, "rejected");
        const auto& r = outcome.rejection();
        return ex->error(status_for(r), r.code, r.message);
      }
      const auto& cert = outcome.value();
      metrics_.count_issuance(request.profile, "issued");
      ex->serial = cert.serial_hex();
      if (est) {
        Response res{http::status::ok, ex->ctx.request.version()};
        res.set(http::field::content_type, "application/pkcs7-mime; smime-type=certs-only");
        res.set("Content-Transfer-Encoding", "base64");
        res.body() = base64_encode(certs_only_from_der(std::vector<std::span<const unsigned char>>{cert.der()}));
        return ex->finish(std::move(res));
      }
      Response res{http::status::created, ex->ctx.request.version()};
      res.set(http::field::content_type, "application/json");
      res.set(http::field::location, std::string(kCertificates) + "/" + cert.serial_hex());
      res.body() = json{{"serial", cert.serial_hex()}, {"certificate", cert.pem()}, {"chain", chain_json_}}.dump();
      return ex->finish(std::move(res));
    } catch (const token::Error& e) {
      metrics_.count_issuance(metric_profile, "error");
      return ex->error(503, "token_unavailable", e.what());
    } catch (const signer::LedgerError& e) {
      metrics_.count_issuance(metric_profile, "error");
      return ex->error(503, "ledger_unavailable", e.what());
    } catch (const std::exception& e) {
      metrics_.count_issuance(metric_profile, "error");
      return ex->error(500, "internal", e.what());
    }
  });
}

void Service::show_certificate(const std::shared_ptr<Exchange>& ex, const std::string& serial_text) {
  if (!ex->authenticate()) return;
  if (!ex->identity.has_role("enroll") && !ex->identity.has_role("admin")) return (void)ex->authorize("enroll");
  const auto serial = normalized_serial(serial_text);
  if (!serial) return ex->error(400, "malformed_request", "the serial must be hex");
  submit(ex, [this, ex, serial = *serial] {
    try {
      auto entry = issuing_.ledger().find(issuing_.ca().issuer_id(), serial);
      if (!entry) return ex->error(404, "not_found", "no certificate with serial " + serial);
      ex->serial = serial;
      json out = {{"serial", entry->record.serial},
                  {"status", signer::status_name(entry->status)},
                  {"subject", entry->record.subject},
                  {"sans", entry->record.sans},
                  {"profile", entry->record.profile},
                  {"not_before", entry->record.not_before},
                  {"not_after", entry->record.not_after}};
      if (!entry->der.empty()) out["certificate"] = signer::IssuedCertificate::from_der(entry->der).pem();
      ex->finish(200, out.dump(), "application/json");
    } catch (const std::exception& e) {
      ex->error(503, "ledger_unavailable", e.what());
    }
  });
}

void Service::revoke(const std::shared_ptr<Exchange>& ex, const std::string& serial_text) {
  if (!ex->authorize("admin")) return;
  const auto serial = normalized_serial(serial_text);
  if (!serial || serial->empty()) return ex->error(400, "malformed_request", "the serial must be hex");
  const auto& req = ex->ctx.request;
  std::string reason(signer::reason_name(signer::RevocationReason::unspecified));
  // The body is optional: no body revokes for an unspecified reason.
  if (!req.body().empty()) {
    if (media_type(req) != "application/json") {
      return ex->error(415, "unsupported_media_type", "send application/json: {\"reason\": NAME}");
    }
    json body = json::parse(req.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return ex->error(400, "malformed_request", "expected a JSON object with an optional \"reason\"");
    }
    for (const auto& [key, value] : body.items()) {
      if (key != "reason") return ex->error(400, "malformed_request", "unknown field \"" + key + "\"");
    }
    if (body.contains("reason")) {
      if (!body["reason"].is_string()) return ex->error(400, "malformed_request", "\"reason\" must be a string");
      reason = body["reason"].get<std::string>();
    }
    if (!signer::parse_revocation_reason(reason)) {
      return ex->error(400, "unknown_reason",
                       "unknown revocation reason '" + reason + "' (reasons: " + signer::revocation_reason_names() + ")");
    }
  }
  submit(ex, [this, ex, serial = *serial, reason] {
    try {
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      const auto outcome = issuing_.ledger().revoke(issuing_.ca().issuer_id(), serial, *signer::parse_revocation_reason(reason), now);
      using Result = signer::RevokeOutcome::Result;
      switch (outcome.result) {
        case Result::not_found:
          return ex->error(404, "not_found", "no certificate with serial " + serial);
        case Result::not_issued:
          return ex->error(409, "not_issued",
                           "certificate " + serial + " is " + std::string(signer::status_name(outcome.status)) +
                               ", not issued: there is nothing to revoke");
        case Result::revoked:
        case Result::already_revoked:
          // Before the answer: the next OCSP answer, CRL and client
          // certificate check of this process see the revocation.
          revocations_.advance(issuing_.ledger().revocation_version(issuing_.ca().issuer_id()));
          break;
      }
      ex->serial = serial;
      json out = {{"serial", serial},
                  {"status", "revoked"},
                  {"revoked_at", signer::rfc3339(outcome.revoked_at)},
                  {"reason", std::string(signer::reason_name(outcome.reason))},
                  {"already_revoked", outcome.result == Result::already_revoked}};
      ex->finish(200, out.dump(), "application/json");
    } catch (const signer::LedgerError& e) {
      ex->error(503, "ledger_unavailable", e.what());
    } catch (const std::exception& e) {
      ex->error(500, "internal", e.what());
    }
  });
}

void Service::crl(const std::shared_ptr<Exchange>& ex) {
  std::shared_ptr<const CachedCrl> current;
  bool start = false;
  {
    std::lock_guard lock(crl_mutex_);
    const auto now = std::chrono::steady_clock::now();
    // A CRL past its nextUpdate, or one that may lack a revocation the
    // watcher has seen, is no answer: wait for the new one.
    if (crl_ && std::chrono::system_clock::now() < crl_->next_update && at_least(crl_->version, revocations_.current())) {
      current = crl_;
    }
    const bool due = !current || now >= current->refresh_after;
    if (due && !crl_refreshing_) {
      crl_refreshing_ = true;
      start = true;
    }
    if (!current) crl_waiters_.push_back(ex);
  }
  if (start && !pool_.try_submit([this] { refresh_crl(); })) {
    std::vector<std::shared_ptr<Exchange>> waiters;
    {
      std::lock_guard lock(crl_mutex_);
      crl_refreshing_ = false;
      if (!current) waiters.swap(crl_waiters_);
    }
    for (const auto& w : waiters) w->error(503, "busy", "the signing queue is full; retry shortly");
  }
  if (current) ex->finish_crl(*current);
}

void Service::refresh_crl() {
  std::shared_ptr<const CachedCrl> fresh;
  unsigned failure_status = 0;
  std::string failure_code, failure_message;
  try {
    auto& ca = issuing_.ca();
    auto& ledger = issuing_.ledger();
    std::shared_ptr<const CachedCrl> current;
    {
      std::lock_guard lock(crl_mutex_);
      current = crl_;
    }
    // Read before the entries: a revocation landing in between makes the next
    // look re-sign once more, never miss it.
    const auto version = ledger.revocation_version(ca.issuer_id());
    revocations_.advance(version);
    if (current && current->version == version && std::chrono::steady_clock::now() < current->refresh_after &&
        std::chrono::system_clock::now() < current->next_update) {
      fresh = current;
    } else {
      const auto validity = std::chrono::hours{ca_config_.revocation.crl_validity_hours};
      const auto signed_crl = ca.issue_crl(validity);
      auto made = std::make_shared<CachedCrl>();
      made->der.assign(signed_crl.der.begin(), signed_crl.der.end());
      made->number = signed_crl.number;
      made->version = version;
      made->this_update = std::chrono::system_clock::time_point{std::chrono::seconds{signed_crl.this_update}};
      made->next_update = std::chrono::system_clock::time_point{std::chrono::seconds{signed_crl.next_update}};
      made->refresh_after = std::chrono::steady_clock::now() + validity / 2;
      fresh = std::move(made);
      log_line({{"event", "crl_signed"},
                {"crl_number", signed_crl.number},
                {"revoked", signed_crl.entries},
                {"next_update", signer::rfc3339(signed_crl.next_update)}});
    }
  } catch (const token::Error& e) {
    failure_status = 503;
    failure_code = "token_unavailable";
    failure_message = e.what();
  } catch (const signer::LedgerError& e) {
    failure_status = 503;
    failure_code = "ledger_unavailable";
    failure_message = e.what();
  } catch (const std::exception& e) {
    failure_status = 500;
    failure_code = "internal";
    failure_message = e.what();
  }
  std::vector<std::shared_ptr<Exchange>> waiters;
  bool again = false;
  {
    std::lock_guard lock(crl_mutex_);
    if (fresh) crl_ = fresh;
    // Waiters join under this lock: one that came after the watcher saw a
    // revocation this CRL lacks waits for the next one, signed on this worker.
    again = fresh && !at_least(fresh->version, revocations_.current());
    if (!again) {
      // A failed refresh is retried by the next request; a CRL that lists
      // every revocation and is still valid keeps being served meanwhile.
      crl_refreshing_ = false;
      waiters.swap(crl_waiters_);
    }
  }
  if (again) return refresh_crl();
  for (const auto& w : waiters) {
    if (fresh) {
      w->finish_crl(*fresh);
    } else {
      w->error(failure_status, failure_code, failure_message);
    }
  }
}

void Service::root_crl(const std::shared_ptr<Exchange>& ex) {
  std::shared_ptr<const CachedCrl> current;
  {
    std::lock_guard lock(root_crl_mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (now - root_crl_checked_ >= std::chrono::seconds(1)) {
      root_crl_checked_ = now;
      reload_root_crl();
    }
    current = root_crl_;
  }
  if (!current) {
    return ex->error(503, "root_crl_unavailable",
                     config_.root_crl.string() + " is missing or not a CRL of the chain: copy the root's latest CRL there");
  }
  ex->finish_crl(*current);
}

// Under root_crl_mutex_. The file is read again only when it changed.
void Service::reload_root_crl() {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(config_.root_crl, ec);
  const auto size = ec ? 0 : std::filesystem::file_size(config_.root_crl, ec);
  if (ec || (mtime == root_crl_mtime_ && size == root_crl_size_)) return;  // read already, served or refused
  root_crl_mtime_ = mtime;
  root_crl_size_ = size;
  // The ceremony wrote it; whoever copied it here may have copied the wrong
  // file: it is served only once a certificate of the chain is its issuer.
  std::string problem = "no certificate of the chain issued it";
  std::ifstream in(config_.root_crl, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::span<const unsigned char> data(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  for (const auto& cert : issuing_.ca().chain()) {
    try {
      const auto crl = signer::read_crl(data, cert.get());
      auto made = std::make_shared<CachedCrl>();
      made->der.assign(crl.der.begin(), crl.der.end());
      made->number = crl.number;
      made->this_update = std::chrono::system_clock::time_point{std::chrono::seconds{crl.this_update}};
      made->next_update = std::chrono::system_clock::time_point{std::chrono::seconds{crl.next_update}};
      root_crl_ = std::move(made);
      problem.clear();
      break;
    } catch (const std::invalid_argument& e) {
      problem = e.what();
    }
  }
  json line = {{"event", problem.empty() ? "root_crl_loaded" : "root_crl_refused"},
               {"file", config_.root_crl.string()}};
  if (problem.empty()) {
    line["crl_number"] = root_crl_->number;
  } else {
    line["problem"] = problem;  // the last one served stays
  }
  log_line(std::move(line));
}

void Service::health(const std::shared_ptr<Exchange>& ex) {
  {
    std::lock_guard lock(health_mutex_);
    if (std::chrono::steady_clock::now() - health_checked_ < std::chrono::seconds(1)) {
      return ex->finish(health_ok_ ? 200 : 503, health_body_, "application/json");
    }
  }
  submit(ex, [this, ex] {
    json body;
    bool ok = true;
    try {
      static const unsigned char kProbe[] = "hsmca health probe";
      issuing_.key().sign(kProbe);
      body["token"] = "ok";
    } catch (const std::exception& e) {
      ok = false;
      body["token"] = e.what();
    }
    try {
      body["ledger"] = issuing_.ledger().probe() ? "ok" : "not writable";
      ok = ok && body["ledger"] == "ok";
    } catch (const std::exception& e) {
      ok = false;
      body["ledger"] = e.what();
    }
    body["status"] = ok ? "ok" : "unavailable";
    std::string text = body.dump();
    {
      std::lock_guard lock(health_mutex_);
      health_checked_ = std::chrono::steady_clock::now();
      health_ok_ = ok;
      health_body_ = text;
    }
    ex->finish(ok ? 200 : 503, text, "application/json");
  });
}

signer::OcspStatus Service::ocsp_status(const std::string& serial) const {
  signer::OcspStatus out;
  auto entry = issuing_.ledger().find(issuing_.ca().issuer_id(), serial);
  if (!entry) return out;
  if (entry->status == signer::CertificateStatus::issued) {
    out.status = signer::OcspStatus::Status::good;
  } else if (entry->status == signer::CertificateStatus::revoked) {
    out.status = signer::OcspStatus::Status::revoked;
    out.revoked_at = entry->revoked_at.value_or(0);
    out.reason = entry->revocation_reason.value_or(signer::RevocationReason::unspecified);
  }
  // pending and failed: no certificate went out, so "unknown".
  return out;
}

// The delegated responder signs while its certificate covers the whole
// response; otherwise (not yet valid, or expiring first) the issuing key does,
// so an expiring responder certificate never makes answers unverifiable.
const signer::OcspResponder& Service::ocsp_responder(std::chrono::system_clock::time_point next_update) const {
  const auto now = std::chrono::system_clock::now();
  if (delegated_responder_ && delegated_from_ <= now && next_update <= delegated_until_) return *delegated_responder_;
  return *issuer_responder_;
}

void Service::ocsp(const std::shared_ptr<Exchange>& ex, const token::Bytes& der) {
  auto parsed = signer::parse_ocsp_request(der);
  if (!parsed.ok()) {
    metrics_.count_ocsp("malformedRequest", "none");
    return ex->finish_ocsp(200, ocsp_malformed_);
  }
  const auto& query = parsed.value();
  if (query.requests.size() == 1) ex->serial = query.requests.front().serial_hex;
  bool ours = false;
  for (const auto& id : query.requests) ours = ours || issuer_responder_->issued_by_us(id);
  if (!ours) {
    // RFC 5019 2.2.3: about certificates of another CA, unsigned.
    metrics_.count_ocsp("unauthorized", "none");
    return ex->finish_ocsp(200, ocsp_unauthorized_);
  }
  // An answer for this request alone costs a signature: within the budget
  // only. Beyond it a nonce is left out (RFC 8954 3 lets a responder ignore
  // it) and the cached answer serves; several certificates get tryLater.
  if (query.requests.size() != 1 || query.nonce) {
    if (fresh_signatures_.try_take()) {
      auto job = [this, ex, query = query] { answer_ocsp(ex, query); };
      if (!pool_.try_submit(std::move(job))) {
        metrics_.count_ocsp("tryLater", "none");
        ex->finish_ocsp(503, ocsp_try_later_);
      }
      return;
    }
    metrics_.count_ocsp_over_budget(query.requests.size() != 1 ? "several" : "nonce");
    if (query.requests.size() != 1) {
      metrics_.count_ocsp("tryLater", "none");
      return ex->finish_ocsp(503, ocsp_try_later_);
    }
  }

  const auto& id = query.requests.front();
  const std::string key(id.der.begin(), id.der.end());
  if (auto hit = ocsp_cache_.fresh(key, revocations_.current(), std::chrono::steady_clock::now())) {
    metrics_.count_ocsp(status_label(hit->status), "cache");
    return ex->finish_ocsp(200, hit->der, hit.get());
  }
  {
    std::lock_guard lock(ocsp_mutex_);
    auto [waiting, first] = ocsp_waiting_.try_emplace(key);
    waiting->second.push_back(ex);
    if (!first) return;  // a worker is already on it
  }
  if (!pool_.try_submit([this, id] { answer_cached_ocsp(id); })) {
    std::vector<std::shared_ptr<Exchange>> waiters;
    {
      std::lock_guard lock(ocsp_mutex_);
      waiters = std::move(ocsp_waiting_[key]);
      ocsp_waiting_.erase(key);
    }
    for (const auto& w : waiters) {
      metrics_.count_ocsp("tryLater", "none");
      w->finish_ocsp(503, ocsp_try_later_);
    }
  }
}

void Service::answer_cached_ocsp(const signer::CertId& id) {
  const std::string key(id.der.begin(), id.der.end());
  std::shared_ptr<const OcspAnswer> answer;
  bool signed_now = false;
  unsigned failure_status = 0;
  std::string_view failure;
  std::vector<std::shared_ptr<Exchange>> waiters;
  for (int round = 0;; ++round) {
    answer.reset();
    signed_now = false;
    signer::RevocationVersion version;
    try {
      // The version is read before the status: a revocation in between makes
      // the answer look stale at once, never hides the revocation.
      version = issuing_.ledger().revocation_version(issuing_.ca().issuer_id());
      revocations_.advance(version);
      const auto status = ocsp_status(id.serial_hex);
      const auto steady_now = std::chrono::steady_clock::now();
      auto cached = ocsp_cache_.any(key);
      if (cached && same_status(cached->status, status) && steady_now < cached->refresh_after) {
        ocsp_cache_.confirm(key, cached, version);
        answer = std::move(cached);
      } else if (status.status == signer::OcspStatus::Status::unknown && !fresh_signatures_.try_take()) {
        // Serials nobody issued are what a flood of random requests asks
        // about: past the budget they get an unsigned unauthorized (RFC 5019 2.2.3).
        metrics_.count_ocsp_over_budget("unknown");
        failure_status = 200;
        failure = ocsp_unauthorized_;
      } else {
        auto made = std::make_shared<OcspAnswer>();
        made->status = status;
        made->this_update = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
        made->next_update = made->this_update + ocsp_validity_;
        made->refresh_after = steady_now + (status.status == signer::OcspStatus::Status::unknown
                                                ? std::min<std::chrono::steady_clock::duration>(kUnknownRecheck, ocsp_validity_ / 2)
                                                : std::chrono::steady_clock::duration(ocsp_validity_ / 2));
        made->der = bytes_text(ocsp_responder(made->next_update).respond_one(id, status, made->this_update, made->next_update));
        ocsp_cache_.store(key, made, version);
        answer = std::move(made);
        signed_now = true;
      }
    } catch (const token::Error&) {
      failure_status = 503;
      failure = ocsp_try_later_;
    } catch (const signer::LedgerError&) {
      failure_status = 503;
      failure = ocsp_try_later_;
    } catch (const std::exception&) {
      failure_status = 500;
      failure = ocsp_internal_error_;
    }
    std::lock_guard lock(ocsp_mutex_);
    // Waiters join under this lock; one that joined after the watcher saw a
    // newer revocation than this round read must not get its answer: look
    // again (the ledger's version only grows, so a round or two suffices).
    if (answer && round < 3 && !at_least(version, revocations_.current())) continue;
    waiters = std::move(ocsp_waiting_[key]);
    ocsp_waiting_.erase(key);
    break;
  }
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    if (answer) {
      // The first waiter's answer was signed now, or re-confirmed by a ledger read; the rest shared it.
      metrics_.count_ocsp(status_label(answer->status), i > 0 ? "cache" : signed_now ? "signed" : "ledger");
      waiters[i]->finish_ocsp(200, answer->der, answer.get());
    } else {
      metrics_.count_ocsp(failure_status == 503 ? "tryLater" : failure_status == 200 ? "unauthorized" : "internalError",
                          "none");
      waiters[i]->finish_ocsp(failure_status, std::string(failure));
    }
  }
}

void Service::answer_ocsp(const std::shared_ptr<Exchange>& ex, const signer::OcspQuery& query) {
  try {
    const auto this_update = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    const auto next_update = this_update + ocsp_validity_;
    std::string_view label = "good";
    auto lookup = [&](const std::string& serial) {
      auto status = ocsp_status(serial);
      if (query.requests.size() == 1) label = status_label(status);
      return status;
    };
    auto der = ocsp_responder(next_update).respond(query, lookup, this_update, next_update);
    metrics_.count_ocsp(query.requests.size() == 1 ? label : "several", "signed");
    ex->finish_ocsp(200, bytes_text(der));
  } catch (const token::Error&) {
    metrics_.count_ocsp("tryLater", "none");
    ex->finish_ocsp(503, ocsp_try_later_);
  } catch (const signer::LedgerError&) {
    metrics_.count_ocsp("tryLater", "none");
    ex->finish_ocsp(503, ocsp_try_later_);
  } catch (const std::exception&) {
    metrics_.count_ocsp("internalError", "none");
    ex->finish_ocsp(500, ocsp_internal_error_);
  }
}

}  // namespace hsmca::appliance
