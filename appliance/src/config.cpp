#include "hsmca/appliance/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>
#include <system_error>

#include "hsmca/signer/authorization.hpp"
#include "hsmca/signer/secret_file.hpp"
#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::appliance {
namespace fs = std::filesystem;
using signer::ConfigError;
using signer::StrictMap;

namespace {

constexpr long long kMaxTimeoutMs = 3'600'000;  // an hour: anything longer is a typo

fs::path resolve(const fs::path& base, const std::string& value) {
  fs::path p(value);
  return p.is_absolute() ? p : base / p;
}

std::string required(const StrictMap& m, const std::string& key, const std::optional<std::string>& value) {
  if (!value || value->empty()) throw ConfigError("missing " + m.path_of(key));
  return *value;
}

// The service would otherwise fail at start-up, or worse on the first
// handshake, with an error that does not say which line of the file is wrong.
fs::path existing_file(const StrictMap& m, const std::string& key, const fs::path& base,
                       const std::optional<std::string>& value) {
  if (!value || value->empty()) return {};
  fs::path p = resolve(base, *value);
  std::error_code ec;
  const auto status = fs::status(p, ec);
  if (!fs::exists(status)) throw ConfigError(m.path_of(key) + ": no such file " + p.string());
  if (!fs::is_regular_file(status)) throw ConfigError(m.path_of(key) + ": " + p.string() + " is not a file");
  return p;
}

// The TLS key and the token list: refused while others may read them (or
// group or others change them), before the service holds what they say.
fs::path secret_file(const StrictMap& m, const std::string& key, const fs::path& base,
                     const std::optional<std::string>& value) {
  fs::path p = existing_file(m, key, base, value);
  if (!p.empty()) signer::check_secret_file(p, m.path_of(key));
  return p;
}

std::chrono::milliseconds millis(StrictMap& m, const std::string& key, long long min, std::chrono::milliseconds fallback) {
  auto v = m.optional_integer(key, min, kMaxTimeoutMs);
  return v ? std::chrono::milliseconds(*v) : fallback;
}

std::size_t count(StrictMap& m, const std::string& key, long long min, long long max, std::size_t fallback) {
  auto v = m.optional_integer(key, min, max);
  return v ? static_cast<std::size_t>(*v) : fallback;
}

void read_limits(StrictMap m, ApplianceConfig& c) {
  c.max_connections = count(m, "max_connections", 1, 1'000'000, c.max_connections);
  c.max_connections_per_address =
      count(m, "max_connections_per_address", 1, 1'000'000, c.max_connections_per_address);
  c.body_limit = count(m, "body_limit", 1, 64LL * 1024 * 1024, c.body_limit);
  c.header_limit = count(m, "header_limit", 1, 1024LL * 1024, c.header_limit);
  c.handshake_timeout = millis(m, "handshake_timeout_ms", 1, c.handshake_timeout);
  c.read_timeout = millis(m, "read_timeout_ms", 1, c.read_timeout);
  c.idle_timeout = millis(m, "idle_timeout_ms", 1, c.idle_timeout);
  c.write_timeout = millis(m, "write_timeout_ms", 1, c.write_timeout);
  c.shutdown_grace = millis(m, "shutdown_grace_ms", 0, c.shutdown_grace);
  c.io_threads = count(m, "io_threads", 1, 256, c.io_threads);
  c.workers = count(m, "workers", 0, 4096, c.workers);
  c.queue_limit = count(m, "queue_limit", 0, 1'000'000, c.queue_limit);
  m.finish();
}

void read_tls(StrictMap m, const fs::path& base, ApplianceConfig& c) {
  const auto certificate = m.optional_string("certificate");
  const auto key = m.optional_string("key");
  if (auto ciphers = m.optional_string("ciphers")) c.tls_ciphers = *ciphers;
  m.finish();
  c.tls_certificate = existing_file(m, "certificate", base, required(m, "certificate", certificate));
  c.tls_key = secret_file(m, "key", base, required(m, "key", key));
}

void read_roles(StrictMap m, const StrictMap& auth, ApplianceConfig& c) {
  for (const auto& role : m.keys()) {
    if (role != "enroll" && role != "admin") {
      throw ConfigError(m.path_of(role) + ": unknown role '" + role + "' (the roles are enroll and admin)");
    }
    auto names = m.optional_string_list(role);
    bool certificates = false;
    for (auto& name : names) {
      if (name.empty()) throw ConfigError(m.path_of(role) + ": an empty common name");
      if (name.starts_with("user:")) {
        if (name.size() == 5 || name.find(':', 5) != std::string::npos) {
          throw ConfigError(m.path_of(role) + ": '" + name + "' is not user: followed by an htpasswd user name");
        }
        if (c.htpasswd.empty()) {
          throw ConfigError(m.path_of(role) + " names the password user '" + name.substr(5) + "' but " +
                            auth.path_of("htpasswd") + " is not set");
        }
        continue;
      }
      certificates = true;
      if (name == "*" && role != "enroll") {
        throw ConfigError(m.path_of(role) + ": \"*\" (any valid client certificate) may only be granted the enroll "
                          "role; name " + role + " certificates by fingerprint: \"sha256:FINGERPRINT\"");
      }
      if (name.starts_with("sha256:")) {
        std::string hex = name.substr(7);
        for (auto& ch : hex) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (hex.size() != 64 || !signer::is_lower_hex(hex)) {
          throw ConfigError(m.path_of(role) + ": '" + name + "' is not sha256: followed by 64 hex digits (the "
                            "certificate's SHA-256 fingerprint without colons)");
        }
        name = "sha256:" + hex;
      }
    }
    if (certificates && c.client_ca.empty()) {
      // Without client_ca no client certificate is asked for, so these names could never match.
      throw ConfigError(m.path_of(role) + " names client certificates but " + auth.path_of("client_ca") + " is not set");
    }
    c.roles[role] = std::move(names);
  }
  m.finish();
}

void read_auth(StrictMap m, const fs::path& base, ApplianceConfig& c) {
  const auto client_ca = m.optional_string("client_ca");
  auto roles = m.optional_map("roles");
  const auto tokens_file = m.optional_string("tokens_file");
  const auto client_crls = m.optional_string_list("client_crls");
  const auto htpasswd = m.optional_string("htpasswd");
  m.finish();
  c.htpasswd = secret_file(m, "htpasswd", base, htpasswd);
  c.client_ca = existing_file(m, "client_ca", base, client_ca);
  for (const auto& file : client_crls) c.client_crls.push_back(existing_file(m, "client_crls", base, file));
  if (!c.client_crls.empty() && c.client_ca.empty()) {
    throw ConfigError(m.path_of("client_crls") + " names CRLs of client certificate authorities but " +
                      m.path_of("client_ca") + " is not set");
  }
  if (roles) read_roles(*roles, m, c);
  c.tokens_file = secret_file(m, "tokens_file", base, tokens_file);
}

// appliance.acme (README "ACME").
AcmeConfig read_acme(StrictMap m, const signer::CaConfig& ca) {
  AcmeConfig a;
  const auto profile = m.optional_string("profile");
  auto profiles = m.optional_string_list("profiles");
  const auto eab = m.optional_string("external_account_binding");
  auto validation = m.optional_map("validation");
  if (auto v = m.optional_integer("order_lifetime_hours", 1, 24 * 30)) a.order_lifetime_hours = static_cast<int>(*v);
  if (auto v = m.optional_integer("authorization_reuse_hours", 0, 24 * 30)) {
    a.authorization_reuse_hours = static_cast<int>(*v);
  }
  a.caa_identities = m.optional_string_list("caa_identities");
  if (auto v = m.optional_integer("orders_per_hour", 1, 1'000'000)) a.orders_per_hour = static_cast<int>(*v);
  if (auto v = m.optional_integer("failed_validations_per_hour", 1, 1'000'000)) {
    a.failed_validations_per_hour = static_cast<int>(*v);
  }
  if (auto v = m.optional_integer("new_accounts_per_hour", 1, 1'000'000)) a.new_accounts_per_hour = static_cast<int>(*v);
  m.finish();
  a.profile = required(m, "profile", profile);
  // Default deny: only what the operator offers here, and only profiles that grant the role acme.
  a.profiles = profiles.empty() ? std::vector<std::string>{a.profile} : profiles;
  if (std::find(a.profiles.begin(), a.profiles.end(), a.profile) == a.profiles.end()) {
    throw ConfigError(m.path_of("profile") + ": '" + a.profile + "' is not among " + m.path_of("profiles") +
                      "; the default profile must be one of those offered");
  }
  for (const auto& name : a.profiles) {
    const std::string where = m.path_of(profiles.empty() ? "profile" : "profiles");
    const signer::Profile* p = ca.profile(name);
    if (p == nullptr) {
      throw ConfigError(where + ": '" + name + "' is not a profile of the CA file (" + ca.profile_names() + ")");
    }
    if (std::find(p->requesters.begin(), p->requesters.end(), signer::kRoleAcme) == p->requesters.end()) {
      // ACME accounts act under the role acme, which the profile must grant.
      throw ConfigError(where + ": profile '" + name +
                        "' does not list acme among its requesters; add it (requesters: [acme]) to let ACME "
                        "accounts order it");
    }
    const auto& ekus = p->extended_key_usage;
    if (std::find(ekus.begin(), ekus.end(), signer::ExtendedKeyUsage::client_auth) != ekus.end()) {
      a.client_certificates.push_back(name);
    }
  }
  if (eab) {
    if (*eab == "true") {
      a.external_account_binding = true;
    } else if (*eab == "false") {
      a.external_account_binding = false;
    } else {
      throw ConfigError(m.path_of("external_account_binding") + ": '" + *eab + "' is neither true nor false");
    }
  }
  if (validation) {
    StrictMap v = *validation;
    if (auto dns = v.optional_string("dns_server")) a.dns_server = *dns;
    if (auto port = v.optional_integer("http_port", 1, 65535)) a.http_port = static_cast<std::uint16_t>(*port);
    if (auto port = v.optional_integer("tls_port", 1, 65535)) a.tls_port = static_cast<std::uint16_t>(*port);
    a.validation_timeout = millis(v, "timeout_ms", 100, a.validation_timeout);
    a.validation_threads = count(v, "threads", 1, 64, a.validation_threads);
    v.finish();
    if (!a.dns_server.empty()) {
      for (std::size_t start = 0; start <= a.dns_server.size();) {
        const auto comma = a.dns_server.find(',', start);
        parse_endpoint(a.dns_server.substr(start, comma - start), v.path_of("dns_server"));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
  }
  return a;
}

}  // namespace

Endpoint parse_endpoint(const std::string& text, const std::string& key) {
  const auto bad = [&](const std::string& why) {
    return ConfigError(key + ": '" + text + "' " + why + " (expected HOST:PORT, e.g. 127.0.0.1:8443 or [::1]:8443)");
  };
  Endpoint e;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) throw bad("has no closing ']'");
    e.host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') throw bad("has no ':PORT' after the address");
    port = text.substr(close + 2);
    in6_addr addr{};
    if (inet_pton(AF_INET6, e.host.c_str(), &addr) != 1) throw bad("is not an IPv6 address in brackets");
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) throw bad("has no ':PORT'");
    e.host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (e.host.find(':') != std::string::npos) throw bad("needs brackets around an IPv6 address");
    in_addr addr{};
    if (inet_pton(AF_INET, e.host.c_str(), &addr) != 1) throw bad("does not start with an IPv4 address");
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    throw bad("has no port number");
  }
  const unsigned long value = std::stoul(port);
  if (value > 65535) throw bad("has a port above 65535");
  e.port = static_cast<std::uint16_t>(value);
  return e;
}

ApplianceConfig ApplianceConfig::from(const signer::CaConfig& ca) {
  if (!ca.appliance.IsDefined() || ca.appliance.IsNull()) {
    throw ConfigError("missing appliance (the CA file " + ca.file.string() + " has no appliance block)");
  }
  // Every level is checked for unknown keys before anything is required of it:
  // a misspelt key is reported as such, not as the key it was meant to be missing.
  StrictMap top(ca.appliance, "appliance");
  const auto listen = top.optional_string("listen");
  const auto public_listen = top.optional_string("public_listen");
  auto tls = top.optional_map("tls");
  auto auth = top.optional_map("auth");
  const auto default_profile = top.optional_string("default_profile");
  auto limits = top.optional_map("limits");
  const auto root_crl = top.optional_string("root_crl");
  auto acme = top.optional_map("acme");
  top.finish();

  const fs::path base = ca.file.parent_path();
  ApplianceConfig c;
  c.listen = parse_endpoint(required(top, "listen", listen), top.path_of("listen"));
  c.public_listen = parse_endpoint(required(top, "public_listen", public_listen), top.path_of("public_listen"));
  if (!tls) throw ConfigError("missing " + top.path_of("tls"));
  read_tls(*tls, base, c);
  if (!auth) throw ConfigError("missing " + top.path_of("auth"));
  read_auth(*auth, base, c);
  c.default_profile = required(top, "default_profile", default_profile);
  if (ca.profile(c.default_profile) == nullptr) {
    throw ConfigError(top.path_of("default_profile") + ": '" + c.default_profile + "' is not a profile of the CA file (" +
                      ca.profile_names() + ")");
  }
  if (limits) read_limits(*limits, c);
  // May not exist yet: the appliance serves it once the root has signed one.
  if (root_crl) c.root_crl = resolve(base, *root_crl);
  if (acme) c.acme = read_acme(*acme, ca);

  if (c.workers == 0) c.workers = 4 * ca.pkcs11.sessions;
  if (c.queue_limit == 0) c.queue_limit = 8 * c.workers;
  return c;
}

}  // namespace hsmca::appliance
