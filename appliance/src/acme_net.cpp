// Helpers the ACME challenge checks share: names and addresses as text, where
// to connect, and how an I/O error reads in a problem detail.

#include <openssl/ssl.h>

#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <algorithm>
#include <array>
#include <cctype>

#include "acme_challenges.hpp"

namespace hsmca::appliance::acme {

namespace asio = boost::asio;
namespace beast = boost::beast;

ValidationResult failure(std::string_view problem, std::string detail) {
  return ValidationResult{false, std::string(problem), std::move(detail)};
}

ValidationResult success() { return ValidationResult{true, {}, {}}; }

void set_server_name(SSL* ssl, const std::string& name) {
  SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str()));
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string host_text(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return "[" + std::string(host) + "]";
  return std::string(host);
}

std::string endpoint_text(const asio::ip::address& address, std::uint16_t port) {
  return host_text(address.to_string()) + ":" + std::to_string(port);
}

bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  char previous = '.';
  for (char c : name) {
    if (c == '.') {
      if (label == 0 || previous == '-') return false;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
      if (label == 0 && c == '-') return false;
      if (++label > 63) return false;
    } else {
      return false;
    }
    previous = c;
  }
  return label > 0 && previous != '-';
}

std::optional<asio::ip::address> ip_literal(std::string_view text) {
  if (text.empty() || text.find('%') != std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return address;
}

std::string quoted(std::string_view text, std::size_t max) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out += (c >= 0x20 && c < 0x7f && c != '"') ? static_cast<char>(c) : '?';
  }
  if (text.size() > max) out += "...";
  return out + "\"";
}

std::string dns_problem_text(const Attempt& attempt, std::string_view error, std::string_view what,
                             std::string_view name) {
  const std::string resolver =
      attempt.settings.dns_server.empty() ? "the system resolver" : "resolver " + attempt.settings.dns_server;
  return "DNS problem: " + std::string(error) + " looking up " + std::string(what) + " for " + std::string(name) +
         " (" + resolver + ")";
}

bool never_validated(const asio::ip::address& address) {
  if (address.is_v6()) {
    const auto v6 = address.to_v6();
    const auto b = v6.to_bytes();
    const auto v4_at = [&](std::size_t i) {
      return asio::ip::address_v4(asio::ip::address_v4::bytes_type{b[i], b[i + 1], b[i + 2], b[i + 3]});
    };
    // IPv4 inside IPv6 is judged as IPv4: mapped (::ffff:0:0/96), NAT64's
    // well-known prefix (64:ff9b::/96, RFC 6052), its local-use prefix
    // (64:ff9b:1::/48, RFC 8215; the /96 ones in it) and 6to4 (2002::/16,
    // RFC 3056). A network-specific NAT64 prefix is the operator's to firewall.
    if (v6.is_v4_mapped()) return never_validated(v4_at(12));
    static constexpr std::array<unsigned char, 12> kNat64{0x00, 0x64, 0xff, 0x9b};
    if (std::equal(kNat64.begin(), kNat64.end(), b.begin())) return never_validated(v4_at(12));
    static constexpr std::array<unsigned char, 6> kNat64Local{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01};
    if (std::equal(kNat64Local.begin(), kNat64Local.end(), b.begin()) && never_validated(v4_at(12))) return true;
    if (b[0] == 0x20 && b[1] == 0x02) return never_validated(v4_at(2));
    // AWS's instance metadata over IPv6 is a unique local address, not link-local.
    static const auto kAwsMetadata = asio::ip::make_address_v6("fd00:ec2::254");
    return v6.is_link_local() || v6.is_unspecified() || v6.is_multicast() || v6 == kAwsMetadata;
  }
  const auto v4 = address.to_v4();
  const auto bytes = v4.to_bytes();
  // Host services clouds answer outside 169.254.0.0/16: Alibaba's metadata and Azure's wire server.
  static const auto kAlibabaMetadata = asio::ip::make_address_v4("100.100.100.200");
  static const auto kAzureWireServer = asio::ip::make_address_v4("168.63.129.16");
  return (bytes[0] == 169 && bytes[1] == 254) || bytes[0] == 0 || v4.is_multicast() ||
         v4 == asio::ip::address_v4::broadcast() || v4 == kAlibabaMetadata || v4 == kAzureWireServer;
}

namespace {

// Link-local addresses are where clouds answer for the host itself
// (169.254.169.254); no ACME identifier lives there.
std::vector<asio::ip::address> reachable(std::vector<asio::ip::address> addresses, const std::string& host,
                                         ValidationResult& error) {
  std::erase_if(addresses, [](const asio::ip::address& a) { return never_validated(a); });
  if (addresses.empty()) {
    error = failure(problem::kConnection, host + " has only link-local, cloud metadata, multicast or unspecified "
                                                 "addresses, which validation never connects to");
  }
  return addresses;
}

}  // namespace

std::vector<asio::ip::address> addresses_for(Attempt& attempt, const std::string& host, ValidationResult& error) {
  if (auto literal = ip_literal(host)) return reachable({*literal}, host, error);
  auto answer = attempt.resolver.addresses(host, attempt.deadline);
  if (answer.outcome == dns::Outcome::failed) {
    error = failure(problem::kDns, dns_problem_text(attempt, answer.error, "A/AAAA", host));
    return {};
  }
  if (answer.outcome == dns::Outcome::absent) {
    error = failure(problem::kDns, "DNS problem: no A or AAAA record for " + host);
    return {};
  }
  const auto usable = reachable(answer.records, host, error);
  std::vector<asio::ip::address> chosen;
  for (bool v6 : {true, false}) {
    for (const auto& address : usable) {
      if (address.is_v6() == v6) {
        chosen.push_back(address);
        break;
      }
    }
  }
  return chosen;
}

std::string io_error_text(const boost::system::error_code& ec) {
  if (ec == beast::error::timeout || ec == asio::error::timed_out || ec == asio::error::operation_aborted) {
    return "timed out";
  }
  if (ec == asio::error::connection_refused) return "connection refused";
  if (ec == asio::error::connection_reset) return "connection reset";
  if (ec == asio::error::host_unreachable || ec == asio::error::network_unreachable) return "unreachable";
  if (ec == asio::error::eof || ec == beast::http::error::end_of_stream || ec == beast::http::error::partial_message ||
      ec == asio::ssl::error::stream_truncated) {
    return "connection closed early";
  }
  if (ec.category() == beast::http::make_error_code(beast::http::error::body_limit).category()) return "malformed HTTP response (" + ec.message() + ")";
  return ec.message();
}

bool connect_any(asio::io_context& io, beast::tcp_stream& stream, Attempt& attempt,
                 const std::vector<asio::ip::address>& addresses, std::uint16_t port, std::string_view what,
                 asio::ip::address& connected, ValidationResult& error) {
  boost::system::error_code ec = asio::error::host_not_found;
  for (const auto& address : addresses) {
    stream.expires_at(attempt.deadline);
    const asio::ip::tcp::endpoint endpoint(address, port);
    ec = run_one(io, [&](auto handler) { stream.async_connect(endpoint, std::move(handler)); });
    connected = address;
    if (!ec) return true;
    // The deadline is shared: once it has passed, no other address gets a turn.
    if (ec == beast::error::timeout) break;
    stream.close();
  }
  error = failure(problem::kConnection,
                  io_error_text(ec) + " at " + endpoint_text(connected, port) + " for " + std::string(what));
  return false;
}

}  // namespace hsmca::appliance::acme
