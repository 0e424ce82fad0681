#pragma once
// What an ACME account may order, decided here like every other request
// (SECURITY-NOTES "Decide once, in signer"): the account acts under the role
// `acme`, so a profile is orderable only when its requesters list `acme`;
// every identifier goes through the profile's name policy before an order
// exists; the finalize CSR must name exactly the order's identifiers.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hsmca/signer/acme_store.hpp"
#include "hsmca/signer/authorization.hpp"
#include "hsmca/signer/leaf.hpp"
#include "hsmca/signer/outcome.hpp"
#include "hsmca/signer/profile.hpp"

namespace hsmca::signer {

// The caller an ACME account is: role acme, described (and recorded in the
// ledger as requester) "acme:ACCOUNT-ID".
Caller acme_caller(const std::string& account_id);

struct AcmeOrderDecision {
  // The whole order refused: the profile is not orderable over ACME
  // (profile_forbidden), or the identifier list is unusable (malformed).
  std::optional<Rejection> refused{};
  // Identifiers the name policy refuses, each with its reason (name_policy):
  // RFC 8555 rejectedIdentifier with one subproblem each.
  std::vector<std::pair<AcmeIdentifier, Rejection>> rejected{};
  // The identifiers granted, canonical ("*.Example.TEST" -> "*.example.test"),
  // duplicates dropped, in request order: valid only when nothing was refused.
  std::vector<AcmeIdentifier> identifiers{};

  bool ok() const noexcept { return !refused && rejected.empty(); }
};

inline constexpr std::size_t kMaxAcmeIdentifiers = 100;

// newOrder under `profile` for the account.
AcmeOrderDecision decide_acme_order(const Profile& profile, const std::string& account_id,
                                    const std::vector<AcmeIdentifier>& requested);

// Finalize (RFC 8555 7.4): the names the CA would grant for the CSR (the plan
// prepare made, CN included) must be exactly the order's identifiers.
// Rejection "bad_csr" naming the extra or missing names otherwise.
std::optional<Rejection> check_acme_csr_names(const LeafPlan& plan, const std::vector<AcmeIdentifier>& identifiers);

// RFC 8555 7.6: who may revoke a certificate over ACME. `account_id` is the
// account that signed the request (kid), when it did; `signed_by_certificate_key`
// is true when the request was signed with the certificate's own key (jwk).
// Allowed for the account whose order the certificate came from, and for the
// holder of its key. Rejection "unauthorized" otherwise.
std::optional<Rejection> authorize_acme_revocation(const AcmeStore& store, const std::string& serial,
                                                   const std::optional<std::string>& account_id,
                                                   bool signed_by_certificate_key);

}  // namespace hsmca::signer
