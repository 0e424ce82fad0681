#include "hsmca/signer/name_policy.hpp"

#include <arpa/inet.h>
#include <openssl/objects.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>

namespace hsmca::signer {
namespace {

using Kind = SubjectAltName::Kind;

Rejection refused(std::string message) { return {"name_policy", std::move(message)}; }

// ASCII only: the C library's classification follows the locale, and a name
// in a certificate is ASCII whatever the locale says.
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_alnum(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(), to_lower);
  return out;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::ranges::equal(a, b, [](char x, char y) { return to_lower(x) == to_lower(y); });
}

bool all_digits(std::string_view s) { return std::ranges::all_of(s, is_digit); }

// IA5String (rfc822Name, URI) holds ASCII; spaces and control characters have
// no place in either.
bool visible_ascii(std::string_view s) {
  return !s.empty() && std::ranges::all_of(s, [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

// A value from a request or a CA file inside a one-line message: quoted, with
// control characters spelled out so that a name cannot forge a log line.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      std::array<char, 5> hex{};
      std::snprintf(hex.data(), hex.size(), "\\x%02x", c);
      out += hex.data();
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// A host name in RFC 1034 3.5 preferred syntax, as RFC 5280 4.2.1.6 asks of a
// dNSName: LDH labels of 1 to 63 octets, 253 in all, no trailing dot. The last
// label is not all digits (RFC 3696 2), so "10.0.0.1" is no host name. A
// single label ("localhost") is one; the policy decides whether it is granted.
// Punycode labels (xn--...) are plain LDH.
bool is_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::string_view last;
  for (std::size_t start = 0;;) {
    const std::size_t dot = name.find('.', start);
    const std::string_view label = name.substr(start, dot == std::string_view::npos ? name.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    if (!std::ranges::all_of(label, [](unsigned char c) { return is_alnum(c) || c == '-'; })) return false;
    last = label;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return !all_digits(last);
}

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

// On a label boundary: "example.test" covers itself and "a.example.test",
// never "badexample.test". A configured entry is compared case-insensitively;
// a leading dot on it is ignored.
bool covered_by(std::string_view name, std::string_view entry) {
  if (entry.starts_with('.')) entry.remove_prefix(1);
  if (entry.empty()) return false;
  if (equal_ignoring_case(name, entry)) return true;
  return name.size() > entry.size() && name[name.size() - entry.size() - 1] == '.' &&
         equal_ignoring_case(name.substr(name.size() - entry.size()), entry);
}

bool covered_by_any(std::string_view name, const std::vector<std::string>& entries) {
  return std::ranges::any_of(entries, [name](const std::string& entry) { return covered_by(name, entry); });
}

// An IPv4 or IPv6 address in text, as inet_pton reads it (no zone, no
// shortened IPv4 forms like "10.1").
struct Address {
  std::array<unsigned char, 16> octets{};
  std::size_t size = 0;
  std::span<const unsigned char> bytes() const { return {octets.data(), size}; }
  std::string str() const {
    std::array<char, INET6_ADDRSTRLEN> text{};
    inet_ntop(size == 4 ? AF_INET : AF_INET6, octets.data(), text.data(), static_cast<socklen_t>(text.size()));
    return text.data();
  }
};

std::optional<Address> parse_address(std::string_view text) {
  const std::string s(text);  // inet_pton reads up to a NUL
  Address a;
  if (inet_pton(AF_INET, s.c_str(), a.octets.data()) == 1) {
    a.size = 4;
  } else if (inet_pton(AF_INET6, s.c_str(), a.octets.data()) == 1) {
    a.size = 16;
  } else {
    return std::nullopt;
  }
  return a;
}

// local@domain: exactly one '@', a local part of visible ASCII, a host name as
// the domain (RFC 5280 4.2.1.6 Mailbox, without quoted local parts). The
// domain is case-insensitive and comes back lowercase; the local part is the
// mailbox owner's and is kept as written.
std::optional<std::string> canonical_email(std::string_view value) {
  const std::size_t at = value.find('@');
  if (at == std::string_view::npos || at == 0 || value.find('@', at + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view local = value.substr(0, at);
  const std::string domain = lowercase(value.substr(at + 1));
  if (!visible_ascii(local) || !is_host_name(domain)) return std::nullopt;
  return std::string(local) + "@" + domain;
}

// RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ); its length, 0 when there is none.
std::size_t scheme_length(std::string_view uri) {
  if (uri.empty() || !is_alnum(static_cast<unsigned char>(uri.front())) || is_digit(uri.front())) return 0;
  for (std::size_t i = 1; i < uri.size(); ++i) {
    const auto c = static_cast<unsigned char>(uri[i]);
    if (c == ':') return i;
    if (!is_alnum(c) && c != '+' && c != '-' && c != '.') return 0;
  }
  return 0;
}

// A URI of the form scheme://authority[path], taken apart as the policy
// compares it. The authority ends at the first '/', '?' or '#' (RFC 3986 3.2).
struct HierarchicalUri {
  std::string scheme;  // lowercase
  std::string host;    // lowercase, an IP literal with its brackets
  std::string path;    // everything after the authority, "" if none
  bool userinfo = false;
  bool port = false;
};

// nullopt when the URI has no "//" authority or its port is not digits.
std::optional<HierarchicalUri> hierarchical(std::string_view uri) {
  const std::size_t colon = scheme_length(uri);
  if (colon == 0 || uri.substr(colon + 1, 2) != "//") return std::nullopt;
  HierarchicalUri out;
  out.scheme = lowercase(uri.substr(0, colon));
  const std::string_view rest = uri.substr(colon + 3);
  const std::size_t end = std::min(rest.find_first_of("/?#"), rest.size());
  std::string_view authority = rest.substr(0, end);
  out.path = std::string(rest.substr(end));
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    out.userinfo = true;
    authority.remove_prefix(at + 1);
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(0, close + 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return std::nullopt;
    port = after.empty() ? after : after.substr(1);
    out.port = !after.empty();
  } else if (const std::size_t c = authority.rfind(':'); c != std::string_view::npos) {
    host = authority.substr(0, c);
    port = authority.substr(c + 1);
    out.port = true;
  }
  if (out.port && !all_digits(port)) return std::nullopt;
  out.host = lowercase(host);
  return out;
}

// A host in a configured URI: a name of letters, digits, '-', '.', '_' (SPIFFE
// trust domains have underscores) or a bracketed IPv6 literal.
bool is_uri_host(std::string_view host) {
  if (host.starts_with('[') && host.ends_with(']')) {
    const auto address = parse_address(host.substr(1, host.size() - 2));
    return address && address->size == 16;
  }
  return !host.empty() && std::ranges::all_of(host, [](unsigned char c) {
    return is_alnum(c) || c == '-' || c == '.' || c == '_';
  });
}

// "/api/../admin" starts with "/api/" but is "/admin" to whoever resolves it
// (RFC 3986 5.2.4); a path prefix means nothing once such segments are in.
bool has_dot_segment(std::string_view path) {
  path = path.substr(0, std::min(path.find_first_of("?#"), path.size()));
  for (std::size_t start = 0; start <= path.size();) {
    const std::size_t slash = std::min(path.find('/', start), path.size());
    const std::string segment = lowercase(path.substr(start, slash - start));
    if (segment == "." || segment == ".." || segment == "%2e" || segment == "%2e%2e" || segment == ".%2e" ||
        segment == "%2e.") {
      return true;
    }
    start = slash + 1;
  }
  return false;
}

// A configured URI entry, "scheme://host[/path-prefix]", in the form the
// policy compares: scheme and host lowercase, the path as written.
std::optional<std::string> canonical_uri_entry(std::string_view entry) {
  if (!visible_ascii(entry)) return std::nullopt;
  const auto parts = hierarchical(entry);
  if (!parts || parts->userinfo || parts->port || !is_uri_host(parts->host)) return std::nullopt;
  if (!parts->path.empty() && (!parts->path.starts_with('/') || parts->path.find_first_of("?#") != std::string::npos ||
                               has_dot_segment(parts->path))) {
    return std::nullopt;
  }
  return parts->scheme + "://" + parts->host + parts->path;
}

bool uri_matches(const HierarchicalUri& uri, std::string_view entry) {
  const auto allowed = hierarchical(entry);
  return allowed && !allowed->userinfo && !allowed->port && uri.scheme == allowed->scheme &&
         uri.host == allowed->host && uri.path.starts_with(allowed->path);
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// What the profile allows of one kind, for the end of a refusal.
std::string allowed(const NamePolicy& policy, Kind kind) {
  std::vector<std::string> entries;
  const char* none = "";
  switch (kind) {
    case Kind::dns: entries = policy.dns; none = "DNS names"; break;
    case Kind::ip:
      for (const IpRange& range : policy.ip) entries.push_back(range.str());
      none = "IP addresses";
      break;
    case Kind::email: entries = policy.email; none = "email addresses"; break;
    case Kind::uri: entries = policy.uri; none = "URIs"; break;
  }
  return entries.empty() ? std::string("(it allows no ") + none + ")" : "(allowed: " + joined(entries) + ")";
}

std::string outside(const std::string& what, const NamePolicy& policy, Kind kind, std::string_view profile_name) {
  return what + " is outside profile " + quoted(profile_name) + " " + allowed(policy, kind);
}

Outcome<SubjectAltName> check_dns(const std::string& requested, const NamePolicy& policy,
                                  std::string_view profile_name) {
  if (!std::ranges::all_of(requested, [](unsigned char c) { return c < 0x80; })) {
    return refused("DNS name " + quoted(requested) +
                   " is not ASCII: an internationalised name goes in a certificate as punycode (xn--...)");
  }
  const std::string name = lowercase(requested);
  if (name.ends_with('.') && is_dns_name(std::string_view(name).substr(0, name.size() - 1))) {
    return refused("DNS name " + quoted(requested) +
                   " ends with a dot: a certificate's dNSName is written without the trailing dot");
  }
  if (name.starts_with("*.") && is_host_name(name.substr(2)) && !has_dot(name.substr(2))) {
    return refused("DNS name " + quoted(requested) +
                   " is a wildcard over a single label: \"*.\" must be followed by at least two labels");
  }
  if (!is_dns_name(name)) return refused(quoted(requested) + " is not a valid DNS name");
  if (policy.restricted) {
    if (!covered_by_any(base_of(name), policy.dns)) {
      return refused(outside("DNS name " + quoted(name), policy, Kind::dns, profile_name));
    }
    if (name.starts_with("*.") && !policy.wildcards) {
      return refused("DNS name " + quoted(name) + " is a wildcard, which profile " + quoted(profile_name) +
                     " does not allow (names.wildcards)");
    }
  }
  return SubjectAltName{Kind::dns, name};
}

Outcome<SubjectAltName> check_ip(const std::string& requested, const NamePolicy& policy,
                                 std::string_view profile_name) {
  const auto address = parse_address(requested);
  if (!address) return refused(quoted(requested) + " is not an IP address");
  const std::string text = address->str();
  if (policy.restricted && std::ranges::none_of(policy.ip, [&address](const IpRange& range) {
        return range.contains(address->bytes());
      })) {
    return refused(outside("IP " + text, policy, Kind::ip, profile_name));
  }
  return SubjectAltName{Kind::ip, text};
}

Outcome<SubjectAltName> check_email(const std::string& requested, const NamePolicy& policy,
                                    std::string_view profile_name) {
  const auto email = canonical_email(requested);
  if (!email) {
    return refused("email address " + quoted(requested) + " is not valid: local@domain, the domain a DNS name");
  }
  if (policy.restricted) {
    const std::string_view domain = std::string_view(*email).substr(email->find('@') + 1);
    const bool allowed_here = std::ranges::any_of(policy.email, [&](const std::string& entry) {
      if (entry.find('@') == std::string::npos) return covered_by(domain, entry);
      const auto address = canonical_email(entry);
      return address && *address == *email;
    });
    if (!allowed_here) return refused(outside("email address " + quoted(*email), policy, Kind::email, profile_name));
  }
  return SubjectAltName{Kind::email, *email};
}

Outcome<SubjectAltName> check_uri(const std::string& requested, const NamePolicy& policy,
                                  std::string_view profile_name) {
  if (!visible_ascii(requested) || scheme_length(requested) == 0) {
    return refused("URI " + quoted(requested) +
                   " is not valid: it needs a scheme (\"https:\", \"spiffe:\") and only visible ASCII");
  }
  if (policy.restricted) {
    const auto uri = hierarchical(requested);
    if (uri && uri->userinfo) {
      // "spiffe://evil@prod/": parsers disagree on where userinfo ends, and a
      // name that reads as "prod" to one and "evil" to another is no name.
      return refused("URI " + quoted(requested) + " carries userinfo (\"...@\"), which profile " +
                     quoted(profile_name) + " does not allow");
    }
    if (uri && has_dot_segment(uri->path)) {
      return refused("URI " + quoted(requested) + " has a \".\" or \"..\" path segment, which profile " +
                     quoted(profile_name) + " does not allow (it compares path prefixes)");
    }
    // "..%2f", "..\\", "..;" and ports: spellings that one resolver reads as
    // another path or authority than the prefix compare saw.
    if (uri && (uri->port || requested.find_first_of("%\\;") != std::string::npos)) {
      return refused("URI " + quoted(requested) + " has a port, a percent-encoding, a backslash or a ';', which profile " +
                     quoted(profile_name) + " does not allow (they let one URI read as another)");
    }
    const auto matches = [&uri](const std::string& entry) { return uri_matches(*uri, entry); };
    if (!uri || std::ranges::none_of(policy.uri, matches)) {
      return refused(outside("URI " + quoted(requested), policy, Kind::uri, profile_name));
    }
  }
  return SubjectAltName{Kind::uri, requested};
}

// The syntax alone: the canonical form of `value` as a name of `kind`, as
// check_name would grant it under an unrestricted policy.
std::optional<std::string> canonical(Kind kind, const std::string& value) {
  static const NamePolicy kAny;
  auto checked = check_name({kind, value}, kAny, "");
  if (!checked.ok()) return std::nullopt;
  return std::move(checked).value().value;
}

int common_name_count(const X509_NAME* subject) {
  int count = 0;
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    ++count;
  }
  return count;
}

}  // namespace

std::optional<IpRange> IpRange::parse(std::string_view text) {
  const std::size_t slash = text.find('/');
  const auto address = parse_address(text.substr(0, slash));
  if (!address) return std::nullopt;
  IpRange range;
  range.network = address->octets;
  range.size = address->size;
  range.prefix_length = static_cast<int>(address->size * 8);
  if (slash != std::string_view::npos) {
    const std::string_view prefix = text.substr(slash + 1);
    // Digits only, no sign, no leading zero: "/08" or "/+8" is not a prefix anyone means.
    if (prefix.empty() || prefix.size() > 3 || !all_digits(prefix) || (prefix.size() > 1 && prefix.front() == '0')) {
      return std::nullopt;
    }
    const int length = std::stoi(std::string(prefix));
    if (length > range.prefix_length) return std::nullopt;
    range.prefix_length = length;
  }
  return range;
}

IpRange IpRange::without_host_bits() const noexcept {
  IpRange out = *this;
  for (std::size_t i = 0; i < out.network.size(); ++i) {
    const int bits_in_prefix = std::clamp(prefix_length - static_cast<int>(i * 8), 0, 8);
    const auto mask = static_cast<unsigned char>(bits_in_prefix == 0 ? 0 : 0xff << (8 - bits_in_prefix));
    out.network[i] = static_cast<unsigned char>(i < size ? out.network[i] & mask : 0);
  }
  return out;
}

bool IpRange::has_host_bits() const noexcept { return without_host_bits() != *this; }

bool IpRange::contains(std::span<const unsigned char> address) const noexcept {
  if (address.size() != size) return false;
  for (std::size_t i = 0; i < size; ++i) {
    const int bits_in_prefix = std::clamp(prefix_length - static_cast<int>(i * 8), 0, 8);
    if (bits_in_prefix == 0) break;
    const auto mask = static_cast<unsigned char>(0xff << (8 - bits_in_prefix));
    if ((address[i] & mask) != (network[i] & mask)) return false;
  }
  return true;
}

std::string IpRange::str() const {
  Address a;
  a.octets = network;
  a.size = size;
  return a.str() + "/" + std::to_string(prefix_length);
}

NamePolicy read_name_policy(StrictMap& profile) {
  NamePolicy policy;
  const bool old_spelling = profile.node()["allowed_dns_suffixes"].IsDefined();
  const std::vector<std::string> suffixes = profile.optional_string_list("allowed_dns_suffixes");
  auto names = profile.optional_map("names");

  // A `names` block, whatever it lists, restricts the profile: a kind of
  // name it does not list is refused (README: "with it, default deny"). A
  // block that reads as nothing at all ("names:") is a mistake, not "any".
  if (profile.node()["names"].IsDefined() && !profile.node()["names"].IsMap()) {
    throw ConfigError(profile.path_of("names") + " must be a block of dns, wildcards, ip, email, uri and common_name"
                      " (leave it out for a profile that takes any name)");
  }
  auto written = [&names](const char* key) { return names && names->node()[key].IsDefined(); };
  policy.restricted = old_spelling || names.has_value();

  auto read_domains = [](const StrictMap& block, const std::string& key, const std::vector<std::string>& entries) {
    std::vector<std::string> out;
    for (const std::string& entry : entries) {
      const std::string domain = lowercase(entry);
      if (!is_host_name(domain)) {
        throw ConfigError(block.path_of(key) + ": " + quoted(entry) +
                          " is not a domain like example.test or localhost (no wildcard, no leading or trailing dot)");
      }
      out.push_back(domain);
    }
    return out;
  };
  if (old_spelling) {
    if (written("dns")) {
      throw ConfigError(profile.path_of("allowed_dns_suffixes") + " is the older spelling of " +
                        names->path_of("dns") + ": write the suffixes in one of them, not both");
    }
    policy.dns = read_domains(profile, "allowed_dns_suffixes", suffixes);
  }
  if (!names) return policy;

  if (written("dns")) policy.dns = read_domains(*names, "dns", names->optional_string_list("dns"));
  if (auto wildcards = names->optional_string("wildcards")) {
    if (*wildcards != "true" && *wildcards != "false") {
      throw ConfigError(names->path_of("wildcards") + " must be true or false, not " + quoted(*wildcards));
    }
    policy.wildcards = *wildcards == "true";
  }
  for (const std::string& entry : names->optional_string_list("ip")) {
    const auto range = IpRange::parse(entry);
    if (!range) {
      throw ConfigError(names->path_of("ip") + ": " + quoted(entry) +
                        " is not an address or a range like 10.0.0.0/8 or fd00::/8");
    }
    if (range->has_host_bits()) {
      throw ConfigError(names->path_of("ip") + ": " + quoted(entry) + " has bits set beyond its /" +
                        std::to_string(range->prefix_length) + " prefix: write the network " +
                        range->without_host_bits().str() + ", or the one address without a prefix");
    }
    policy.ip.push_back(*range);
  }
  for (const std::string& entry : names->optional_string_list("email")) {
    std::optional<std::string> canonical_entry =
        entry.find('@') == std::string::npos ? std::optional<std::string>(lowercase(entry)) : canonical_email(entry);
    if (!canonical_entry || (entry.find('@') == std::string::npos && !is_host_name(*canonical_entry))) {
      throw ConfigError(names->path_of("email") + ": " + quoted(entry) +
                        " is neither a domain like example.test nor an address like ops@example.test");
    }
    policy.email.push_back(*canonical_entry);
  }
  for (const std::string& entry : names->optional_string_list("uri")) {
    const auto canonical_entry = canonical_uri_entry(entry);
    if (!canonical_entry) {
      throw ConfigError(names->path_of("uri") + ": " + quoted(entry) +
                        " is not scheme://host[/path-prefix] like spiffe://prod/ or https://example.test/api/"
                        " (no userinfo, no port)");
    }
    policy.uri.push_back(*canonical_entry);
  }
  if (auto mode = names->optional_string("common_name")) {
    if (*mode == "name") {
      policy.common_name = NamePolicy::CommonName::name;
    } else if (*mode == "text") {
      policy.common_name = NamePolicy::CommonName::text;
    } else {
      throw ConfigError(names->path_of("common_name") + " must be name or text, not " + quoted(*mode));
    }
  }
  names->finish();
  return policy;
}

Outcome<SubjectAltName> check_name(const SubjectAltName& requested, const NamePolicy& policy,
                                   std::string_view profile_name) {
  switch (requested.kind) {
    case Kind::dns: return check_dns(requested.value, policy, profile_name);
    case Kind::ip: return check_ip(requested.value, policy, profile_name);
    case Kind::email: return check_email(requested.value, policy, profile_name);
    case Kind::uri: return check_uri(requested.value, policy, profile_name);
  }
  return refused("a subjectAltName of an unknown kind");
}

Outcome<std::vector<SubjectAltName>> grant_names(const CertificateRequest& request, const NamePolicy& policy,
                                                 std::string_view profile_name) {
  std::vector<SubjectAltName> granted;
  auto grant = [&granted](SubjectAltName name) {
    if (std::ranges::find(granted, name) == granted.end()) granted.push_back(std::move(name));
  };
  for (const SubjectAltName& requested : request.sans) {
    auto checked = check_name(requested, policy, profile_name);
    if (!checked.ok()) return checked.rejection();
    grant(std::move(checked).value());
  }

  // CertificateRequest::common_name gives the last CN; a relying party may
  // read the first. With two, the one checked need not be the one trusted.
  if (const int count = common_name_count(request.subject()); count > 1) {
    return refused("the request has " + std::to_string(count) + " common names; at most one is allowed");
  }
  const std::string common_name = request.common_name();
  // RFC 5280 A.1: ub-common-name is 64 characters.
  if (std::ranges::count_if(common_name, [](unsigned char c) { return (c & 0xc0) != 0x80; }) > 64) {
    return refused("the common name is longer than 64 characters (RFC 5280 ub-common-name)");
  }
  // S/MIME clients and name constraints read a subject emailAddress (PKCS #9)
  // as an address: it obeys the email policy like an rfc822Name.
  const X509_NAME* subject = request.subject();
  for (int i = X509_NAME_get_index_by_NID(subject, NID_pkcs9_emailAddress, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_pkcs9_emailAddress, i)) {
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    const std::string address(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                              static_cast<std::size_t>(ASN1_STRING_length(data)));
    auto checked = check_name({Kind::email, address}, policy, profile_name);
    if (!checked.ok()) return refused("subject emailAddress: " + checked.rejection().message);
  }
  if (policy.common_name == NamePolicy::CommonName::text) return granted;
  if (common_name.empty()) return granted;
  for (Kind kind : {Kind::dns, Kind::ip, Kind::email, Kind::uri}) {
    const auto same = canonical(kind, common_name);
    if (same && std::ranges::find(granted, SubjectAltName{kind, *same}) != granted.end()) return granted;
  }
  // Clients that still read the CN as a host name (RFC 6125 6.4.4) must see
  // only a name the policy grants; so it is granted as a SAN as well.
  for (Kind kind : {Kind::dns, Kind::ip}) {
    if (!canonical(kind, common_name)) continue;
    auto checked = check_name({kind, common_name}, policy, profile_name);
    if (!checked.ok()) return refused("common name: " + checked.rejection().message);
    grant(std::move(checked).value());
    return granted;
  }
  return refused("common name " + quoted(common_name) +
                 " is neither one of the request's subjectAltNames nor a name profile " + quoted(profile_name) +
                 " allows (a profile without server_auth may allow free text: names: {common_name: text})");
}

}  // namespace hsmca::signer
