#pragma once
// The syntax rules and per-kind checks behind name_policy.cpp, one file per
// kind of name: name_syntax.cpp (ASCII, host names, quoting), dns_name.cpp,
// ip_range.cpp, uri_email.cpp. Private to signer; the public face is
// hsmca/signer/name_policy.hpp.
#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hsmca/signer/name_policy.hpp"

namespace hsmca::signer::names {

using Kind = SubjectAltName::Kind;

inline Rejection refused(std::string message) { return {"name_policy", std::move(message)}; }

// ASCII only: the C library's classification follows the locale, and a name
// in a certificate is ASCII whatever the locale says.
inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool is_alnum(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
std::string lowercase(std::string_view s);
bool equal_ignoring_case(std::string_view a, std::string_view b);
bool all_digits(std::string_view s);
// IA5String (rfc822Name, URI) holds ASCII; spaces and control characters have
// no place in either.
bool visible_ascii(std::string_view s);
// A value from a request or a CA file inside a one-line message: quoted, with
// control characters spelled out so that a name cannot forge a log line.
std::string in_quotes(std::string_view s);

// A host name in RFC 1034 3.5 preferred syntax (see name_syntax.cpp).
bool is_host_name(std::string_view name);
// On a label boundary: "example.test" covers itself and "a.example.test",
// never "badexample.test".
bool covered_by(std::string_view name, std::string_view entry);

// An IPv4 or IPv6 address in text, as inet_pton reads it (no zone, no
// shortened IPv4 forms like "10.1").
struct Address {
  std::array<unsigned char, 16> octets{};
  std::size_t size = 0;
  std::span<const unsigned char> bytes() const { return {octets.data(), size}; }
  std::string str() const;
};
std::optional<Address> parse_address(std::string_view text);

// local@domain with the domain lowercase; nullopt when it is no address.
std::optional<std::string> canonical_email(std::string_view value);
// A configured URI entry, "scheme://host[/path-prefix]", in the form the
// policy compares; nullopt when it is not one.
std::optional<std::string> canonical_uri_entry(std::string_view entry);

// "<what> is outside profile "<name>" (allowed: ...)": the end of a refusal.
std::string outside(const std::string& what, const NamePolicy& policy, Kind kind, std::string_view profile_name);

// One requested name of each kind under the policy (check_name dispatches).
Outcome<SubjectAltName> check_dns(const std::string& requested, const NamePolicy& policy,
                                  std::string_view profile_name);
Outcome<SubjectAltName> check_ip(const std::string& requested, const NamePolicy& policy,
                                 std::string_view profile_name);
Outcome<SubjectAltName> check_email(const std::string& requested, const NamePolicy& policy,
                                    std::string_view profile_name);
Outcome<SubjectAltName> check_uri(const std::string& requested, const NamePolicy& policy,
                                  std::string_view profile_name);

}  // namespace hsmca::signer::names
