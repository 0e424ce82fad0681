#pragma once
// When a certificate should be renewed (ACME Renewal Information, RFC 9773):
// the CA's suggestion, decided here so that every front end that offers it
// (ACME's renewalInfo today) says the same.
#include <cstdint>
#include <optional>
#include <string>

#include "hsmca/signer/ledger.hpp"

namespace hsmca::signer {

struct RenewalSuggestion {
  std::int64_t start = 0;  // unix seconds; end > start always (RFC 9773 4.2)
  std::int64_t end = 0;
  std::int64_t retry_after = 0;  // seconds until the client should ask again
  // Why the window is not the usual one, for the log; empty when it is.
  std::string reason{};
};

// What the issuer the certificate was filed under means for it.
struct IssuerStanding {
  bool current = true;  // false: issued by a key this CA no longer signs with
  std::optional<std::int64_t> not_after{};  // the issuer certificate's, when known
};

// The usual window runs from 2/3 to 5/6 of the way from notBefore to
// notAfter (for 90 days, days 60 to 75): clients spread over two weeks and
// still have two more to retry in. It moves:
//   - to the past (renew now) when the certificate is revoked;
//   - to start now, spread over a third of what is left of its life (an hour
//     to a week), when its issuer is no longer the CA's signing key;
//   - earlier, when the issuer's certificate expires before the certificate
//     does: the window is taken over the life that chain can actually verify.
// Clients are asked to look again after a twelfth of the life, between one
// minute and six hours.
RenewalSuggestion suggest_renewal(const LedgerEntry& entry, const IssuerStanding& issuer, std::int64_t now);

}  // namespace hsmca::signer
