#pragma once
// PKCS#10 certificate requests: reading and checking what a requester sends,
// and making one for a key in the token (the csr ceremony).
#include <openssl/x509.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hsmca/signer/certificate.hpp"
#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/outcome.hpp"
#include "hsmca/signer/signing_key.hpp"

namespace hsmca::signer {

using X509ReqPtr = std::unique_ptr<X509_REQ, Free<X509_REQ_free>>;

struct SubjectAltName {
  enum class Kind { dns, ip, email, uri };
  Kind kind;
  std::string value;  // IP addresses in text form: "10.0.0.1", "2001:db8::1"
  std::string str() const;  // "DNS:web.example.test", "IP:10.0.0.1", "email:a@b", "URI:https://..."
  bool operator==(const SubjectAltName&) const = default;
};

// A request that parsed, whose self-signature verifies (proof of possession)
// and whose key passed the key policy. What it asks for is not yet granted:
// the CA decides the certificate's contents (see leaf.hpp).
struct CertificateRequest {
  // Its X509_PUBKEY may carry no decoded key (X509_REQ_get0_pubkey gives
  // nullptr when the fast reading built it): use public_key.
  X509ReqPtr request;
  EvpPkeyPtr public_key;                // the requester's key, as read and checked
  Bytes spki_der;
  std::string key_type;                 // "ec-p256", "ec-p384", "ec-p521", "rsa-2048", "rsa-3072", ..., "ed25519"
  bool rsa = false;
  std::vector<SubjectAltName> sans;     // requested in the extensionRequest attribute
  bool requests_ca = false;             // asked for basicConstraints CA:TRUE (never granted)
  X509_NAME* subject() const;           // owned by `request`
  std::string subject_text() const;     // RFC 2253; empty for an empty subject
  std::string common_name() const;      // the last CN, empty when none
};

inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;

// Reads PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST") or DER, at
// most kMaxRequestBytes, nothing trailing. Rejection codes:
//   request_too_large, malformed_request, bad_signature (proof of possession
//   fails), key_policy (RSA outside 2048..16384 bits or exponent != 65537; EC
//   other than P-256/P-384/P-521 or a point not on the curve; any other key
//   type than RSA, EC and Ed25519), unsupported_san (otherName, x400, ...).
// The key policy is checked before the signature, so no verification work is
// spent on a key that is refused anyway. Malformed input is a Rejection, never
// an exception; only an internal OpenSSL failure (out of memory) throws.
Outcome<CertificateRequest> parse_certificate_request(std::span<const unsigned char> data);
// The same for a body held as text (an HTTP body, a file read into a string).
Outcome<CertificateRequest> parse_certificate_request(std::string_view pem_or_der);

// A PKCS#10 request for `key`'s public key with `subject`, signed through `key`
// (for the csr ceremony: the key is in the token). DER.
Bytes make_certificate_request(const SigningKey& key, const DistinguishedName& subject);

}  // namespace hsmca::signer
