// rfc822Name and URI rules: mailbox syntax, and the hierarchical URIs
// (scheme://host/path) a profile's uri list allows by prefix.
#include <algorithm>

#include "name_rules.hpp"

namespace hsmca::signer::names {
namespace {

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


bool uri_matches(const HierarchicalUri& uri, std::string_view entry) {
  const auto allowed = hierarchical(entry);
  return allowed && !allowed->userinfo && !allowed->port && uri.scheme == allowed->scheme &&
         uri.host == allowed->host && uri.path.starts_with(allowed->path);
}

}  // namespace

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

Outcome<SubjectAltName> check_email(const std::string& requested, const NamePolicy& policy,
                                    std::string_view profile_name) {
  const auto email = canonical_email(requested);
  if (!email) {
    return refused("email address " + in_quotes(requested) + " is not valid: local@domain, the domain a DNS name");
  }
  if (policy.restricted) {
    const std::string_view domain = std::string_view(*email).substr(email->find('@') + 1);
    const bool allowed_here = std::ranges::any_of(policy.email, [&](const std::string& entry) {
      if (entry.find('@') == std::string::npos) return covered_by(domain, entry);
      const auto address = canonical_email(entry);
      return address && *address == *email;
    });
    if (!allowed_here) return refused(outside("email address " + in_quotes(*email), policy, Kind::email, profile_name));
  }
  return SubjectAltName{Kind::email, *email};
}

Outcome<SubjectAltName> check_uri(const std::string& requested, const NamePolicy& policy,
                                  std::string_view profile_name) {
  if (!visible_ascii(requested) || scheme_length(requested) == 0) {
    return refused("URI " + in_quotes(requested) +
                   " is not valid: it needs a scheme (\"https:\", \"spiffe:\") and only visible ASCII");
  }
  if (policy.restricted) {
    const auto uri = hierarchical(requested);
    if (uri && uri->userinfo) {
      // "spiffe://evil@prod/": parsers disagree on where userinfo ends, and a
      // name that reads as "prod" to one and "evil" to another is no name.
      return refused("URI " + in_quotes(requested) + " carries userinfo (\"...@\"), which profile " +
                     in_quotes(profile_name) + " does not allow");
    }
    if (uri && has_dot_segment(uri->path)) {
      return refused("URI " + in_quotes(requested) + " has a \".\" or \"..\" path segment, which profile " +
                     in_quotes(profile_name) + " does not allow (it compares path prefixes)");
    }
    // "..%2f", "..\\", "..;" and ports: spellings that one resolver reads as
    // another path or authority than the prefix compare saw.
    if (uri && (uri->port || requested.find_first_of("%\\;") != std::string::npos)) {
      return refused("URI " + in_quotes(requested) + " has a port, a percent-encoding, a backslash or a ';', which profile " +
                     in_quotes(profile_name) + " does not allow (they let one URI read as another)");
    }
    const auto matches = [&uri](const std::string& entry) { return uri_matches(*uri, entry); };
    if (!uri || std::ranges::none_of(policy.uri, matches)) {
      return refused(outside("URI " + in_quotes(requested), policy, Kind::uri, profile_name));
    }
  }
  return SubjectAltName{Kind::uri, requested};
}

}  // namespace hsmca::signer::names
