// http-01 (RFC 8555 §8.3): GET the key authorization from the name's web
// server, following a bounded number of redirects to the expected ports.

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "acme_challenges.hpp"

namespace hsmca::appliance::acme {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// A key authorization is under 100 bytes; anything much longer is not one.
constexpr std::size_t kBodyLimit = 8192;
constexpr std::uint32_t kHeaderLimit = 8192;
constexpr int kMaxRedirects = 10;

struct Url {
  bool https = false;
  std::string host;  // a DNS name or an IP literal, without brackets
  std::uint16_t port = 80;
  std::string target;  // path and query

  std::uint16_t default_port() const { return https ? 443 : 80; }
  std::string authority() const {
    return port == default_port() ? host_text(host) : host_text(host) + ":" + std::to_string(port);
  }
  std::string text() const { return (https ? "https://" : "http://") + authority() + target; }
};

// A Location header: an absolute http(s) URL or an absolute path on the same
// origin. Relative paths, userinfo and other schemes are refused; `why` says why.
std::optional<Url> follow(std::string_view location, const Url& base, std::string& why) {
  for (char c : location) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      why = "it contains spaces or control characters";
      return std::nullopt;
    }
  }
  location = location.substr(0, location.find('#'));
  if (location.starts_with("/") && !location.starts_with("//")) {
    Url next = base;
    next.target = std::string(location);
    return next;
  }
  const auto scheme_end = location.find("://");
  if (scheme_end == std::string_view::npos) {
    why = "it is neither an absolute URL nor an absolute path";
    return std::nullopt;
  }
  Url next;
  const std::string scheme = lowercase(location.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") {
    why = "only http and https are followed";
    return std::nullopt;
  }
  next.https = scheme == "https";
  const std::string_view rest = location.substr(scheme_end + 3);
  const auto authority_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, authority_end);
  next.target = authority_end == std::string_view::npos ? "/" : std::string(rest.substr(authority_end));
  if (next.target.starts_with("?")) next.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) {
    why = "it has userinfo";
    return std::nullopt;
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      why = "its IPv6 address has no closing bracket";
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(":")) {
      why = "its authority does not parse";
      return std::nullopt;
    }
    if (!after.empty()) port = after.substr(1);
  } else if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  next.port = next.default_port();
  if (!port.empty()) {
    unsigned value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || port.size() > 5) {
        why = "its port does not parse";
        return std::nullopt;
      }
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) {
      why = "its port is out of range";
      return std::nullopt;
    }
    next.port = static_cast<std::uint16_t>(value);
  }
  next.host = lowercase(host);
  const auto literal = ip_literal(next.host);
  const bool bracketed = authority.starts_with("[");
  if (bracketed ? !(literal && literal->is_v6()) : !(is_dns_name(next.host) || (literal && literal->is_v4()))) {
    why = "its host is not a DNS name or IP address";
    return std::nullopt;
  }
  if (literal) next.host = literal->to_string();
  return next;
}

// RFC 8555 §8.3 allows redirects; Let's Encrypt's practice, which clients
// expect, is to follow them to the standard ports only. We add the configured
// ones so a test or a port-mapped deployment can validate.
bool port_allowed(const Url& url, const ValidationSettings& settings) {
  return url.https ? (url.port == 443 || url.port == settings.tls_port)
                   : (url.port == 80 || url.port == settings.http_port);
}

struct Response {
  unsigned status = 0;
  std::string location;
  std::string body;
};

// One GET over a connected stream (plain or TLS), its expiry already set.
template <class Stream>
boost::system::error_code fetch(asio::io_context& io, Stream& stream, const Url& url, Response& response) {
  http::request<http::empty_body> request{http::verb::get, url.target, 11};
  request.set(http::field::host, url.authority());
  request.set(http::field::user_agent, "hsmca-acme-validator");
  request.set(http::field::accept, "*/*");
  request.set(http::field::connection, "close");
  auto ec = run_one(io, [&](auto handler) { http::async_write(stream, request, std::move(handler)); });
  if (ec) return ec;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  // The header on its own first: Boost 1.74's parser, reading eagerly, drops
  // the body_limit error when body bytes arrive with the header (the check in
  // finish_header is overwritten by the body parse; boostorg/beast#2183), so a
  // large Content-Length would be read in full.
  ec = run_one(io, [&](auto handler) { http::async_read_header(stream, buffer, parser, std::move(handler)); });
  if (ec) return ec;
  ec = run_one(io, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
  if (ec) return ec;
  const auto& message = parser.get();
  if (message.body().size() > kBodyLimit) return http::error::body_limit;
  response.status = message.result_int();
  response.location = std::string(message[http::field::location]);
  response.body = message.body();
  return {};
}

}  // namespace

ValidationResult validate_http01(Attempt& attempt, const Identifier& identifier, std::string_view token,
                                 std::string_view key_authorization) {
  Url url{false, identifier.value, attempt.settings.http_port,
          "/.well-known/acme-challenge/" + std::string(token)};
  asio::io_context io;
  std::optional<asio::ssl::context> tls;
  for (int redirects = 0;; ++redirects) {
    ValidationResult error;
    const auto addresses = addresses_for(attempt, url.host, error);
    if (addresses.empty()) return error;
    beast::tcp_stream tcp(io);
    asio::ip::address address;
    if (!connect_any(io, tcp, attempt, addresses, url.port, url.text(), address, error)) return error;
    const std::string where = endpoint_text(address, url.port) + " for " + url.text();

    Response response;
    boost::system::error_code ec;
    if (url.https) {
      if (!tls) {
        tls.emplace(asio::ssl::context::tls_client);
        // RFC 8555 §8.3: the certificate of a redirect target is not checked.
        tls->set_verify_mode(asio::ssl::verify_none);
        SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
      }
      beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp), *tls);
      if (!ip_literal(url.host)) set_server_name(stream.native_handle(), url.host);
      ec = run_one(io, [&](auto handler) { stream.async_handshake(asio::ssl::stream_base::client, std::move(handler)); });
      if (ec) return failure(problem::kTls, "TLS handshake failed (" + io_error_text(ec) + ") at " + where);
      ec = fetch(io, stream, url, response);
    } else {
      ec = fetch(io, tcp, url, response);
    }
    if (ec == http::error::body_limit) {
      return failure(problem::kIncorrectResponse,
                     "response body larger than " + std::to_string(kBodyLimit) + " bytes from " + where);
    }
    if (ec) return failure(problem::kConnection, io_error_text(ec) + " at " + where);

    const unsigned status = response.status;
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
      if (redirects == kMaxRedirects) {
        return failure(problem::kConnection,
                       "more than " + std::to_string(kMaxRedirects) + " redirects, the last from " + where);
      }
      std::string why;
      auto next = follow(response.location, url, why);
      if (next && !port_allowed(*next, attempt.settings)) {
        why = "port " + std::to_string(next->port) + " is not one validation connects to";
        next.reset();
      }
      if (!next) {
        return failure(problem::kConnection,
                       "redirect to " + quoted(response.location) + " refused (" + why + ") from " + where);
      }
      url = std::move(*next);
      continue;
    }
    if (status != 200) return failure(problem::kUnauthorized, "HTTP " + std::to_string(status) + " from " + where);
    // RFC 8555 §8.3: whitespace at the end of the body is ignored.
    std::string_view body = response.body;
    const auto end = body.find_last_not_of(" \t\r\n");
    body = end == std::string_view::npos ? std::string_view{} : body.substr(0, end + 1);
    if (body != key_authorization) {
      // Not what it was: a redirect may point anywhere the CA can reach
      // (RFC 8555 §8.3), and the answer is no account's to read.
      return failure(problem::kIncorrectResponse, "the key authorization did not match (the response was " +
                                                      std::to_string(body.size()) + " bytes) from " + where);
    }
    return success();
  }
}

}  // namespace hsmca::appliance::acme
