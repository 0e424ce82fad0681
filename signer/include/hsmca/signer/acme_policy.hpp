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
#include "hsmca/signer/ledger.hpp"
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

// The profiles an ACME account may order, in the CA file's order: those the
// operator offers over ACME (`offered`, appliance.acme.profiles) whose
// requesters list `acme` (authorize_profile with acme_caller). The
// directory's meta.profiles and what newOrder's "profile" may name
// (draft-aaron-acme-profiles).
std::vector<const Profile*> acme_orderable_profiles(const std::vector<Profile>& profiles,
                                                    const std::vector<std::string>& offered);
// A profile in one line, for meta.profiles: "90 days; server_auth". Not its
// name policy: the directory is public, and names a zone's internal suffixes.
std::string describe_profile(const Profile& profile);

// newOrder under `profile` for the account.
AcmeOrderDecision decide_acme_order(const Profile& profile, const std::string& account_id,
                                    const std::vector<AcmeIdentifier>& requested);

// Finalize (RFC 8555 7.4): the names the CA would grant for the CSR (the plan
// prepare made, CN included) must be exactly the order's identifiers.
// Rejection "bad_csr" naming the extra or missing names otherwise. (prepare
// keeps only the commonName of an ACME caller's subject: SubjectRule.)
std::optional<Rejection> check_acme_csr_names(const LeafPlan& plan, const std::vector<AcmeIdentifier>& identifiers);

// The reasons an ACME subscriber may give (RFC 8555 7.6, RFC 5280 5.3.1):
// unspecified, keyCompromise, affiliationChanged, superseded,
// cessationOfOperation. cACompromise is about CA certificates and
// privilegeWithdrawn is the CA's to say. Rejection "bad_revocation_reason"
// for any other.
std::optional<Rejection> check_acme_revocation_reason(RevocationReason reason);

// What an ACME account is told of a rejection: any account may ask for any
// name, so the message says a name is outside the profile, not which names
// are inside it (a zone's internal suffixes and address ranges are the
// operator's to publish).
Rejection told_to_acme_account(Rejection r);

// RFC 9773 5: may the account's new order for `identifiers` replace the
// certificate `cert_id` names (`replaced`: its ledger entry, when there is
// one)? Only a certificate the same account ordered, issued (revoked counts:
// it needs replacing most), sharing an identifier with the new order, and not
// already replaced by another order (AcmeStore::replaced at `now`).
// Rejections: "unauthorized" (one message whether the certificate is absent
// or another's), "malformed" (no identifier in common), "already_replaced".
std::optional<Rejection> check_acme_replacement(const AcmeStore& store, const std::string& cert_id,
                                                const std::optional<LedgerEntry>& replaced,
                                                const std::string& account_id,
                                                const std::vector<AcmeIdentifier>& identifiers, std::int64_t now);

// RFC 8555 7.6: who may revoke a certificate over ACME. `account_id` is the
// account that signed the request (kid), when it did; `signed_by_certificate_key`
// is true when the request was signed with the certificate's own key (jwk).
// Allowed for the account whose order the certificate came from, and for the
// holder of its key. Rejection "unauthorized" otherwise.
std::optional<Rejection> authorize_acme_revocation(const AcmeStore& store, const std::string& serial,
                                                   const std::optional<std::string>& account_id,
                                                   bool signed_by_certificate_key);

}  // namespace hsmca::signer
