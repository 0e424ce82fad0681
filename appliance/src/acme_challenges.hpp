#pragma once
// What the challenge checks share: one deadline, one resolver, and the way a
// failure becomes a result. Private to acme_validation*.cpp, acme_http01.cpp
// and acme_tls_alpn.cpp.

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/system/error_code.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acme_dns.hpp"
#include "acme_validation_types.hpp"

struct ssl_st;

namespace hsmca::appliance::acme {

struct Attempt {
  const ValidationSettings& settings;
  dns::Deadline deadline;
  dns::Resolver& resolver;
};

ValidationResult failure(std::string_view problem, std::string detail);
ValidationResult success();

// "127.0.0.1:80", "[::1]:443".
std::string endpoint_text(const boost::asio::ip::address& address, std::uint16_t port);
// A host as it goes into a URL or Host header: IPv6 in brackets.
std::string host_text(std::string_view host);
// Lower-cased LDH labels, each 1–63 octets, at most 253 in all, no trailing dot.
bool is_dns_name(std::string_view name);
// A plain IP literal (no zone, no brackets).
std::optional<boost::asio::ip::address> ip_literal(std::string_view text);

// Link-local (169.254.0.0/16, fe80::/10: cloud metadata services), the other
// cloud host services (fd00:ec2::254, 100.100.100.200, 168.63.129.16),
// multicast, broadcast and unspecified addresses: never connected to, whatever
// names them, nor IPv6 addresses that embed such an IPv4 one (mapped, NAT64
// 64:ff9b::/96, 6to4 2002::/16).
bool never_validated(const boost::asio::ip::address& address);

// Where a DNS name or an IP literal is to be reached: IPv6 before IPv4, at
// most one of each (RFC 8555 §8.3 leaves the choice; a second family only
// gets its turn when the first cannot be connected to), never an address
// never_validated refuses. On failure `error` holds a "dns" or "connection"
// result.
std::vector<boost::asio::ip::address> addresses_for(Attempt& attempt, const std::string& host,
                                                    ValidationResult& error);

// Runs `io` until the operation started by `start` has called its handler
// (every operation is bounded by the stream's expiry, so this ends).
template <class Start>
boost::system::error_code run_one(boost::asio::io_context& io, Start&& start) {
  boost::system::error_code result = boost::asio::error::would_block;
  start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

// "connection refused", "timed out", ...: one phrase for a failed connect, read or write.
std::string io_error_text(const boost::system::error_code& ec);

// Connects `stream` (its expiry set to the deadline) to the first of
// `addresses` that accepts on `port`; `connected` says which. On failure
// `error` holds a "connection" result naming the address and `what` (the URL
// or name being validated).
bool connect_any(boost::asio::io_context& io, boost::beast::tcp_stream& stream, Attempt& attempt,
                 const std::vector<boost::asio::ip::address>& addresses, std::uint16_t port, std::string_view what,
                 boost::asio::ip::address& connected, ValidationResult& error);

// At most `max` characters of `text`, anything outside printable ASCII as
// '?', for quoting what a server sent in a one-line detail.
std::string quoted(std::string_view text, std::size_t max = 64);

// "DNS problem: SERVFAIL looking up TXT for NAME (resolver 127.0.0.1:5353)".
std::string dns_problem_text(const Attempt& attempt, std::string_view error, std::string_view what,
                             std::string_view name);

// SNI on a client connection (SSL_set_tlsext_host_name, a macro with a C cast).
void set_server_name(ssl_st* ssl, const std::string& name);

bool iequals(std::string_view a, std::string_view b);
std::string lowercase(std::string_view text);

ValidationResult validate_http01(Attempt& attempt, const Identifier& identifier, std::string_view token,
                                 std::string_view key_authorization);
ValidationResult validate_tls_alpn01(Attempt& attempt, const Identifier& identifier,
                                     std::string_view key_authorization);

}  // namespace hsmca::appliance::acme
