#pragma once
// ACME challenge validation (RFC 8555 §8.3, §8.4; RFC 8737; RFC 8738) and the
// CAA check (RFC 8659), on their own: the protocol side decides which
// challenge a client answered and what its key authorization is; this asks the
// network whether the client proved control, and says why not.
//
// Where it connects: wherever the configured resolver says a name points, and
// to an IP identifier itself. No address range is refused (loopback and private
// addresses included), so an appliance that must not reach its own network
// needs that enforced by a firewall or the resolver it is given.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

// Checks one challenge response. Blocking; returns within settings.timeout
// (plus scheduling slack); network failures, hostile servers and malformed
// answers come back as a result, never as an exception. A challenge that does
// not fit the identifier (dns-01 for an IP, http-01 or tls-alpn-01 for a
// wildcard), an identifier that is not a plain DNS name or IP address, or a
// token that is not base64url is refused before any network I/O.
// `key_authorization` is token "." thumbprint (RFC 8555 §8.1).
ValidationResult validate(const ValidationSettings& settings, ChallengeType type, const Identifier& identifier,
                          std::string_view token, std::string_view key_authorization);

// RFC 8659 §3: climbs from the identifier's name towards the root and uses the
// first CAA RRset found. Issuance is allowed when there is none, or when an
// `issue` property (for a wildcard, `issuewild` if the set has any, else
// `issue`) names one of `caa_identities` (compared case-insensitively). An
// unknown property with the critical flag, or a resolver failure, forbids it.
// Parameters after the issuer domain (RFC 8657 accounturi, validationmethods)
// are not interpreted. CAA does not apply to IP identifiers (RFC 8738): valid.
ValidationResult check_caa(const ValidationSettings& settings, const Identifier& identifier,
                           const std::vector<std::string>& caa_identities);

// base64url(SHA-256(key_authorization)) without padding: the TXT value of
// dns-01 (RFC 8555 §8.4).
std::string dns01_txt_value(std::string_view key_authorization);

}  // namespace hsmca::appliance::acme
