#pragma once
// One request on its way through the appliance: what arrived, who sent it,
// and the single way out (finish), which logs and counts it. Handlers get an
// Exchange from the router and answer it exactly once, on any thread.
#include <openssl/x509.h>

#include <boost/beast/http.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "hsmca/appliance/auth.hpp"
#include "hsmca/appliance/metrics.hpp"
#include "hsmca/signer/outcome.hpp"

namespace hsmca::appliance {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

struct RequestContext {
  Request request;
  bool secure = false;                 // arrived on the HTTPS listener
  std::shared_ptr<X509> peer;          // client certificate, when one was presented
  bool peer_trusted = false;           // it chained to auth.client_ca in the handshake
  std::string remote;                  // "127.0.0.1:51234"
  std::chrono::steady_clock::time_point started;
};

// Whose allowance a request spends in a per-client limit: "203.0.113.7:51234"
// -> "203.0.113.7"; an IPv6 client by its /64 (one customer's allocation is
// a /64 or more: counting single addresses would give it billions), an
// IPv4-mapped IPv6 address as the IPv4 address it is. `ipv6_prefix` 48
// counts an IPv6 client by its /48 (a site's whole allocation) instead, for
// what one site should get only a few of (ACME accounts without an EAB).
std::string client_key(const std::string& remote, int ipv6_prefix = 64);

// The media type of the request's Content-Type, lowercase, without parameters.
std::string media_type(const Request& req);

// What an error means to a client: the HTTP status and a stable code.
struct Failure {
  unsigned status = 500;
  std::string code = "internal";
  std::int64_t retry_after = 0;  // seconds; 0: the status's default
  // What the client is told: what to do, never the exception's text (a
  // ledger path, a PKCS#11 function and its CKR code), which goes to the log.
  std::string message = "internal error; the appliance's log has the cause";
};

// The one mapping from what went wrong to a status. A refused request: what
// is wrong with the bytes is 400 (or 413), what the CA will not grant is 422,
// an unknown profile is 404, a caller asking for what it may not have (a
// profile, a renewal) is 403.
unsigned status_for(const signer::Rejection& rejection);
// An operational error: the token or the ledger away is 503 (try again
// later), anything else 500.
Failure failure_for(const std::exception& error);

// Whether a client certificate a request relies on still counts
// (Credentials: the ledger, client CRLs).
class CredentialCheck {
 public:
  virtual ~CredentialCheck() = default;
  // Why it no longer counts; empty when it does.
  virtual std::string shut_out(const RequestContext& ctx, const Identity& identity) = 0;
  // Whether HTTP Basic passwords are taken (a 401 then offers Basic too).
  virtual bool takes_passwords() const { return false; }
};

class Exchange {
 public:
  Exchange(RequestContext context, Metrics& metrics, CredentialCheck& credentials, std::function<void(Response)> done);

  RequestContext ctx;
  Identity identity;
  std::string route = "unmatched";  // the route's pattern: the metric label and the log's
  std::string serial;               // the certificate it concerned, when one
  std::string problem;              // what failed inside (an exception's text): logged with the request, never sent

  // A response of the request's HTTP version.
  Response response(http::status status) const;
  void finish(unsigned status, std::string body, std::string_view content_type);
  void finish(Response res);
  // A JSON error {"error": code, "message": message}: 401 asks for
  // credentials; `retry_after` seconds go in Retry-After (503: 1 unless given).
  void error(unsigned status, const std::string& code, const std::string& message, std::int64_t retry_after = 0);
  void reject(const signer::Rejection& rejection) { error(status_for(rejection), rejection.code, rejection.message); }
  // The answer to an exception, through failure_for.
  void fail(const std::exception& error);
  void fail(const std::exception_ptr& error);

  // false (after answering 401) unless the caller is known and its
  // credential still counts: a client certificate of this CA must be in the
  // ledger, unrevoked, on every request that relies on it.
  bool authenticate();
  // false (after answering 401/403) unless the caller holds `role`.
  bool authorize(std::string_view role);

  Metrics& metrics() noexcept { return metrics_; }

 private:
  Metrics& metrics_;
  CredentialCheck& credentials_;
  std::function<void(Response)> done_;
};

using ExchangePtr = std::shared_ptr<Exchange>;

}  // namespace hsmca::appliance
