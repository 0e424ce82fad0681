#pragma once
// RFC 5280 revocation reasons: one type, one parser, one spelling, shared by
// the CLI, the API, the ledger and the CRL and OCSP encoders. No OpenSSL type
// here, so the ledger's header can carry a reason without pulling in X.509.
#include <optional>
#include <string>
#include <string_view>

namespace hsmca::signer {

// RFC 5280 5.3.1 CRLReason, with its code. Only the reasons a CA operator
// revokes an end-entity or subordinate CA certificate for: certificateHold
// (6) and removeFromCRL (8) belong to suspension, which hsmca does not do;
// aACompromise (10) is about attribute certificates.
enum class RevocationReason {
  unspecified = 0,
  key_compromise = 1,
  ca_compromise = 2,
  affiliation_changed = 3,
  superseded = 4,
  cessation_of_operation = 5,
  privilege_withdrawn = 9,
};

// The RFC's own spelling ("keyCompromise"), as the CLI takes it, the ledger
// stores it and `openssl crl -text` shows it ("Key Compromise").
std::string_view reason_name(RevocationReason reason) noexcept;
// nullopt for any other spelling (case matters, as in the RFC's ASN.1).
std::optional<RevocationReason> parse_revocation_reason(std::string_view name) noexcept;
// "unspecified, keyCompromise, ..." for error messages.
std::string revocation_reason_names();
inline int reason_code(RevocationReason reason) noexcept { return static_cast<int>(reason); }
// The reason a CRL entry's or OCSP response's reasonCode carries; nullopt for
// a code hsmca does not issue (certificateHold, removeFromCRL, aACompromise).
std::optional<RevocationReason> reason_from_code(long code) noexcept;

}  // namespace hsmca::signer
