#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "hsmca/token/session.hpp"

namespace hsmca::token {

enum class KeyType { ec_p256, ec_p384, rsa_2048, rsa_3072, rsa_4096, ed25519 };

std::string_view key_type_name(KeyType type) noexcept;  // "ec-p256", ...
std::optional<KeyType> parse_key_type(std::string_view name) noexcept;
std::string key_type_names();  // "ec-p256, ec-p384, ..." for error messages

// Read back from the private key: what a relying party needs to believe the
// key was generated in the token and can never leave it.
struct KeyEvidence {
  bool local = false;
  bool sensitive = false;
  bool always_sensitive = false;
  bool extractable = true;
  bool never_extractable = false;
  // LOCAL, SENSITIVE, ALWAYS_SENSITIVE, NEVER_EXTRACTABLE true and EXTRACTABLE false.
  bool born_in_token() const noexcept {
    return local && sensitive && always_sensitive && never_extractable && !extractable;
  }
};

struct KeyPair {
  CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE;
  std::string label;
  Bytes id;  // CKA_ID shared by the pair
};

struct KeyDescription {
  std::string label;
  Bytes id;
  std::string type;  // key_type_name() when one of ours, else e.g. "ec-p521", "rsa-1024"
  KeyEvidence evidence;
  Bytes spki_der;    // SubjectPublicKeyInfo of the public key
};

// C_GenerateKeyPair with explicit templates: private key TOKEN, PRIVATE,
// SENSITIVE, SIGN; never EXTRACTABLE, DECRYPT, UNWRAP or DERIVE. Public key
// VERIFY only. A random 16-byte CKA_ID links the pair. Refuses (LookupError) a
// label that any key object on the token already carries.
KeyPair generate_key_pair(Session& session, std::string_view label, KeyType type);

// The private key labelled `label` (exactly one) and the public key sharing its
// CKA_ID. LookupError when absent or ambiguous.
KeyPair find_key_pair(Session& session, std::string_view label);
// Whether any private or public key object carries this label.
bool key_label_exists(Session& session, std::string_view label);

// Evidence and public key, read back with C_GetAttributeValue. Only public
// attributes and the private key's boolean flags are read; never key material.
KeyDescription describe_key(Session& session, const KeyPair& pair);

// C_DestroyObject on both halves: for a ceremony that failed before any
// certificate used the key.
void destroy_key_pair(Session& session, const KeyPair& pair);

}  // namespace hsmca::token
