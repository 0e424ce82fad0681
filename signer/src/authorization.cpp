#include "hsmca/signer/authorization.hpp"

#include <algorithm>

namespace hsmca::signer {
namespace {

bool listed(const std::vector<std::string>& requesters, const std::vector<std::string>& names) {
  return std::ranges::any_of(names, [&](const std::string& n) { return std::ranges::find(requesters, n) != requesters.end(); });
}

bool may_request(const Profile& profile, const Caller& caller) {
  return caller.local || listed(profile.requesters, caller.roles) || listed(profile.requesters, caller.identities);
}

}  // namespace

bool is_role(std::string_view name) noexcept { return name == kRoleEnroll || name == kRoleAdmin || name == kRoleAcme; }

Caller Caller::local_operator(std::string description) {
  Caller c;
  c.local = true;
  c.description = std::move(description);
  return c;
}

std::optional<Rejection> authorize_profile(const Profile& profile, const Caller& caller) {
  if (may_request(profile, caller)) return std::nullopt;
  if (profile.requesters.empty()) {
    return Rejection{"profile_forbidden", "profile \"" + profile.name +
                                              "\" names no requesters, so only `hsmca sign` on the CA host may use it"};
  }
  // Who else may is not the caller's business: the list may hold pins.
  return Rejection{"profile_forbidden", (caller.description.empty() ? std::string("the caller") : caller.description) +
                                            " may not request profile \"" + profile.name +
                                            "\": none of its roles or identities is among the profile's requesters"};
}

std::vector<std::string> requestable_profiles(const std::vector<Profile>& profiles, const Caller& caller) {
  std::vector<std::string> out;
  for (const auto& p : profiles) {
    if (may_request(p, caller)) out.push_back(p.name);
  }
  return out;
}

}  // namespace hsmca::signer
