#pragma once
// Public-key attributes <-> SubjectPublicKeyInfo. Private to token/: callers
// see only KeyDescription::spki_der.
#include <string>

#include "hsmca/token/key.hpp"

namespace hsmca::token {

// DER CKA_EC_PARAMS (the curve's OID) for an EC or Edwards key type.
Bytes curve_params_der(KeyType type);

struct PublicKey {
  std::string type_name;  // "ec-p256", "rsa-2048", "ed25519", "ec-p521", ...
  Bytes spki_der;
};

// Reads CKA_KEY_TYPE and the public attributes of a public key object
// (CKA_MODULUS/CKA_PUBLIC_EXPONENT, or CKA_EC_PARAMS/CKA_EC_POINT).
PublicKey read_public_key(Session& session, CK_OBJECT_HANDLE public_key);

}  // namespace hsmca::token
