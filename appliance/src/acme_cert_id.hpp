#pragma once
// ACME's name for a certificate in renewal information (RFC 9773 4.1):
// base64url(the authority key identifier's keyIdentifier) "." base64url(the
// serial number's DER content octets), both without padding.
#include <openssl/x509.h>

#include <optional>
#include <string>
#include <string_view>

namespace hsmca::appliance::acme {

// A certID read as the ledger files certificates: the issuer's key
// identifier and the serial, lowercase hex (signer's issuer_id and serial_hex).
struct CertId {
  std::string issuer_id;
  std::string serial;
};

// nullopt unless the text is two canonical base64url parts, the first 1–64
// octets, the second a positive INTEGER's minimal content octets (at most 21).
std::optional<CertId> parse_cert_id(std::string_view text);
// The certID of a certificate; empty when it has no authority key identifier.
std::string cert_id_of(X509* certificate);

}  // namespace hsmca::appliance::acme
