// dNSName rules: wildcards, trailing dots, suffix lists.
#include <algorithm>

#include "name_rules.hpp"

namespace hsmca::signer::names {
namespace {

bool has_dot(std::string_view s) { return s.find('.') != std::string_view::npos; }

// The name without a leading "*.": what a suffix is matched against.
std::string_view base_of(std::string_view dns) { return dns.starts_with("*.") ? dns.substr(2) : dns; }

// A dNSName a certificate may carry: a host name, or a wildcard as the whole
// leftmost label over at least two labels (RFC 6125 6.4.3 and the CA/B Forum:
// "*.com" or "*.localhost" would speak for every name under a whole domain that
// nobody holds).
bool is_dns_name(std::string_view name) {
  if (name.size() > 253) return false;
  if (name.starts_with("*.")) return is_host_name(name.substr(2)) && has_dot(name.substr(2));
  return is_host_name(name);
}

bool covered_by_any(std::string_view name, const std::vector<std::string>& entries) {
  return std::ranges::any_of(entries, [name](const std::string& entry) { return covered_by(name, entry); });
}

}  // namespace

Outcome<SubjectAltName> check_dns(const std::string& requested, const NamePolicy& policy,
                                  std::string_view profile_name) {
  if (!std::ranges::all_of(requested, [](unsigned char c) { return c < 0x80; })) {
    return refused("DNS name " + in_quotes(requested) +
                   " is not ASCII: an internationalised name goes in a certificate as punycode (xn--...)");
  }
  const std::string name = lowercase(requested);
  if (name.ends_with('.') && is_dns_name(std::string_view(name).substr(0, name.size() - 1))) {
    return refused("DNS name " + in_quotes(requested) +
                   " ends with a dot: a certificate's dNSName is written without the trailing dot");
  }
  if (name.starts_with("*.") && is_host_name(name.substr(2)) && !has_dot(name.substr(2))) {
    return refused("DNS name " + in_quotes(requested) +
                   " is a wildcard over a single label: \"*.\" must be followed by at least two labels");
  }
  if (!is_dns_name(name)) return refused(in_quotes(requested) + " is not a valid DNS name");
  if (policy.restricted) {
    if (!covered_by_any(base_of(name), policy.dns)) {
      return refused(outside("DNS name " + in_quotes(name), policy, Kind::dns, profile_name));
    }
    if (name.starts_with("*.") && !policy.wildcards) {
      return refused("DNS name " + in_quotes(name) + " is a wildcard, which profile " + in_quotes(profile_name) +
                     " does not allow (names.wildcards)");
    }
  }
  return SubjectAltName{Kind::dns, name};
}

}  // namespace hsmca::signer::names
