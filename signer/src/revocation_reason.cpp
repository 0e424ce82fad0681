#include "hsmca/signer/revocation_reason.hpp"

#include <array>

namespace hsmca::signer {
namespace {

struct ReasonSpelling {
  RevocationReason reason;
  std::string_view name;
};
constexpr std::array<ReasonSpelling, 7> kReasons{{
    {RevocationReason::unspecified, "unspecified"},
    {RevocationReason::key_compromise, "keyCompromise"},
    {RevocationReason::ca_compromise, "cACompromise"},
    {RevocationReason::affiliation_changed, "affiliationChanged"},
    {RevocationReason::superseded, "superseded"},
    {RevocationReason::cessation_of_operation, "cessationOfOperation"},
    {RevocationReason::privilege_withdrawn, "privilegeWithdrawn"},
}};

}  // namespace

std::string_view reason_name(RevocationReason reason) noexcept {
  for (const auto& r : kReasons) {
    if (r.reason == reason) return r.name;
  }
  return "unspecified";
}

std::optional<RevocationReason> parse_revocation_reason(std::string_view name) noexcept {
  for (const auto& r : kReasons) {
    if (r.name == name) return r.reason;
  }
  return std::nullopt;
}

std::string revocation_reason_names() {
  std::string names;
  for (const auto& r : kReasons) {
    if (!names.empty()) names += ", ";
    names += r.name;
  }
  return names;
}

std::optional<RevocationReason> reason_from_code(long code) noexcept {
  for (const auto& r : kReasons) {
    if (reason_code(r.reason) == code) return r.reason;
  }
  return std::nullopt;
}

}  // namespace hsmca::signer
