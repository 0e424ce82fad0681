#pragma once
// Which names a profile's certificates may carry (a profile's `names` block),
// and the one check of a request's names against it. Every front end (EST, the
// JSON API, ACME, hsmca sign) reaches it through plan_leaf, so the rule cannot
// drift between them.
#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hsmca/signer/outcome.hpp"
#include "hsmca/signer/request.hpp"
#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::signer {

// An IPv4 or IPv6 network as a CA file writes it.
struct IpRange {
  std::array<unsigned char, 16> network{};  // the first `size` octets count
  std::size_t size = 4;                     // 4 (IPv4) or 16 (IPv6)
  int prefix_length = 32;

  // "10.0.0.0/8", "fd00::/8"; a bare address is /32 or /128. nullopt when the
  // address or the prefix does not parse. Bits set beyond the prefix are kept
  // so that the CA file can name them (has_host_bits).
  static std::optional<IpRange> parse(std::string_view text);
  // "10.0.0.1/8": more often a typo for a single address than a wish for the
  // whole /8, so the CA file refuses it rather than guess.
  bool has_host_bits() const noexcept;
  IpRange without_host_bits() const noexcept;
  // `address` is 4 or 16 octets, as a certificate's iPAddress. A range of the
  // other family never contains it: an IPv4-mapped IPv6 address (::ffff:a.b.c.d)
  // is IPv6 and is not in an IPv4 range.
  bool contains(std::span<const unsigned char> address) const noexcept;
  std::string str() const;  // "10.0.0.0/8", "fd00::/8"
  bool operator==(const IpRange&) const = default;
};

// Which names a profile's certificates may carry. restricted == false: any
// syntactically valid name of every kind (wildcards and single-label names
// included). restricted == true: default deny — a name kind whose list is
// empty is refused.
struct NamePolicy {
  bool restricted = false;  // true when the profile has a names block (or allowed_dns_suffixes)
  // Lowercase suffixes on label boundaries: "example.test" allows itself and
  // "a.example.test", never "badexample.test". A single-label entry
  // ("localhost") matches itself and names below it.
  std::vector<std::string> dns{};
  bool wildcards = false;  // restricted policies: "*.x" only when true; unrestricted: always allowed
  std::vector<IpRange> ip{};
  // A domain (matches addresses at that domain or below it, on label
  // boundaries) or a whole address (exact; its domain lowercase).
  std::vector<std::string> email{};
  // "SCHEME://HOST[/PATH-PREFIX]", scheme and host lowercase: a URI matches
  // when its scheme and host equal the entry's (case-insensitively) and its
  // path starts with PATH-PREFIX.
  std::vector<std::string> uri{};
  // name: the subject CN must be one of the granted names or a DNS name / IP
  // address the policy allows (it is then granted as a SAN too). text: the CN
  // is free text, copied and never granted as a name.
  enum class CommonName { name, text };
  CommonName common_name = CommonName::name;
};

// A profile's name policy from its block in the CA file: the `names` mapping
//   names: {dns: [...], wildcards: BOOL, ip: [CIDR...], email: [...], uri: [...],
//           common_name: name | text}
// and the older spelling `allowed_dns_suffixes: [...]` (the same as
// names.dns; both at once is an error). ConfigError naming the key and the
// value for anything it cannot honour.
NamePolicy read_name_policy(StrictMap& profile);

// One requested name under the policy of profile `profile_name`: its canonical
// form when the policy allows it (DNS names lowercase, IP addresses as
// inet_ntop prints them, an email address with its domain lowercase, a URI as
// given), otherwise a Rejection "name_policy" whose one-line message names the
// name, its kind, the profile and what the profile allows.
Outcome<SubjectAltName> check_name(const SubjectAltName& requested, const NamePolicy& policy,
                                   std::string_view profile_name);

// The subjectAltNames a certificate for `request` may carry under the policy:
// every requested name checked and canonical, duplicates dropped, in request
// order; then the subject CN, unless the policy says common_name: text — at
// most one CN; an empty one or one equal to a granted name adds nothing; a DNS
// name or IP address the policy allows is appended; anything else refuses.
// One refused name refuses them all (code "name_policy"): a certificate with
// fewer names than asked for would surprise its requester.
Outcome<std::vector<SubjectAltName>> grant_names(const CertificateRequest& request, const NamePolicy& policy,
                                                 std::string_view profile_name);

}  // namespace hsmca::signer
