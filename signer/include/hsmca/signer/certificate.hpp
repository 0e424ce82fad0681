#pragma once
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/signed_object.hpp"
#include "hsmca/signer/signing_key.hpp"

namespace hsmca::signer {

// A subject or issuer name. Attributes are emitted in the conventional order
// C, ST, L, O, OU, CN; absent ones are left out, present ones may not be empty.
struct DistinguishedName {
  std::optional<std::string> country{};  // ISO 3166 alpha-2, e.g. "DE"
  std::optional<std::string> state{};
  std::optional<std::string> locality{};
  std::optional<std::string> organization{};
  std::optional<std::string> organizational_unit{};
  std::string common_name{};  // required
};

// Checks `name` and encodes it: country as PrintableString, the rest as
// UTF8String (RFC 5280 4.1.2.4), each within RFC 5280's upper bounds.
// Throws std::invalid_argument naming the offending attribute.
X509NamePtr to_x509_name(const DistinguishedName& name);

struct RootCertificateSpec {
  DistinguishedName subject;
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
};

// A certificate and its exact DER. The issue_* functions return only
// certificates that parsed, verified and re-encoded to the bytes that were
// signed; from_der wraps any certificate, such as a root read back from disk.
class IssuedCertificate {
 public:
  // Throws OpenSslError when `der` is not exactly one certificate.
  static IssuedCertificate from_der(std::span<const unsigned char> der);
  // A certificate this process assembled from a TBSCertificate it checked and
  // a signature it verified over exactly those bytes: parsed only when x509()
  // is first asked for (in OpenSSL 3.0 a parse costs a provider key decode,
  // which the issuance hot path does not need).
  static IssuedCertificate assembled(Bytes der, std::string serial_hex);

  X509* x509() const;  // parses on first use
  const Bytes& der() const noexcept { return der_; }
  std::string pem() const;
  std::string serial_hex() const;          // lowercase, no colons
  std::string sha256_fingerprint() const;  // lowercase hex of SHA-256(der)
  std::string subject() const;             // RFC 2253, "CN=Example Root,O=Example,C=DE"
  std::string not_before() const;          // RFC 3339 UTC, "2025-01-01T00:00:00Z"
  std::string not_after() const;

 private:
  struct Parsed {
    std::once_flag once;
    X509Ptr cert;
  };
  IssuedCertificate(X509Ptr cert, Bytes der);
  std::shared_ptr<Parsed> parsed_;  // shared: copies and moves keep one parse
  Bytes der_;                       // as signed; never re-encoded
  std::string serial_hex_;          // known without parsing when assembled here
};

// A self-signed root: v3, random positive serial, basicConstraints
// CA:TRUE and keyUsage keyCertSign+cRLSign (both critical), subject and
// authority key identifier = SHA-1 of the public key (RFC 5280 4.2.1.2 (1)).
// Signed through `key` and checked before it is returned: the signature
// verifies and the certificate re-encodes to exactly the signed bytes.
// std::invalid_argument for a bad spec or key; OpenSslError or VerificationError
// when the certificate cannot be made or does not check out.
IssuedCertificate issue_self_signed_ca(const SigningKey& key, const RootCertificateSpec& spec);

// Whether the certificate carries the same public key as `spki_der` (e.g. the
// key read back from the token), whatever the encoding details.
bool spki_matches(X509* cert, const Bytes& spki_der);

}  // namespace hsmca::signer
