#pragma once
// What every token test needs: a fresh token in this process's SoftHSM
// directory, a logged-in session on it, and an OpenSSL verifier that knows
// nothing of PKCS#11.
#include <memory>
#include <span>
#include <string>

#include "hsmca/token/key.hpp"
#include "hsmca/token/session.hpp"
#include "hsmca/token/signature.hpp"
#include "hsmca/token/slot.hpp"

namespace hsmca::test {

struct TestToken {
  // Held for the test's lifetime: dropping the last Module finalizes SoftHSM.
  std::shared_ptr<token::Module> module;
  token::TokenInfo info;
  token::TokenSelector selector() const { return {info.label, info.serial}; }
};

// Initializes a token labelled `label` (kSoPin / kUserPin).
TestToken make_token(const std::string& label);

// A read/write session on the token, logged in as the user.
token::Session user_session(const TestToken& token);

// Every scheme the token layer knows, and those that fit a key type.
std::span<const token::SignatureScheme> all_schemes();

// Verifies `signature` over `message` with OpenSSL alone, from the DER
// SubjectPublicKeyInfo: PKCS#1 v1.5, PSS (salt = digest length, MGF1 with the
// same digest), ECDSA (DER ECDSA-Sig-Value) or Ed25519.
bool openssl_verifies(const token::Bytes& spki_der, token::SignatureScheme scheme,
                      std::span<const unsigned char> message, const token::Bytes& signature);

// The private key with CKA_ID `id` (exactly one) and the public key sharing
// it, found with C_FindObjects alone: what a tool that stored only the id
// would do. LookupError when absent or ambiguous.
token::KeyPair find_key_pair_by_id(token::Session& session, const token::Bytes& id);

// std::string's bytes as the token layer's message type.
std::span<const unsigned char> bytes_of(const std::string& text);

// "ec_p256" for KeyType::ec_p256: a GoogleTest parameter name for key types.
std::string key_type_test_name(token::KeyType type);

}  // namespace hsmca::test
