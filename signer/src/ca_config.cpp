#include "hsmca/signer/ca_config.hpp"

#include <algorithm>
#include <string_view>

#include "hsmca/signer/name_policy.hpp"
#include "hsmca/signer/openssl.hpp"

namespace hsmca::signer {
namespace fs = std::filesystem;
namespace {

fs::path resolve(const fs::path& base, const std::string& value) {
  fs::path p(value);
  return p.is_absolute() ? p : base / p;
}

// Who may ask for a profile remotely; the front ends decide who a caller is,
// the profile only names them.
bool is_requester(std::string_view entry) {
  if (entry == "enroll" || entry == "admin" || entry == "acme") return true;
  if (entry.starts_with("sha256:")) {
    const std::string_view hex = entry.substr(7);
    return hex.size() == 64 && is_lower_hex(hex);
  }
  if (entry.starts_with("user:")) {
    const std::string_view user = entry.substr(5);
    return !user.empty() && std::ranges::all_of(user, [](unsigned char c) { return c > 0x20 && c < 0x7f; });
  }
  return false;
}

Profile parse_profile(const std::string& name, StrictMap m) {
  Profile p;
  p.name = name;
  p.validity_days = static_cast<int>(m.optional_integer("validity_days", 1, 3650).value_or(90));
  for (const auto& e : m.optional_string_list("extended_key_usage")) {
    auto eku = parse_eku(e);
    if (!eku) throw ConfigError(m.path_of("extended_key_usage") + ": '" + e + "' is not one of " + eku_names());
    // SECURITY-NOTES: authority-granting EKUs come only from ceremonies. RFC
    // 6960 4.2.2.2: the CA's own OCSPSigning certificate speaks for it.
    if (*eku == ExtendedKeyUsage::ocsp_signing) {
      throw ConfigError(m.path_of("extended_key_usage") +
                        ": ocsp_signing is not allowed in a profile: a delegated OCSP responder comes only from "
                        "`ceremony: ocsp-signer` (it could answer for every certificate of the CA)");
    }
    p.extended_key_usage.push_back(*eku);
  }
  if (p.extended_key_usage.empty()) throw ConfigError("missing " + m.path_of("extended_key_usage"));
  for (const auto& requester : m.optional_string_list("requesters")) {
    if (!is_requester(requester)) {
      throw ConfigError(m.path_of("requesters") + ": '" + requester +
                        "' is not enroll, admin, acme, sha256:<64 lowercase hex digits> or user:<NAME>");
    }
    p.requesters.push_back(requester);
  }
  for (const auto& type : m.optional_string_list("key_types")) {
    if (std::find(std::begin(kRequestKeyTypes), std::end(kRequestKeyTypes), type) == std::end(kRequestKeyTypes)) {
      std::string known;
      for (auto k : kRequestKeyTypes) known += (known.empty() ? "" : ", ") + std::string(k);
      throw ConfigError(m.path_of("key_types") + ": '" + type + "' is not one of " + known);
    }
    if (std::find(p.key_types.begin(), p.key_types.end(), type) == p.key_types.end()) p.key_types.push_back(type);
  }
  p.names = read_name_policy(m);
  // RFC 6125 6.4.4: a TLS client falls back to the CN when a certificate has
  // no DNS name, so a server certificate's CN is never free text.
  if (p.server() && p.names.common_name == NamePolicy::CommonName::text) {
    throw ConfigError(m.path_of("names") + ": common_name: text is not allowed in a profile with server_auth (TLS"
                      " clients read a CN as a host name when there is no DNS name; leave common_name out)");
  }
  m.finish();
  return p;
}

}  // namespace

CaConfig CaConfig::load(const fs::path& file) {
  StrictMap top(load_yaml_file(file.string()), "");
  const fs::path base = fs::absolute(file).parent_path();
  CaConfig c;
  c.file = fs::absolute(file);

  auto pkcs11 = top.required_map("pkcs11");
  const bool sessions_given = pkcs11.has("sessions");
  c.pkcs11 = TokenTarget::from_yaml(pkcs11, true);
  if (!sessions_given) c.pkcs11.sessions = 4;

  auto issuer = top.required_map("issuer");
  c.key_label = issuer.required_string("key_label");
  c.issuer_certificate = resolve(base, issuer.required_string("certificate"));
  for (const auto& p : issuer.optional_string_list("chain")) c.chain.push_back(resolve(base, p));
  if (auto alg = issuer.optional_string("signature_algorithm")) {
    auto scheme = token::parse_scheme(*alg);
    if (!scheme) throw ConfigError("issuer.signature_algorithm '" + *alg + "' is not one of " + token::scheme_names());
    c.signature_algorithm = scheme;
  }
  issuer.finish();

  c.ledger = resolve(base, top.required_string("ledger"));

  auto profiles = top.required_map("profiles");
  for (const auto& name : profiles.keys()) c.profiles.push_back(parse_profile(name, profiles.required_map(name)));
  profiles.finish();
  if (c.profiles.empty()) throw ConfigError("profiles: define at least one profile");

  if (auto rev = top.optional_map("revocation")) {
    c.revocation.crl_url = rev->optional_url("crl_url");
    c.revocation.ocsp_url = rev->optional_url("ocsp_url");
    c.revocation.issuer_url = rev->optional_url("issuer_url");
    c.revocation.crl_validity_hours = static_cast<int>(rev->optional_integer("crl_validity_hours", 1, 24 * 366).value_or(24));
    c.revocation.ocsp_validity_hours = static_cast<int>(rev->optional_integer("ocsp_validity_hours", 1, 24 * 14).value_or(24));
    c.revocation.ocsp_fresh_signatures_per_second =
        static_cast<int>(rev->optional_integer("ocsp_fresh_signatures_per_second", 0, 1'000'000).value_or(50));
    if (auto signer = rev->optional_map("ocsp_signer")) {
      c.revocation.ocsp_signer = OcspSignerSettings{signer->required_string("key_label"),
                                                    resolve(base, signer->required_string("certificate"))};
      signer->finish();
    }
    rev->finish();
  }

  // The appliance block belongs to hsmca-appliance, which reads it as strictly.
  if (auto appliance = top.optional_map("appliance")) c.appliance = appliance->node();
  top.finish();
  return c;
}

const Profile* CaConfig::profile(const std::string& name) const noexcept {
  for (const auto& p : profiles) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string CaConfig::profile_names() const {
  std::string out;
  for (const auto& p : profiles) {
    if (!out.empty()) out += ", ";
    out += p.name;
  }
  return out;
}

}  // namespace hsmca::signer
