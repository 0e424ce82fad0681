#include "hsmca/signer/crl_succession.hpp"

#include <algorithm>

#include "hsmca/signer/clock.hpp"

namespace hsmca::signer {

std::optional<std::string> crl_succession_problem(const CrlContents& previous, std::string_view previous_name,
                                                  std::int64_t number, std::int64_t this_update,
                                                  std::optional<std::span<const RevokedEntry>> entries) {
  if (previous.number < 1) return "crl.previous " + std::string(previous_name) + " has no CRL number to follow";
  if (number <= previous.number) {
    return "crl.number " + std::to_string(number) + " is not above the previous CRL's number " +
           std::to_string(previous.number) + " (" + std::string(previous_name) + "); use " +
           std::to_string(previous.number + 1);
  }
  if (this_update < previous.this_update) {
    return "crl.this_update is before the previous CRL's thisUpdate " + rfc3339(previous.this_update);
  }
  if (!entries) return std::nullopt;
  for (const auto& old : previous.entries) {
    if (std::ranges::none_of(*entries, [&](const RevokedEntry& e) { return e.serial_hex == old.serial_hex; })) {
      return "serial " + old.serial_hex + " is revoked on the previous CRL (" + std::string(reason_name(old.reason)) +
             ", " + rfc3339(old.revoked_at) + ") but missing from crl.revoked; list it again, or the new CRL un-revokes it";
    }
  }
  return std::nullopt;
}

}  // namespace hsmca::signer
