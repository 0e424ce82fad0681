#pragma once
// What ACME challenge validation takes and gives: its settings, the challenge
// and identifier, and the result with its RFC 8555 problem type. Shared by
// the entry points (acme_validation.hpp) and the checks themselves
// (acme_challenges.hpp).

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace hsmca::appliance::acme {

struct ValidationSettings {
  // "127.0.0.1:5353" or "[::1]:53" (several, comma-separated, are tried in
  // turn); empty: the system's resolvers from /etc/resolv.conf. Every name —
  // the identifier, a redirect's host, the CAA walk — is resolved here, never
  // through getaddrinfo or /etc/hosts.
  std::string dns_server;
  std::uint16_t http_port = 80;   // where http-01 is fetched (and http redirects may point)
  std::uint16_t tls_port = 443;   // where tls-alpn-01 connects (and https redirects may point)
  std::chrono::milliseconds timeout{10000};  // bounds the whole validation, DNS included
};

enum class ChallengeType { http01, dns01, tls_alpn01 };

struct Identifier {
  enum class Type { dns, ip };
  Type type = Type::dns;
  // "example.test", "*.example.test" (dns-01 only), "192.0.2.1", "2001:db8::1".
  std::string value;
};

// The problem types of RFC 8555 §6.7, without the "urn:ietf:params:acme:error:" prefix.
namespace problem {
inline constexpr std::string_view kConnection = "connection";          // no answer: refused, reset, timed out, bad redirect
inline constexpr std::string_view kDns = "dns";                        // the resolver failed or the name has no address
inline constexpr std::string_view kIncorrectResponse = "incorrectResponse";  // an answer came, with the wrong content
inline constexpr std::string_view kUnauthorized = "unauthorized";      // nothing was there: 404, no TXT record, no acme-tls/1
inline constexpr std::string_view kTls = "tls";                        // the TLS handshake failed
inline constexpr std::string_view kMalformed = "malformed";            // challenge, identifier or token do not go together
inline constexpr std::string_view kCaa = "caa";                        // a CAA record forbids issuance
inline constexpr std::string_view kRejectedIdentifier = "rejectedIdentifier";  // not a name or address we validate
inline constexpr std::string_view kServerInternal = "serverInternal";  // the appliance's settings are unusable
}  // namespace problem

struct ValidationResult {
  bool valid = false;
  std::string problem;  // one of problem::k*, empty when valid
  std::string detail;   // one line for the client: the name, the address and what went wrong
};

}  // namespace hsmca::appliance::acme
