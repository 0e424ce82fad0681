#include "ceremony_file.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <ctime>
#include <limits>

#include "hsmca/signer/strict_yaml.hpp"
#include "hsmca/token/enum_names.hpp"

namespace hsmca::cli {

using signer::ConfigError;
using signer::StrictMap;
namespace fs = std::filesystem;
namespace {

// As ceremony files spell them; the order error messages list them in.
constexpr token::EnumNames<CeremonyKind, 6> kKindNames{{{
    {CeremonyKind::root, "root"},
    {CeremonyKind::intermediate, "intermediate"},
    {CeremonyKind::ocsp_signer, "ocsp-signer"},
    {CeremonyKind::csr, "csr"},
    {CeremonyKind::key, "key"},
    {CeremonyKind::crl, "crl"},
}}};

fs::path resolve(const fs::path& base, const std::string& value) {
  fs::path p(value);
  return p.is_absolute() ? p : base / p;
}

KeySpec parse_key(StrictMap m) {
  KeySpec k;
  k.label = m.required_string("label");
  auto type_name = m.required_string("type");
  m.finish();
  auto type = token::parse_key_type(type_name);
  if (!type) throw ConfigError("key.type '" + type_name + "' is not one of " + token::key_type_names());
  k.type = *type;
  return k;
}

signer::DistinguishedName parse_subject(StrictMap m) {
  signer::DistinguishedName dn;
  dn.common_name = m.required_string("common_name");
  dn.organization = m.optional_string("organization");
  dn.organizational_unit = m.optional_string("organizational_unit");
  dn.country = m.optional_string("country");
  dn.state = m.optional_string("state");
  dn.locality = m.optional_string("locality");
  m.finish();
  try {
    signer::to_x509_name(dn);  // validates each attribute
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("certificate.subject: ") + e.what());
  }
  return dn;
}

std::optional<token::SignatureScheme> parse_scheme_name(const std::string& key, const std::optional<std::string>& name) {
  if (!name) return std::nullopt;
  auto parsed = token::parse_scheme(*name);
  if (!parsed) throw ConfigError(key + " '" + *name + "' is not one of " + token::scheme_names());
  return parsed;
}

// RFC 6960 4.2.2.2.1: with id-pkix-ocsp-nocheck nobody asks whether the
// responder's certificate is revoked, so its life is what limits a stolen
// responder key's use. 30 days, renewed monthly, is common practice.
constexpr int kDefaultOcspResponderDays = 30;

ConfigError too_long_for_a_responder(const std::string& what) {
  return ConfigError(what + " is longer than " + std::to_string(signer::kMaxOcspResponderDays) +
                     " days: an OCSP responder certificate is never checked for revocation (id-pkix-ocsp-nocheck), "
                     "so keep it short (default " + std::to_string(kDefaultOcspResponderDays) +
                     ") and run the ceremony again to renew it");
}

// `signing_key`: the type of the key that signs, when the file names it (root
// and csr: the new key); nullopt when it is read from the token later.
CertificateSpec parse_certificate(StrictMap m, CeremonyKind kind, std::optional<token::KeyType> signing_key,
                                  std::chrono::system_clock::time_point now) {
  CertificateSpec c;
  c.subject = parse_subject(m.required_map("subject"));
  const bool ocsp = kind == CeremonyKind::ocsp_signer;
  // The issuer's key signs an intermediate or a responder certificate: its
  // algorithm is issuer.signature_algorithm.
  const bool issued = kind == CeremonyKind::intermediate || ocsp;
  std::optional<long long> days;
  std::optional<std::string> not_before, not_after;
  if (kind != CeremonyKind::csr) {
    days = m.optional_integer("validity_days", 1, 36500);
    if (ocsp && days.value_or(0) > signer::kMaxOcspResponderDays) {
      throw too_long_for_a_responder("certificate.validity_days " + std::to_string(days.value_or(0)));
    }
    not_before = m.optional_string("not_before");
    not_after = m.optional_string("not_after");
  }
  if (kind == CeremonyKind::intermediate) c.path_length = static_cast<int>(m.optional_integer("path_length", 0, 16).value_or(0));
  auto scheme = issued ? std::nullopt : parse_scheme_name("certificate.signature_algorithm",
                                                          m.optional_string("signature_algorithm"));
  m.finish();
  if (signing_key) {
    // value_or rather than *scheme: GCC 12 warns (wrongly) of an uninitialized optional.
    c.scheme = scheme.value_or(token::default_scheme(*signing_key));
    if (!token::scheme_fits(c.scheme, *signing_key)) {
      throw ConfigError("certificate.signature_algorithm " + std::string(token::scheme_name(c.scheme)) +
                        " cannot be used with a " + std::string(token::key_type_name(*signing_key)) + " key");
    }
  }
  if (kind == CeremonyKind::csr) return c;

  if (days && (not_before || not_after)) {
    throw ConfigError("certificate: give validity_days or not_before/not_after, not both");
  }
  if (days) {
    c.not_before = std::chrono::floor<std::chrono::seconds>(now);
    c.not_after = c.not_before + std::chrono::days(*days);
  } else if (not_before && not_after) {
    c.not_before = parse_rfc3339(*not_before, "certificate.not_before");
    c.not_after = parse_rfc3339(*not_after, "certificate.not_after");
    if (c.not_after <= c.not_before) throw ConfigError("certificate.not_after must be later than not_before");
    if (c.not_after <= now) throw ConfigError("certificate.not_after is in the past");
    if (ocsp && c.not_after - c.not_before > std::chrono::days(signer::kMaxOcspResponderDays)) {
      throw too_long_for_a_responder("certificate.not_before to not_after");
    }
  } else if (ocsp && !not_before && !not_after) {
    c.not_before = std::chrono::floor<std::chrono::seconds>(now);
    c.not_after = c.not_before + std::chrono::days(kDefaultOcspResponderDays);
  } else {
    throw ConfigError("missing certificate.validity_days (or both not_before and not_after)");
  }
  return c;
}

// `urls`: the ceremony makes a CA certificate, which may point at its issuer's CRL.
IssuerSpec parse_issuer(StrictMap m, const fs::path& base, bool urls) {
  IssuerSpec i;
  i.certificate = resolve(base, m.required_string("certificate"));
  i.target = TokenTarget::from_yaml(m.required_map("pkcs11"), false);
  i.key_label = m.required_string("key_label");
  i.scheme = parse_scheme_name("issuer.signature_algorithm", m.optional_string("signature_algorithm"));
  if (urls) {
    i.crl_url = m.optional_url("crl_url");
    i.issuer_url = m.optional_url("issuer_url");
  }
  m.finish();
  return i;
}

CrlEntrySpec parse_crl_entry(StrictMap m, const fs::path& base, std::chrono::system_clock::time_point this_update) {
  CrlEntrySpec e;
  auto certificate = m.optional_string("certificate");
  auto serial = m.optional_string("serial");
  auto revoked_at = m.optional_string("revoked_at");
  auto reason = m.required_string("reason");
  m.finish();
  if (certificate.has_value() == serial.has_value()) {
    throw ConfigError(m.path_of("certificate") + " or " + m.path_of("serial") + ": give one, not " +
                      (certificate ? "both" : "neither"));
  }
  if (certificate) {
    e.certificate = resolve(base, *certificate);
  } else {
    e.serial_hex = canonical_serial(*serial);
    if (e.serial_hex.empty()) {
      throw ConfigError(m.path_of("serial") + " '" + *serial + "' is not a positive serial number in hex");
    }
  }
  const auto parsed_reason = signer::parse_revocation_reason(reason);
  if (!parsed_reason) {
    throw ConfigError(m.path_of("reason") + " '" + reason + "' is not one of " + signer::revocation_reason_names());
  }
  e.reason = *parsed_reason;
  e.revoked_at = revoked_at ? parse_rfc3339(*revoked_at, m.path_of("revoked_at")) : this_update;
  if (e.revoked_at > this_update) throw ConfigError(m.path_of("revoked_at") + " is later than crl.this_update");
  return e;
}

CrlSpec parse_crl(StrictMap m, const fs::path& base, std::chrono::system_clock::time_point now) {
  using std::chrono::days;
  CrlSpec c;
  // RFC 5280 5.2.3: a non-negative integer of up to 20 octets; hsmca starts at 1.
  const auto number = m.optional_integer("number", 1, std::numeric_limits<std::int64_t>::max());
  if (!number) throw ConfigError("missing crl.number (the CRL number: above the previous CRL's, 1 for the first)");
  c.number = *number;
  if (auto previous = m.optional_string("previous")) c.previous = resolve(base, *previous);
  const auto this_update = m.optional_string("this_update");
  const auto next_update = m.optional_string("next_update");
  const auto validity = m.optional_integer("validity_days", 1, kMaxCrlValidityDays);
  const bool has_revoked = m.has("revoked");
  auto entries = m.optional_map_list("revoked");
  m.finish();

  c.this_update = this_update ? parse_rfc3339(*this_update, "crl.this_update")
                              : std::chrono::floor<std::chrono::seconds>(now);
  if (next_update.has_value() == validity.has_value()) {
    throw ConfigError(std::string("crl: give next_update or validity_days, ") + (validity ? "not both" : "one of them"));
  }
  if (next_update) {
    c.next_update = parse_rfc3339(*next_update, "crl.next_update");
    if (c.next_update <= c.this_update) throw ConfigError("crl.next_update must be later than this_update");
    if (c.next_update - c.this_update > days(kMaxCrlValidityDays)) {
      throw ConfigError("crl.next_update is more than " + std::to_string(kMaxCrlValidityDays) +
                        " days after this_update (CA/Browser Forum BR 4.9.7: at most twelve months for a CRL about "
                        "CA certificates); sign a new CRL before then instead");
    }
  } else {
    c.next_update = c.this_update + days(validity.value_or(0));
  }
  if (c.next_update <= now) throw ConfigError("crl.next_update is in the past: relying parties would refuse the CRL");

  if (!has_revoked) {
    throw ConfigError("missing crl.revoked (the certificates this CRL revokes; `revoked: []` when none)");
  }
  for (auto& entry : entries) c.revoked.push_back(parse_crl_entry(std::move(entry), base, c.this_update));
  return c;
}

}  // namespace

std::string_view ceremony_kind_name(CeremonyKind kind) noexcept { return kKindNames.name(kind); }
std::optional<CeremonyKind> parse_ceremony_kind(std::string_view name) noexcept { return kKindNames.parse(name); }
std::string ceremony_kind_names() { return kKindNames.list(); }

std::string canonical_serial(const std::string& text) {
  std::string hex;
  for (char ch : text) {
    if (ch == ':') continue;
    hex += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  if (hex.rfind("0x", 0) == 0) hex.erase(0, 2);
  if (hex.empty() || !std::all_of(hex.begin(), hex.end(), [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)); })) {
    return {};
  }
  hex.erase(0, std::min(hex.find_first_not_of('0'), hex.size()));
  if (hex.empty()) return {};  // zero
  if (hex.size() % 2 != 0) hex.insert(hex.begin(), '0');
  return hex;
}

std::chrono::system_clock::time_point parse_rfc3339(const std::string& text, const std::string& what) {
  std::tm tm{};
  int consumed = 0;
  auto bad = [&] { return ConfigError(what + " '" + text + "' is not an RFC 3339 time like 2026-01-01T00:00:00Z"); };
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) != 6 || consumed != 19) {
    throw bad();
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    throw bad();
  }
  std::string rest = text.substr(19);
  if (!rest.empty() && rest[0] == '.') {  // fractional seconds: certificates carry whole seconds
    std::size_t i = 1;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
    if (i == 1) throw bad();
    rest = rest.substr(i);
  }
  long offset = 0;
  if (rest == "Z" || rest == "z") {
    offset = 0;
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int hh = 0, mm = 0;
    if (std::sscanf(rest.c_str() + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59) throw bad();
    offset = (rest[0] == '+' ? 1 : -1) * (hh * 3600L + mm * 60L);
  } else {
    throw bad();
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t t = timegm(&tm);
  return std::chrono::system_clock::from_time_t(t - offset);
}

CeremonySpec parse_ceremony(const fs::path& file, std::chrono::system_clock::time_point now) {
  StrictMap top(signer::load_yaml_file(file.string()), "");
  const fs::path base = fs::absolute(file).parent_path();
  CeremonySpec spec;
  const std::string kind_text = top.required_string("ceremony");
  const auto parsed_kind = parse_ceremony_kind(kind_text);
  if (!parsed_kind) {
    throw ConfigError("ceremony '" + kind_text + "' is not known (this version runs: " + ceremony_kind_names() + ")");
  }
  spec.kind = *parsed_kind;
  const CeremonyKind kind = spec.kind;
  if (kind != CeremonyKind::crl) {
    spec.target = TokenTarget::from_yaml(top.required_map("pkcs11"), false);
    spec.key = parse_key(top.required_map("key"));
  }
  auto outputs = top.required_map("outputs");
  spec.transcript_out = resolve(base, outputs.required_string("transcript"));
  if (kind == CeremonyKind::intermediate || kind == CeremonyKind::ocsp_signer || kind == CeremonyKind::crl) {
    spec.issuer = parse_issuer(top.required_map("issuer"), base, kind == CeremonyKind::intermediate);
  }
  if (kind == CeremonyKind::crl) {
    spec.crl = parse_crl(top.required_map("crl"), base, now);
  } else if (kind != CeremonyKind::key) {
    std::optional<token::KeyType> signing_key;
    if (kind == CeremonyKind::root || kind == CeremonyKind::csr) signing_key = spec.key.type;
    spec.certificate = parse_certificate(top.required_map("certificate"), kind, signing_key, now);
  }
  if (kind == CeremonyKind::root || kind == CeremonyKind::intermediate || kind == CeremonyKind::ocsp_signer) {
    spec.certificate_out = resolve(base, outputs.required_string("certificate"));
  } else if (kind == CeremonyKind::csr) {
    spec.csr_out = resolve(base, outputs.required_string("csr"));
  } else if (kind == CeremonyKind::crl) {
    spec.crl_out = resolve(base, outputs.required_string("crl"));
    const auto der = outputs.optional_string("der").value_or("false");
    if (der != "true" && der != "false") throw ConfigError("outputs.der must be true or false, not '" + der + "'");
    spec.crl_der = der == "true";
  } else if (auto pub = outputs.optional_string("public_key")) {
    spec.public_key_out = resolve(base, *pub);
  }
  outputs.finish();
  top.finish();
  auto outs = spec.outputs();
  std::sort(outs.begin(), outs.end());
  if (std::adjacent_find(outs.begin(), outs.end()) != outs.end()) {
    throw ConfigError("outputs: every output must be a different file");
  }
  return spec;
}

std::vector<fs::path> CeremonySpec::outputs() const {
  std::vector<fs::path> out{transcript_out};
  for (const auto& p : {certificate_out, csr_out, crl_out, public_key_out}) {
    if (!p.empty()) out.push_back(p);
  }
  return out;
}

CeremonyOutline peek_ceremony(const fs::path& file) noexcept {
  CeremonyOutline outline;
  try {
    YAML::Node root = signer::load_yaml_file(file.string());
    if (root["ceremony"].IsScalar()) outline.kind = parse_ceremony_kind(root["ceremony"].as<std::string>());
    outline.public_key = root["outputs"]["public_key"].IsScalar();
    outline.previous_crl = root["crl"]["previous"].IsScalar();
    YAML::Node t = root["outputs"]["transcript"];
    if (t.IsScalar() && !t.as<std::string>().empty()) {
      outline.transcript = resolve(fs::absolute(file).parent_path(), t.as<std::string>());
    }
  } catch (...) {
    // Whatever is wrong with the file, parse_ceremony will say it properly.
  }
  return outline;
}

}  // namespace hsmca::cli
