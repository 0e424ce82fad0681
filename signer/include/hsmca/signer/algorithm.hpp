#pragma once
#include <span>

#include "hsmca/signer/openssl.hpp"
#include "hsmca/token/signature.hpp"

namespace hsmca::signer {

// The AlgorithmIdentifier a signature made with `scheme` is labelled with in
// certificates, CRLs and OCSP responses, in DER. Encodings as the CA/B Forum
// Baseline Requirements 7.1.3.2 spell them out byte for byte:
//   ECDSA         ecdsa-with-SHA256/384/512, parameters absent (RFC 5758 3.2)
//   RSA PKCS#1    sha256/384/512WithRSAEncryption, parameters NULL (RFC 4055 5)
//   RSASSA-PSS    full RSASSA-PSS-params: hash, MGF1 with the same hash,
//                 salt length = hash length, hash parameters NULL (RFC 4055 3.1)
//   Ed25519       id-Ed25519, parameters absent (RFC 8410 3)
std::span<const unsigned char> signature_algorithm_der(token::SignatureScheme scheme) noexcept;

// The same, parsed into a fresh X509_ALGOR.
X509AlgorPtr signature_algorithm(token::SignatureScheme scheme);

}  // namespace hsmca::signer
