#include "hsmca/signer/acme_policy.hpp"

#include <algorithm>
#include <set>

#include "hsmca/signer/name_policy.hpp"

namespace hsmca::signer {
namespace {

std::string san_of(const AcmeIdentifier& id) {
  return (id.type == AcmeIdentifierType::dns ? "DNS:" : "IP:") + id.value;
}

std::string listing(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

Rejection told_to_acme_account(Rejection r) {
  for (const char* tail : {" (allowed: ", " (it allows no "}) {
    const auto at = r.message.find(tail);
    if (at != std::string::npos && r.message.find(" is outside profile ") < at) r.message.erase(at);
  }
  return r;
}

std::optional<Rejection> check_acme_revocation_reason(RevocationReason reason) {
  switch (reason) {
    case RevocationReason::unspecified:
    case RevocationReason::key_compromise:
    case RevocationReason::affiliation_changed:
    case RevocationReason::superseded:
    case RevocationReason::cessation_of_operation:
      return std::nullopt;
    case RevocationReason::ca_compromise:
    case RevocationReason::privilege_withdrawn:
      break;
  }
  return Rejection{"bad_revocation_reason",
                   std::string(reason_name(reason)) +
                       " is not a subscriber's reason; over ACME: unspecified (0), keyCompromise (1), "
                       "affiliationChanged (3), superseded (4), cessationOfOperation (5)"};
}

Caller acme_caller(const std::string& account_id) {
  Caller c;
  c.roles = {std::string(kRoleAcme)};
  c.description = "acme:" + account_id;
  return c;
}

AcmeOrderDecision decide_acme_order(const Profile& profile, const std::string& account_id,
                                    const std::vector<AcmeIdentifier>& requested) {
  AcmeOrderDecision d;
  if (auto refused = authorize_profile(profile, acme_caller(account_id))) {
    d.refused = std::move(*refused);
    return d;
  }
  if (requested.empty()) {
    d.refused = Rejection{"malformed", "an order needs at least one identifier"};
    return d;
  }
  if (requested.size() > kMaxAcmeIdentifiers) {
    d.refused = Rejection{"malformed", "an order may name at most " + std::to_string(kMaxAcmeIdentifiers) +
                                           " identifiers"};
    return d;
  }
  for (const auto& id : requested) {
    const SubjectAltName san{id.type == AcmeIdentifierType::dns ? SubjectAltName::Kind::dns : SubjectAltName::Kind::ip,
                             id.value};
    auto checked = check_name(san, profile.names, profile.name);
    if (!checked.ok()) {
      d.rejected.emplace_back(id, told_to_acme_account(checked.rejection()));
      continue;
    }
    AcmeIdentifier canonical{id.type, checked.value().value};
    if (std::find(d.identifiers.begin(), d.identifiers.end(), canonical) == d.identifiers.end()) {
      d.identifiers.push_back(std::move(canonical));
    }
  }
  return d;
}

std::optional<Rejection> check_acme_csr_names(const LeafPlan& plan, const std::vector<AcmeIdentifier>& identifiers) {
  std::set<std::string> wanted, granted(plan.sans.begin(), plan.sans.end());
  for (const auto& id : identifiers) wanted.insert(san_of(id));
  if (wanted == granted) return std::nullopt;
  std::set<std::string> extra, missing;
  std::set_difference(granted.begin(), granted.end(), wanted.begin(), wanted.end(), std::inserter(extra, extra.end()));
  std::set_difference(wanted.begin(), wanted.end(), granted.begin(), granted.end(),
                      std::inserter(missing, missing.end()));
  std::string message = "the CSR must name exactly the order's identifiers (" + listing(wanted) + ")";
  if (!extra.empty()) message += "; not in the order: " + listing(extra);
  if (!missing.empty()) message += "; missing: " + listing(missing);
  return Rejection{"bad_csr", message};
}

std::vector<const Profile*> acme_orderable_profiles(const std::vector<Profile>& profiles,
                                                    const std::vector<std::string>& offered) {
  std::vector<const Profile*> out;
  const Caller acme = acme_caller("");
  for (const auto& p : profiles) {
    const bool listed = std::find(offered.begin(), offered.end(), p.name) != offered.end();
    if (listed && !authorize_profile(p, acme)) out.push_back(&p);
  }
  return out;
}

std::string describe_profile(const Profile& profile) {
  std::string out = std::to_string(profile.validity_days) + (profile.validity_days == 1 ? " day" : " days");
  std::string ekus;
  for (auto eku : profile.extended_key_usage) ekus += (ekus.empty() ? "" : ", ") + std::string(eku_name(eku));
  if (!ekus.empty()) out += "; " + ekus;
  return out;
}

std::optional<Rejection> check_acme_replacement(const AcmeStore& store, const std::string& cert_id,
                                                const std::optional<LedgerEntry>& replaced,
                                                const std::string& account_id,
                                                const std::vector<AcmeIdentifier>& identifiers, std::int64_t now) {
  // One answer whether the certificate is absent, another account's or not
  // ACME's: "replaces" is no way to learn what the ledger holds.
  const Rejection not_yours{"unauthorized", "\"replaces\" (" + cert_id +
                                                ") names no certificate this account ordered, so this order cannot "
                                                "replace it"};
  const bool issued = replaced && (replaced->status == CertificateStatus::issued ||
                                   replaced->status == CertificateStatus::revoked);
  if (!issued) return not_yours;
  const auto order = store.order_for_certificate(replaced->record.serial);
  if (!order || order->account_id != account_id) return not_yours;
  std::set<std::string> old_names(replaced->record.sans.begin(), replaced->record.sans.end());
  const bool shared = std::any_of(identifiers.begin(), identifiers.end(),
                                  [&](const AcmeIdentifier& id) { return old_names.contains(san_of(id)); });
  if (!shared) {
    return Rejection{"malformed", "the order shares no identifier with certificate " + replaced->record.serial +
                                      ", which it says it replaces"};
  }
  if (store.replaced(cert_id, now)) {
    return Rejection{"already_replaced", "certificate " + replaced->record.serial + " was already replaced by another order"};
  }
  return std::nullopt;
}

std::optional<Rejection> authorize_acme_revocation(const AcmeStore& store, const std::string& serial,
                                                   const std::optional<std::string>& account_id,
                                                   bool signed_by_certificate_key) {
  if (signed_by_certificate_key) return std::nullopt;
  if (account_id) {
    const auto order = store.order_for_certificate(serial);
    if (order && order->account_id == *account_id) return std::nullopt;
  }
  return Rejection{"unauthorized", "certificate " + serial +
                                       " may be revoked over ACME only by the account that ordered it or with "
                                       "the certificate's own key"};
}

}  // namespace hsmca::signer
