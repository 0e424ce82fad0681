#pragma once
// Who may ask for which certificate, decided here once for every front end:
// EST, the JSON API, ACME and the CLI ask, they never decide.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hsmca/signer/outcome.hpp"
#include "hsmca/signer/profile.hpp"

namespace hsmca::signer {

// The roles a remote caller can hold. A profile's `requesters` names roles or
// identities (see Caller::identities).
inline constexpr std::string_view kRoleEnroll = "enroll";
inline constexpr std::string_view kRoleAdmin = "admin";
inline constexpr std::string_view kRoleAcme = "acme";
bool is_role(std::string_view name) noexcept;

// Who asks for a certificate, as the front end established it. A
// default-constructed Caller is a remote caller with no roles: it may request
// nothing, so a front end that forgets to say who asked gets a refusal.
struct Caller {
  bool local = false;  // the operator on the CA host (hsmca sign): every profile
  std::vector<std::string> roles;       // "enroll", "admin", "acme"
  std::vector<std::string> identities;  // "sha256:HEX" of a client certificate, "user:NAME"
  std::string description;              // who, for the ledger and logs; never a secret

  static Caller local_operator(std::string description);
};

// nullopt when `caller` may request certificates of `profile`: it is local, or
// one of its roles or identities is in the profile's `requesters`. Otherwise a
// Rejection "profile_forbidden" naming the profile and the rule. A profile
// without `requesters` is for the CA host's operator only.
std::optional<Rejection> authorize_profile(const Profile& profile, const Caller& caller);

// The profiles `caller` may request, in `profiles`' order (ACME's meta.profiles,
// error messages).
std::vector<std::string> requestable_profiles(const std::vector<Profile>& profiles, const Caller& caller);

}  // namespace hsmca::signer
