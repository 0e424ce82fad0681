#include "hsmca/signer/name_policy.hpp"

#include <openssl/objects.h>

#include <algorithm>
#include <string>

#include "name_rules.hpp"

namespace hsmca::signer::names {
namespace {

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

}  // namespace

std::string outside(const std::string& what, const NamePolicy& policy, Kind kind, std::string_view profile_name) {
  return what + " is outside profile " + in_quotes(profile_name) + " " + allowed(policy, kind);
}

}  // namespace hsmca::signer::names

namespace hsmca::signer {
namespace {

using namespace names;

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
        throw ConfigError(block.path_of(key) + ": " + in_quotes(entry) +
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
      throw ConfigError(names->path_of("wildcards") + " must be true or false, not " + in_quotes(*wildcards));
    }
    policy.wildcards = *wildcards == "true";
  }
  for (const std::string& entry : names->optional_string_list("ip")) {
    const auto range = IpRange::parse(entry);
    if (!range) {
      throw ConfigError(names->path_of("ip") + ": " + in_quotes(entry) +
                        " is not an address or a range like 10.0.0.0/8 or fd00::/8");
    }
    if (range->has_host_bits()) {
      throw ConfigError(names->path_of("ip") + ": " + in_quotes(entry) + " has bits set beyond its /" +
                        std::to_string(range->prefix_length) + " prefix: write the network " +
                        range->without_host_bits().str() + ", or the one address without a prefix");
    }
    policy.ip.push_back(*range);
  }
  for (const std::string& entry : names->optional_string_list("email")) {
    std::optional<std::string> canonical_entry =
        entry.find('@') == std::string::npos ? std::optional<std::string>(lowercase(entry)) : canonical_email(entry);
    if (!canonical_entry || (entry.find('@') == std::string::npos && !is_host_name(*canonical_entry))) {
      throw ConfigError(names->path_of("email") + ": " + in_quotes(entry) +
                        " is neither a domain like example.test nor an address like ops@example.test");
    }
    policy.email.push_back(*canonical_entry);
  }
  for (const std::string& entry : names->optional_string_list("uri")) {
    const auto canonical_entry = canonical_uri_entry(entry);
    if (!canonical_entry) {
      throw ConfigError(names->path_of("uri") + ": " + in_quotes(entry) +
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
      throw ConfigError(names->path_of("common_name") + " must be name or text, not " + in_quotes(*mode));
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
  return refused("common name " + in_quotes(common_name) +
                 " is neither one of the request's subjectAltNames nor a name profile " + in_quotes(profile_name) +
                 " allows (a profile without server_auth may allow free text: names: {common_name: text})");
}

}  // namespace hsmca::signer
