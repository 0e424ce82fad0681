#include "hsmca/appliance/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <fstream>

#include "hsmca/signer/certificate_authority.hpp"

#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::appliance {
using signer::ConfigError;

namespace {

constexpr std::string_view kWhitespace = " \t\r\n\v\f";

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  while (true) {
    const auto start = line.find_first_not_of(kWhitespace);
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    const auto end = std::min(line.find_first_of(kWhitespace), line.size());
    out.push_back(line.substr(0, end));
    line.remove_prefix(end);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_sha256_hex(std::string_view hex, std::array<unsigned char, 32>& out) {
  if (hex.size() != out.size() * 2) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

bool is_role(std::string_view role) { return role == kRoleEnroll || role == kRoleAdmin; }

// The subject's CN when it has exactly one: with two, which one a reader
// takes differs between programs, so neither names anybody.
std::string only_common_name(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  const int first = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (first < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, first) >= 0) return {};
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, first)));
  if (len < 0) {
    signer::drain_openssl_errors();
    return {};
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

// Whether client_ca trusts this CA: then anybody who may enroll can obtain a
// client certificate that passes the handshake, with a CN of their choosing.
// Decided by verification, not by comparing files: client_ca may hold the
// root while the CA file lists no chain, or a re-issued certificate of the
// same key. ca_certificates: the issuer first, then the chain above it.
bool trusts_this_ca(const std::filesystem::path& client_ca, const std::vector<signer::X509Ptr>& ca_certificates) {
  if (client_ca.empty() || ca_certificates.empty()) return false;
  std::unique_ptr<X509_STORE, signer::Free<X509_STORE_free>> store(X509_STORE_new());
  // The stack borrows the certificates: freed without them.
  struct FreeStack {
    void operator()(STACK_OF(X509) * stack) const noexcept { sk_X509_free(stack); }
  };
  std::unique_ptr<STACK_OF(X509), FreeStack> chain(sk_X509_new_null());
  std::unique_ptr<X509_STORE_CTX, signer::Free<X509_STORE_CTX_free>> ctx(X509_STORE_CTX_new());
  if (!store || !chain || !ctx) throw signer::OpenSslError("X509_STORE_new");
  for (const auto& trusted : signer::read_certificates(client_ca)) {
    if (X509_STORE_add_cert(store.get(), trusted.get()) != 1) signer::drain_openssl_errors();  // a duplicate
  }
  for (std::size_t i = 1; i < ca_certificates.size(); ++i) sk_X509_push(chain.get(), ca_certificates[i].get());
  if (X509_STORE_CTX_init(ctx.get(), store.get(), ca_certificates.front().get(), chain.get()) != 1) {
    throw signer::OpenSslError("X509_STORE_CTX_init");
  }
  // Any anchor in client_ca will do (an intermediate too); neither time nor
  // purpose matter to the question of who can reach the handshake.
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
  const bool trusted = X509_verify_cert(ctx.get()) == 1;
  signer::drain_openssl_errors();
  return trusted;
}

// A CN is chosen by whoever requested the client certificate; it must not be
// able to start a new log line or fake a field.
std::string printable(std::string_view text) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || c == '\\') {
      out += "\\x";
      out += kDigits[c >> 4];
      out += kDigits[c & 0x0f];
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

bool Identity::has_role(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

signer::Caller Identity::caller() const {
  signer::Caller c;
  c.roles = roles;
  if (kind == Kind::client_certificate && !fingerprint.empty()) c.identities.push_back("sha256:" + fingerprint);
  if (kind == Kind::password) c.identities.push_back("user:" + name);
  c.description = describe();
  return c;
}

std::string Identity::describe() const {
  switch (kind) {
    case Kind::client_certificate:
      // The fingerprint's start tells two certificates with one CN apart.
      return "mtls:CN=" + printable(name) + (fingerprint.empty() ? "" : ";sha256=" + fingerprint.substr(0, 16));
    case Kind::bearer_token: {
      // name is "token:<ROLES>:<hash prefix>", built here from the file's roles and the hash.
      constexpr std::string_view kPrefix = "token:";
      std::string_view rest = name;
      if (rest.substr(0, kPrefix.size()) == kPrefix) rest.remove_prefix(kPrefix.size());
      return "bearer:" + printable(rest);
    }
    case Kind::password:
      return "basic:" + printable(name);
    case Kind::none:
      break;
  }
  return "anonymous";
}

Authorizer Authorizer::from(const ApplianceConfig& config, const std::vector<signer::X509Ptr>& ca_certificates) {
  Authorizer a;
  a.roles_ = config.roles;
  if (!ca_certificates.empty()) {
    a.issuer_name_.reset(X509_NAME_dup(X509_get_subject_name(ca_certificates.front().get())), X509_NAME_free);
    if (!a.issuer_name_) throw signer::OpenSslError("X509_NAME_dup");
  }
  if (trusts_this_ca(config.client_ca, ca_certificates)) {
    // Whoever passes one ACME challenge would hold a client certificate this
    // appliance trusts, and with it whatever "*" grants.
    if (config.acme && !config.acme->client_certificates.empty()) {
      throw ConfigError("appliance.acme: profile '" + config.acme->client_certificates.front() +
                        "' gives client_auth certificates over ACME, and client_ca trusts this CA, so any ACME "
                        "account could authenticate here with one; offer ACME only server profiles, or trust "
                        "another CA for client certificates");
    }
    for (const auto& [role, names] : config.roles) {
      for (const auto& n : names) {
        if (n == "*" || n.starts_with("sha256:") || n.starts_with("user:")) continue;
        throw ConfigError("appliance.auth.roles." + role + ": '" + n + "' grants " + role +
                          " by common name, but client_ca trusts this CA, so anyone allowed to enroll could get a "
                          "certificate with that name; pin the certificate instead: \"sha256:FINGERPRINT\" "
                          "(openssl x509 -in CERT -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)");
      }
    }
  }
  if (config.tokens_file.empty()) return a;

  const std::string file = config.tokens_file.string();
  std::ifstream in(config.tokens_file);
  if (!in) throw ConfigError("cannot read the tokens file " + file);
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    const auto where = [&] { return file + ":" + std::to_string(number) + ": "; };
    std::string_view content(line);
    content = content.substr(0, content.find('#'));
    const auto parts = fields(content);
    if (parts.empty()) continue;
    if (parts.size() != 2) throw ConfigError(where() + "expected ROLE SHA256-HEX (two fields), found " + std::to_string(parts.size()));
    if (!is_role(parts[0])) {
      // Not repeated: a token pasted into the wrong column would be printed.
      throw ConfigError(where() + "the first field is not a role (the roles are enroll and admin)");
    }
    TokenEntry entry{std::string(parts[0]), {}};
    // The value is never echoed: someone may have pasted the token itself here.
    if (!parse_sha256_hex(parts[1], entry.hash)) {
      throw ConfigError(where() + "the token hash must be 64 hex digits (the SHA-256 of the token, e.g. from sha256sum)");
    }
    const bool duplicate = std::any_of(a.tokens_.begin(), a.tokens_.end(), [&](const TokenEntry& e) {
      return e.role == entry.role && e.hash == entry.hash;
    });
    if (!duplicate) a.tokens_.push_back(std::move(entry));
  }
  if (in.bad()) throw ConfigError("cannot read the tokens file " + file);
  return a;
}

Identity Authorizer::for_client_certificate(X509* certificate) const {
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  if (X509_digest(certificate, EVP_sha256(), digest.data(), &length) != 1 || length != digest.size()) {
    signer::drain_openssl_errors();
    return {};
  }
  // A certificate of this CA is what any enroll caller can get: its CN names
  // nobody, whatever the configuration says.
  const bool ours = issuer_name_ && X509_NAME_cmp(X509_get_issuer_name(certificate), issuer_name_.get()) == 0;
  const std::string common_name = only_common_name(certificate);
  Identity id = for_client_certificate(ours ? std::string() : common_name,
                                       signer::to_hex(std::span<const unsigned char>(digest)));
  id.name = common_name;  // still shown in logs and the ledger
  return id;
}

Identity Authorizer::for_client_certificate(const std::string& common_name, const std::string& fingerprint) const {
  Identity id;
  id.kind = Identity::Kind::client_certificate;
  id.name = common_name;
  id.fingerprint = fingerprint;
  const std::string pin = "sha256:" + fingerprint;
  for (const auto& [role, names] : roles_) {
    const bool granted = std::any_of(names.begin(), names.end(), [&](const std::string& n) {
      if (n == "*") return true;
      // A pin matches the fingerprint only: a CN may spell "sha256:..." too.
      if (n.starts_with("sha256:")) return !fingerprint.empty() && n == pin;
      if (n.starts_with("user:")) return false;  // a password user, never a certificate's CN
      return !common_name.empty() && n == common_name;
    });
    if (granted) id.roles.push_back(role);
  }
  return id;
}

Identity Authorizer::for_bearer_token(std::string_view token) const {
  if (token.empty() || tokens_.empty()) return {};
  std::array<unsigned char, 32> hash{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), hash.data());

  // Every entry is compared, each in constant time: where (and whether) the
  // token matched does not show in how long the comparisons took.
  std::vector<std::string> roles;
  for (const auto& entry : tokens_) {
    if (CRYPTO_memcmp(entry.hash.data(), hash.data(), hash.size()) == 0) roles.push_back(entry.role);
  }
  if (roles.empty()) return {};
  std::sort(roles.begin(), roles.end());
  roles.erase(std::unique(roles.begin(), roles.end()), roles.end());

  Identity id;
  id.kind = Identity::Kind::bearer_token;
  id.name = "token:";
  for (std::size_t i = 0; i < roles.size(); ++i) {
    if (i > 0) id.name += '+';
    id.name += roles[i];
  }
  id.name += ":" + signer::to_hex(std::span<const unsigned char>(hash.data(), 4));
  id.roles = std::move(roles);
  return id;
}

Identity Authorizer::for_user(const std::string& name) const {
  Identity id;
  id.kind = Identity::Kind::password;
  id.name = name;
  const std::string entry = "user:" + name;
  for (const auto& [role, names] : roles_) {
    if (std::find(names.begin(), names.end(), entry) != names.end()) id.roles.push_back(role);
  }
  return id;
}

}  // namespace hsmca::appliance
