#include "ceremony_file.hpp"

#include <algorithm>
#include <ctime>

#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::cli {

using signer::ConfigError;
using signer::StrictMap;
namespace fs = std::filesystem;
namespace {

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

// `signing_key`: the type of the key that signs, when the file names it (root
// and csr: the new key); nullopt when it is read from the token later.
CertificateSpec parse_certificate(StrictMap m, const std::string& kind, std::optional<token::KeyType> signing_key,
                                  std::chrono::system_clock::time_point now) {
  CertificateSpec c;
  c.subject = parse_subject(m.required_map("subject"));
  std::optional<long long> days;
  std::optional<std::string> not_before, not_after;
  if (kind != "csr") {
    days = m.optional_integer("validity_days", 1, 36500);
    not_before = m.optional_string("not_before");
    not_after = m.optional_string("not_after");
  }
  if (kind == "intermediate") c.path_length = static_cast<int>(m.optional_integer("path_length", 0, 16).value_or(0));
  auto scheme = kind == "intermediate" ? std::nullopt : parse_scheme_name("certificate.signature_algorithm",
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
  if (kind == "csr") return c;

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
  } else {
    throw ConfigError("missing certificate.validity_days (or both not_before and not_after)");
  }
  return c;
}

IssuerSpec parse_issuer(StrictMap m, const fs::path& base) {
  IssuerSpec i;
  i.certificate = resolve(base, m.required_string("certificate"));
  i.target = TokenTarget::from_yaml(m.required_map("pkcs11"), false);
  i.key_label = m.required_string("key_label");
  i.scheme = parse_scheme_name("issuer.signature_algorithm", m.optional_string("signature_algorithm"));
  m.finish();
  return i;
}

}  // namespace

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
  spec.kind = top.required_string("ceremony");
  if (spec.kind != "root" && spec.kind != "intermediate" && spec.kind != "csr" && spec.kind != "key") {
    throw ConfigError("ceremony '" + spec.kind + "' is not known (this version runs: root, intermediate, csr, key)");
  }
  spec.target = TokenTarget::from_yaml(top.required_map("pkcs11"), false);
  spec.key = parse_key(top.required_map("key"));
  auto outputs = top.required_map("outputs");
  spec.transcript_out = resolve(base, outputs.required_string("transcript"));
  if (spec.kind == "intermediate") spec.issuer = parse_issuer(top.required_map("issuer"), base);
  if (spec.kind != "key") {
    std::optional<token::KeyType> signing_key;
    if (spec.kind != "intermediate") signing_key = spec.key.type;
    spec.certificate = parse_certificate(top.required_map("certificate"), spec.kind, signing_key, now);
  }
  if (spec.kind == "root" || spec.kind == "intermediate") {
    spec.certificate_out = resolve(base, outputs.required_string("certificate"));
  } else if (spec.kind == "csr") {
    spec.csr_out = resolve(base, outputs.required_string("csr"));
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
  for (const auto& p : {certificate_out, csr_out, public_key_out}) {
    if (!p.empty()) out.push_back(p);
  }
  return out;
}

CeremonyOutline peek_ceremony(const fs::path& file) noexcept {
  CeremonyOutline outline;
  try {
    YAML::Node root = YAML::LoadFile(file.string());
    if (root["ceremony"].IsScalar()) outline.kind = root["ceremony"].as<std::string>();
    outline.public_key = root["outputs"]["public_key"].IsScalar();
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
