#pragma once
// How a token::SignatureScheme maps onto OpenSSL's EVP digest-sign API: shared
// by the software key and by the check every signature passes before it is used.
#include "hsmca/signer/openssl.hpp"
#include "hsmca/token/signature.hpp"

namespace hsmca::signer::detail {

// nullptr for Ed25519: PureEdDSA takes the whole message (RFC 8032 5.1).
const EVP_MD* scheme_digest(token::SignatureScheme scheme) noexcept;

// Throws std::invalid_argument unless `key` is of the family the scheme signs
// with (EC for ECDSA, RSA for PKCS#1 and PSS, Ed25519).
void require_scheme_fits(const EVP_PKEY* key, token::SignatureScheme scheme);

enum class Direction { sign, verify };

// EVP_DigestSignInit / EVP_DigestVerifyInit with the scheme's digest, padding
// and, for PSS, MGF1 and salt length (RFC 4055 parameters we put in certificates).
EvpMdCtxPtr digest_context(EVP_PKEY* key, token::SignatureScheme scheme, Direction direction);

}  // namespace hsmca::signer::detail
