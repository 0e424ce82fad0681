#include "hsmca/signer/revocation_reason.hpp"

#include "hsmca/token/enum_names.hpp"

namespace hsmca::signer {
namespace {

// RFC 5280's own spellings, as the CLI, the API and the ledger take them.
constexpr token::EnumNames<RevocationReason, 7> kReasons{{{
    {RevocationReason::unspecified, "unspecified"},
    {RevocationReason::key_compromise, "keyCompromise"},
    {RevocationReason::ca_compromise, "cACompromise"},
    {RevocationReason::affiliation_changed, "affiliationChanged"},
    {RevocationReason::superseded, "superseded"},
    {RevocationReason::cessation_of_operation, "cessationOfOperation"},
    {RevocationReason::privilege_withdrawn, "privilegeWithdrawn"},
}}};

}  // namespace

std::string_view reason_name(RevocationReason reason) noexcept { return kReasons.name(reason); }

std::optional<RevocationReason> parse_revocation_reason(std::string_view name) noexcept { return kReasons.parse(name); }

std::string revocation_reason_names() { return kReasons.list(); }

std::optional<RevocationReason> reason_from_code(long code) noexcept {
  for (const auto& [reason, name] : kReasons.entries()) {
    if (reason_code(reason) == code) return reason;
  }
  return std::nullopt;
}

}  // namespace hsmca::signer
