#pragma once
// Revocation: the CRLs the CA signs (the reasons are in revocation_reason.hpp).
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hsmca/signer/leaf.hpp"
#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/revocation_reason.hpp"

namespace hsmca::signer {

struct RevokedEntry {
  std::string serial_hex;  // lowercase, as the ledger stores it
  std::int64_t revoked_at = 0;  // unix seconds
  RevocationReason reason = RevocationReason::unspecified;
};

// A signed CRL and its exact DER.
struct IssuedCrl {
  Bytes der;
  std::int64_t number = 0;
  std::int64_t this_update = 0;  // unix seconds
  std::int64_t next_update = 0;
  std::size_t entries = 0;
  std::string pem() const;  // "-----BEGIN X509 CRL-----"
};

// A full v2 CRL (RFC 5280 5.1) for `issuer`: issuer name = the issuer
// certificate's subject, thisUpdate/nextUpdate (whole seconds), the entries
// sorted by serial, each with its revocationDate and a reasonCode extension —
// none for unspecified, as RFC 5280 5.3.1 asks ("SHOULD be absent instead of
// using the unspecified (0) reasonCode value"). CRL extensions: AKI with the
// issuer's key identifier (its SKI) and crlNumber (both non-critical, 5.2.1,
// 5.2.3). Signed through issuer.key with its scheme; the result is parsed
// back, must re-encode to exactly the signed TBSCertList and verify under the
// issuer certificate's public key. std::invalid_argument for a bad serial,
// crl_number < 1 or next_update not after this_update; VerificationError or
// OpenSslError when the CRL cannot be made or does not check out.
IssuedCrl issue_crl(const IssuerContext& issuer, std::span<const RevokedEntry> entries, std::int64_t crl_number,
                    std::chrono::system_clock::time_point this_update,
                    std::chrono::system_clock::time_point next_update);

// A CRL read back and checked against its issuer: what the next CRL must
// follow (its number) and what a freshly signed one is compared with.
struct CrlContents {
  Bytes der;
  std::int64_t number = 0;       // cRLNumber; 0 when the CRL has none
  std::int64_t this_update = 0;  // unix seconds
  std::int64_t next_update = 0;  // 0 when absent
  std::vector<RevokedEntry> entries;  // in the CRL's order; serials lowercase hex as serial_hex prints them
};

// Parses exactly one CRL, PEM or DER, and checks that `issuer` issued it: the
// issuer name is its subject and the signature verifies under its public key.
// std::invalid_argument naming what is wrong: not a CRL, another issuer's, a
// bad signature, a cRLNumber beyond 63 bits, an entry with a reason hsmca
// does not know (certificateHold, removeFromCRL, aACompromise).
CrlContents read_crl(std::span<const unsigned char> pem_or_der, X509* issuer);

}  // namespace hsmca::signer
