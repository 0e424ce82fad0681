#include "acme_validation.hpp"

#include <openssl/evp.h>

#include <array>

#include "acme_challenges.hpp"

namespace hsmca::appliance::acme {
namespace {

// A checked identifier: lower-cased; for a wildcard, `name` is the part after "*.".
struct Subject {
  Identifier::Type type = Identifier::Type::dns;
  std::string name;
  bool wildcard = false;
};

bool is_base64url(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Parses the identifier; on refusal `error` holds a "rejectedIdentifier" result.
std::optional<Subject> subject_of(const Identifier& identifier, ValidationResult& error) {
  Subject subject{identifier.type, lowercase(identifier.value), false};
  if (identifier.type == Identifier::Type::ip) {
    // RFC 8738 §3: the textual form of an address, nothing else.
    if (!ip_literal(subject.name)) {
      error = failure(problem::kRejectedIdentifier, quoted(identifier.value) + " is not an IP address");
      return std::nullopt;
    }
    subject.name = ip_literal(subject.name)->to_string();
    return subject;
  }
  if (subject.name.starts_with("*.")) {
    subject.wildcard = true;
    subject.name.erase(0, 2);
  }
  if (!is_dns_name(subject.name) || ip_literal(subject.name)) {
    error = failure(problem::kRejectedIdentifier, quoted(identifier.value) + " is not a DNS name");
    return std::nullopt;
  }
  return subject;
}

// The refusals that need no network: a wildcard is proved by dns-01 only
// (RFC 8737 §3 rules tls-alpn-01 out; a web server answers for one name, not a
// zone); RFC 8738 §7: no dns-01 for IP addresses; RFC 8555 §8.1: the key
// authorization is token "." thumbprint, both base64url (the token goes into
// a URL path).
std::optional<ValidationResult> mismatch(ChallengeType type, const Subject& subject, std::string_view token,
                                         std::string_view key_authorization) {
  if (subject.type == Identifier::Type::ip && type == ChallengeType::dns01) {
    return failure(problem::kMalformed, "dns-01 cannot validate the IP address " + subject.name);
  }
  if (subject.wildcard && type != ChallengeType::dns01) {
    return failure(problem::kMalformed, "the wildcard *." + subject.name + " can only be validated with dns-01");
  }
  if (!is_base64url(token) || token.size() > 256) {
    return failure(problem::kMalformed, "the challenge token is not base64url");
  }
  const auto dot = key_authorization.find('.');
  if (dot == std::string_view::npos || key_authorization.substr(0, dot) != token ||
      !is_base64url(key_authorization.substr(dot + 1))) {
    return failure(problem::kMalformed, "the key authorization does not belong to the challenge token");
  }
  return std::nullopt;
}

ValidationResult validate_dns01(Attempt& attempt, const Subject& subject, std::string_view key_authorization) {
  const std::string name = "_acme-challenge." + subject.name;
  const auto answer = attempt.resolver.txt(name, attempt.deadline);
  if (answer.outcome == dns::Outcome::failed) {
    return failure(problem::kDns, dns_problem_text(attempt, answer.error, "TXT", name));
  }
  if (answer.outcome == dns::Outcome::absent) {
    return failure(problem::kUnauthorized, "no TXT record found for " + name);
  }
  const std::string expected = dns01_txt_value(key_authorization);
  for (const auto& record : answer.records) {
    if (record == expected) return success();
  }
  return failure(problem::kIncorrectResponse, "TXT record for " + name + " did not match: found " +
                                                  std::to_string(answer.records.size()) + ", the first " +
                                                  quoted(answer.records.front()));
}

// RFC 8659 §4.1: the property tags a CA must understand, or at least know it
// may ignore; an unknown one marked critical forbids issuance.
bool is_known_caa_tag(std::string_view tag) {
  for (std::string_view known : {"issue", "issuewild", "iodef", "issuemail", "issuevmc", "contactemail",
                                 "contactphone"}) {
    if (iequals(tag, known)) return true;
  }
  return false;
}

// RFC 8659 §4.2: issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]].
std::string_view caa_issuer(std::string_view value) {
  value = value.substr(0, value.find(';'));
  const auto first = value.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = value.find_last_not_of(" \t");
  return value.substr(first, last - first + 1);
}

ValidationResult judge_caa(const std::vector<dns::CaaRecord>& records, const std::string& owner, bool wildcard,
                           const std::vector<std::string>& caa_identities) {
  bool has_issuewild = false;
  for (const auto& record : records) {
    if (record.critical && !is_known_caa_tag(record.tag)) {
      return failure(problem::kCaa, "CAA record for " + owner + " has the unknown critical property " +
                                        quoted(record.tag) + "; issuance is not allowed");
    }
    has_issuewild = has_issuewild || iequals(record.tag, "issuewild");
  }
  // RFC 8659 §4.3: for a wildcard, issuewild properties replace issue ones when there are any.
  const std::string_view relevant = wildcard && has_issuewild ? "issuewild" : "issue";
  bool restricted = false;
  for (const auto& record : records) {
    if (!iequals(record.tag, relevant)) continue;
    restricted = true;
    const auto issuer = caa_issuer(record.value);
    for (const auto& identity : caa_identities) {
      if (!issuer.empty() && iequals(issuer, identity)) return success();
    }
  }
  // An RRset with only other properties (iodef, say) does not restrict issuance.
  if (!restricted) return success();
  std::string us;
  for (const auto& identity : caa_identities) us += (us.empty() ? "" : ", ") + identity;
  return failure(problem::kCaa, "CAA record for " + owner + " does not allow " + std::string(relevant) +
                                    " by " + (us.empty() ? std::string("this CA") : us));
}

}  // namespace

std::string dns01_txt_value(std::string_view key_authorization) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(key_authorization.data(), key_authorization.size(), digest.data(), &length, EVP_sha256(), nullptr);
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> encoded{};
  const int n = EVP_EncodeBlock(encoded.data(), digest.data(), static_cast<int>(length));
  std::string out(reinterpret_cast<const char*>(encoded.data()), static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

ValidationResult validate(const ValidationSettings& settings, ChallengeType type, const Identifier& identifier,
                          std::string_view token, std::string_view key_authorization) {
  const auto deadline = std::chrono::steady_clock::now() + settings.timeout;
  ValidationResult error;
  const auto subject = subject_of(identifier, error);
  if (!subject) return error;
  if (auto refused = mismatch(type, *subject, token, key_authorization)) return *refused;

  std::string why;
  auto resolver = dns::Resolver::open(settings.dns_server, why);
  if (!resolver) return failure(problem::kServerInternal, why);
  Attempt attempt{settings, deadline, *resolver};
  const Identifier normalized{subject->type, subject->name};
  switch (type) {
    case ChallengeType::http01: return validate_http01(attempt, normalized, token, key_authorization);
    case ChallengeType::dns01: return validate_dns01(attempt, *subject, key_authorization);
    case ChallengeType::tls_alpn01: return validate_tls_alpn01(attempt, normalized, key_authorization);
  }
  return failure(problem::kMalformed, "unknown challenge type");
}

ValidationResult check_caa(const ValidationSettings& settings, const Identifier& identifier,
                           const std::vector<std::string>& caa_identities) {
  const auto deadline = std::chrono::steady_clock::now() + settings.timeout;
  ValidationResult error;
  const auto subject = subject_of(identifier, error);
  if (!subject) return error;
  if (subject->type == Identifier::Type::ip) return success();

  std::string why;
  auto resolver = dns::Resolver::open(settings.dns_server, why);
  if (!resolver) return failure(problem::kServerInternal, why);
  Attempt attempt{settings, deadline, *resolver};
  // RFC 8659 §3: the relevant RRset is the first one found climbing from the
  // name towards (not including) the root.
  std::string_view name = subject->name;
  for (;;) {
    const std::string owner(name);
    const auto answer = resolver->caa(owner, deadline);
    if (answer.outcome == dns::Outcome::failed) {
      // Baseline Requirements §3.2.2.8: a failed lookup is not permission.
      return failure(problem::kDns, dns_problem_text(attempt, answer.error, "CAA", owner));
    }
    if (answer.outcome == dns::Outcome::found) {
      return judge_caa(answer.records, owner, subject->wildcard, caa_identities);
    }
    const auto dot = name.find('.');
    if (dot == std::string_view::npos) return success();
    name.remove_prefix(dot + 1);
  }
}

}  // namespace hsmca::appliance::acme
