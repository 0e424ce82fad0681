#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "hsmca/token/key.hpp"

namespace hsmca::token {

// How a message is signed. ECDSA hashes in software and signs with CKM_ECDSA
// (SoftHSM 2.6.1 has no CKM_ECDSA_SHA256); RSA and EdDSA hand the whole message
// to the token.
enum class SignatureScheme {
  rsa_pkcs1_sha256, rsa_pkcs1_sha384, rsa_pkcs1_sha512,
  rsa_pss_sha256, rsa_pss_sha384, rsa_pss_sha512,
  ecdsa_sha256, ecdsa_sha384, ecdsa_sha512,
  ed25519,
};

std::string_view scheme_name(SignatureScheme scheme) noexcept;  // "ecdsa-sha384", "rsa-pss-sha256", ...
std::optional<SignatureScheme> parse_scheme(std::string_view name) noexcept;
std::string scheme_names();
// ecdsa-sha256 for P-256, ecdsa-sha384 for P-384, rsa-pkcs1-sha256 for RSA, ed25519.
SignatureScheme default_scheme(KeyType type) noexcept;
// Whether the scheme can be used with a key of this type.
bool scheme_fits(SignatureScheme scheme, KeyType type) noexcept;
// The key type a stored key's description names (nullopt for types we do not generate).
std::optional<KeyType> key_type_of(const KeyDescription& key) noexcept;

// C_SignInit + C_Sign. Returns the signature as X.509 carries it: ECDSA as a
// DER ECDSA-Sig-Value (converted from the token's raw r||s), RSA and Ed25519 as is.
Bytes sign(Session& session, CK_OBJECT_HANDLE private_key, SignatureScheme scheme,
           std::span<const unsigned char> message);

}  // namespace hsmca::token
