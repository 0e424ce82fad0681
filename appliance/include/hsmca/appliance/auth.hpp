#pragma once
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/x509.h>

#include "hsmca/appliance/config.hpp"
#include "hsmca/signer/authorization.hpp"
#include "hsmca/signer/openssl.hpp"

namespace hsmca::appliance {

using signer::kRoleAdmin;
using signer::kRoleEnroll;

// Who made a request, as far as the appliance could establish it.
struct Identity {
  enum class Kind { none, client_certificate, bearer_token, password };
  Kind kind = Kind::none;
  // client certificate subject CN, the htpasswd user name, or "token:<ROLES>:<first 8 hex of its hash>"
  // (ROLES joined by '+' when one token holds several, e.g. "token:enroll+admin:1a2b3c4d")
  std::string name;
  std::string fingerprint;         // client certificate: lowercase hex SHA-256 of its DER
  std::vector<std::string> roles;  // sorted, no duplicates
  bool has_role(std::string_view role) const;
  // What signer's decisions need: the roles, the identity a profile's
  // requesters may name ("sha256:HEX", "user:NAME"), and describe().
  signer::Caller caller() const;
  // For logs and the ledger's requester: "mtls:CN=ops-admin", "bearer:enroll:1a2b3c4d",
  // "basic:device-bootstrap", "anonymous". Control characters and backslashes in a CN come out as \xNN,
  // so a certificate cannot forge log lines. Never contains a token.
  std::string describe() const;
};

// Roles from client certificates and API tokens. A role's list in
// appliance.auth.roles names client certificates by "sha256:HEX" (the
// certificate's fingerprint: nobody can enroll for a certificate with a given
// fingerprint), by "*" (any valid client certificate; the enroll role only) or
// by bare CN (only when client_ca trusts no certificate of this CA — else any
// enroll caller could obtain that CN). The token file holds lines
// "ROLE SHA256-HEX-OF-TOKEN" ('#' starts a comment; upper- or lowercase hex; one
// token may appear on several lines, once per role); only hashes are kept, and
// a presented token is hashed and compared in constant time.
//
// Immutable after from(): safe to share between threads.
class Authorizer {
 public:
  // Reads the tokens file (if any). ConfigError naming file and line on a bad line
  // (unknown role, hash not 64 hex digits, not exactly two fields). With the
  // CA's own certificates (issuer and chain): ConfigError when a role is
  // granted by bare CN while client_ca holds one of them.
  static Authorizer from(const ApplianceConfig& config, const std::vector<signer::X509Ptr>& ca_certificates = {});

  // A client certificate that already chained to client_ca in the handshake.
  // Kind client_certificate, with no roles when it is in no role's list. A
  // certificate with more than one CN is matched by fingerprint only.
  Identity for_client_certificate(X509* certificate) const;
  Identity for_client_certificate(const std::string& common_name, const std::string& fingerprint) const;
  // The value after "Bearer ". none when the token is unknown.
  Identity for_bearer_token(std::string_view token) const;
  // An htpasswd user whose password was verified: the roles that name "user:NAME".
  Identity for_user(const std::string& name) const;

 private:
  std::map<std::string, std::vector<std::string>> roles_;  // role -> "*", "sha256:HEX" or CNs
  // This CA's subject: its certificates' CNs grant nothing.
  std::shared_ptr<X509_NAME> issuer_name_;
  struct TokenEntry {
    std::string role;
    std::array<unsigned char, 32> hash;  // SHA-256 of the token
  };
  std::vector<TokenEntry> tokens_;
};

}  // namespace hsmca::appliance
