#pragma once
#include <span>
#include <stdexcept>

#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/signing_key.hpp"

namespace hsmca::signer {

// A freshly signed object failed a check it must pass before it is handed out:
// the signature does not verify under the key's public key (the token signed
// with another key, or returned garbage), or the object does not parse or
// re-encode to exactly the bytes that were signed.
class VerificationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Signs `tbs_der` and returns SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING },
// the SIGNED{} shape shared by Certificate (RFC 5280 4.1), CertificateList
// (RFC 5280 5.1) and BasicOCSPResponse without certs (RFC 6960 4.2.1). The TBS
// must already name signature_algorithm(key.scheme()) wherever its own syntax
// repeats it. The signature is verified under key.spki_der() before it is used;
// VerificationError otherwise.
Bytes sign_tbs(const SigningKey& key, std::span<const unsigned char> tbs_der);

// Whether `signature` over `message` verifies under the SubjectPublicKeyInfo
// `spki_der` with `scheme`'s digest and padding.
bool verify_signature(const Bytes& spki_der, token::SignatureScheme scheme,
                      std::span<const unsigned char> message, std::span<const unsigned char> signature);

}  // namespace hsmca::signer
