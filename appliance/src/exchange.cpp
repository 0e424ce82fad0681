#include "exchange.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "hsmca/appliance/work_pool.hpp"
#include "hsmca/signer/ledger.hpp"
#include "log.hpp"

namespace hsmca::appliance {

using nlohmann::json;

std::string client_key(const std::string& remote, int ipv6_prefix) {
  const auto colon = remote.rfind(':');
  std::string host = colon == std::string::npos ? remote : remote.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) != 1) return host;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &v6.s6_addr[12], text, sizeof text);
    return text;
  }
  const int bytes = ipv6_prefix == 48 ? 6 : 8;
  std::fill(std::begin(v6.s6_addr) + bytes, std::end(v6.s6_addr), 0);
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, &v6, text, sizeof text);
  return std::string(text) + (bytes == 6 ? "/48" : "/64");
}

std::string media_type(const Request& req) {
  std::string v(req[http::field::content_type]);
  v = v.substr(0, v.find(';'));
  while (!v.empty() && v.back() == ' ') v.pop_back();
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v;
}

unsigned status_for(const signer::Rejection& r) {
  if (r.code == "request_too_large") return 413;
  if (r.code == "malformed_request") return 400;
  if (r.code == "unknown_profile") return 404;
  if (r.code == "profile_forbidden" || r.code == "renewal_refused") return 403;
  return 422;
}

Failure failure_for(const std::exception& error) {
  if (dynamic_cast<const Busy*>(&error)) return {503, "busy", 0, "the CA is busy; retry shortly"};
  if (const auto* token = dynamic_cast<const signer::TokenUnavailable*>(&error)) {
    return {503, "token_unavailable", token->retry_after(),
            "the signing token is unavailable; retry after " + std::to_string(token->retry_after()) + " s"};
  }
  if (dynamic_cast<const signer::LedgerError*>(&error)) {
    return {503, "ledger_unavailable", 0, "the ledger is unavailable; retry shortly"};
  }
  if (dynamic_cast<const signer::Unavailable*>(&error)) {
    return {503, "unavailable", 0, "the CA is unavailable; retry shortly"};
  }
  return {};
}

Exchange::Exchange(RequestContext context, Metrics& metrics, CredentialCheck& credentials,
                   std::function<void(Response)> done)
    : ctx(std::move(context)), metrics_(metrics), credentials_(credentials), done_(std::move(done)) {}

Response Exchange::response(http::status status) const { return Response{status, ctx.request.version()}; }

void Exchange::finish(unsigned status, std::string body, std::string_view content_type) {
  Response res = response(static_cast<http::status>(status));
  res.set(http::field::content_type, std::string(content_type));
  res.body() = std::move(body);
  finish(std::move(res));
}

void Exchange::finish(Response res) {
  res.set(http::field::server, "hsmca-appliance");
  const unsigned status = res.result_int();
  const auto latency = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - ctx.started);
  metrics_.count_http(route, status);
  metrics_.request_finished();
  json line = {{"method", std::string(ctx.request.method_string())},
               {"route", route},
               {"status", status},
               {"latency_ms", std::round(latency.count() * 1000) / 1000},
               {"client", identity.describe()},
               {"remote", ctx.remote}};
  if (!serial.empty()) line["serial"] = serial;
  if (!problem.empty()) line["problem"] = problem;
  log_line(line);
  done_(std::move(res));
}

void Exchange::error(unsigned status, const std::string& code, const std::string& message, std::int64_t retry_after) {
  Response res = response(static_cast<http::status>(status));
  res.set(http::field::content_type, "application/json");
  if (status == 401) {
    res.insert(http::field::www_authenticate, "Bearer realm=\"hsmca\"");
    // RFC 7030 3.2.3: an EST client answers a Basic challenge with its password.
    if (credentials_.takes_passwords()) res.insert(http::field::www_authenticate, "Basic realm=\"hsmca\", charset=\"UTF-8\"");
  }
  if (retry_after == 0 && status == 503) retry_after = 1;
  if (retry_after > 0) res.set(http::field::retry_after, std::to_string(retry_after));
  // The message may quote what the client sent (a path, a label): bytes that
  // are not UTF-8 are written as U+FFFD rather than failing the answer.
  res.body() = json{{"error", code}, {"message", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
  finish(std::move(res));
}

void Exchange::fail(const std::exception& e) {
  const auto failure = failure_for(e);
  problem = e.what();
  error(failure.status, failure.code, failure.message, failure.retry_after);
}

void Exchange::fail(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& error) {
    fail(error);
  } catch (...) {
    this->error(500, "internal", "unexpected failure");
  }
}

bool Exchange::authenticate() {
  if (identity.kind == Identity::Kind::none) {
    error(401, "unauthenticated",
          ctx.request.count(http::field::authorization) ? "the credentials are not valid"
                                                         : "present a client certificate, a bearer token or a password");
    return false;
  }
  if (identity.kind == Identity::Kind::client_certificate) {
    if (auto why = credentials_.shut_out(ctx, identity); !why.empty()) {
      error(401, "credential_refused", "the client certificate " + why);
      return false;
    }
  }
  return true;
}

bool Exchange::authorize(std::string_view role) {
  if (!authenticate()) return false;
  if (!identity.has_role(role)) {
    error(403, "forbidden", identity.describe() + " lacks the " + std::string(role) + " role");
    return false;
  }
  return true;
}

}  // namespace hsmca::appliance
