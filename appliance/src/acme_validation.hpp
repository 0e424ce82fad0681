#pragma once
// ACME challenge validation (RFC 8555 §8.3, §8.4; RFC 8737; RFC 8738) and the
// CAA check (RFC 8659), on their own: the protocol side decides which
// challenge a client answered and what its key authorization is; this asks the
// network whether the client proved control, and says why not.
//
// Where it connects: wherever the configured resolver says a name points, and
// to an IP identifier itself, loopback and private addresses included (a
// private CA validates private names), but never to the addresses
// never_validated (acme_challenges.hpp) refuses: link-local, cloud metadata,
// multicast, unspecified. An appliance that must not reach parts of its own
// network needs that enforced by a firewall or the resolver it is given.

#include <string>
#include <string_view>
#include <vector>

#include "acme_validation_types.hpp"

namespace hsmca::appliance::acme {

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
