#pragma once
// What a new full CRL of an issuer must keep of the issuer's previous one: the
// offline root's CRL ceremony asks this before its token is opened.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "hsmca/signer/revocation.hpp"

namespace hsmca::signer {

// Whether a full CRL numbered `number`, issued at `this_update` (unix seconds)
// and revoking `entries`, may follow `previous` (read_crl, its serials in the
// form `entries` uses; `previous_name` names it in messages, e.g. its path):
// - `previous` has a cRLNumber, and `number` is above it (RFC 5280 5.2.3: the
//   number increases with every CRL of an issuer);
// - `this_update` is not before the previous thisUpdate;
// - every serial the previous CRL revokes is in `entries`: a full CRL that
//   leaves one out tells relying parties the certificate is good again.
// `entries` nullopt checks the first two alone (a ceremony checks those as soon
// as it reads the previous CRL, before the entries are known). nullopt when the
// CRL may follow; otherwise the first rule broken, one line naming the
// ceremony file's setting (crl.number, crl.this_update, crl.revoked).
std::optional<std::string> crl_succession_problem(const CrlContents& previous, std::string_view previous_name,
                                                  std::int64_t number, std::int64_t this_update,
                                                  std::optional<std::span<const RevokedEntry>> entries);

}  // namespace hsmca::signer
