#pragma once
#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hsmca/appliance/config.hpp"

namespace hsmca::appliance {

inline constexpr std::string_view kRoleEnroll = "enroll";
inline constexpr std::string_view kRoleAdmin = "admin";

// Who made a request, as far as the appliance could establish it.
struct Identity {
  enum class Kind { none, client_certificate, bearer_token };
  Kind kind = Kind::none;
  // client certificate subject CN, or "token:<ROLES>:<first 8 hex of its hash>"
  // (ROLES joined by '+' when one token holds several, e.g. "token:enroll+admin:1a2b3c4d")
  std::string name;
  std::vector<std::string> roles;  // sorted, no duplicates
  bool has_role(std::string_view role) const;
  // For logs and the ledger's requester: "mtls:CN=ops-admin", "bearer:enroll:1a2b3c4d",
  // "anonymous". Control characters and backslashes in a CN come out as \xNN,
  // so a certificate cannot forge log lines. Never contains a token.
  std::string describe() const;
};

// Roles from client certificate CNs and API tokens. The token file holds lines
// "ROLE SHA256-HEX-OF-TOKEN" ('#' starts a comment; upper- or lowercase hex; one
// token may appear on several lines, once per role); only hashes are kept, and
// a presented token is hashed and compared in constant time.
//
// Immutable after from(): safe to share between threads.
class Authorizer {
 public:
  // Reads the tokens file (if any). ConfigError naming file and line on a bad line
  // (unknown role, hash not 64 hex digits, not exactly two fields).
  static Authorizer from(const ApplianceConfig& config);

  // A client certificate that already chained to client_ca in the handshake.
  // Kind client_certificate, with no roles when the CN is in no role's list.
  Identity for_client_certificate(const std::string& common_name) const;
  // The value after "Bearer ". none when the token is unknown.
  Identity for_bearer_token(std::string_view token) const;

 private:
  std::map<std::string, std::vector<std::string>> roles_;  // role -> CNs
  struct TokenEntry {
    std::string role;
    std::array<unsigned char, 32> hash;  // SHA-256 of the token
  };
  std::vector<TokenEntry> tokens_;
};

}  // namespace hsmca::appliance
