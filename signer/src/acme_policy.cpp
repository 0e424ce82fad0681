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
      d.rejected.emplace_back(id, checked.rejection());
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
