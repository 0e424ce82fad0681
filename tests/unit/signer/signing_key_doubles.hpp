#pragma once
// Signing keys that misbehave, for the tests that check the signer refuses
// what they sign. They wrap a real key (test_keys.hpp) behind the same
// SigningKey interface the token's keys use.
#include <atomic>
#include <span>

#include "hsmca/signer/outcome.hpp"
#include "hsmca/signer/signing_key.hpp"

namespace hsmca::test {

// Claims one key's public key and scheme but signs with another key object, as
// a token might that picked the wrong object.
class MismatchedKey : public signer::SigningKey {
 public:
  MismatchedKey(const SigningKey& claimed, const SigningKey& actual) : claimed_(claimed), actual_(actual) {}
  const signer::Bytes& spki_der() const override { return claimed_.spki_der(); }
  token::SignatureScheme scheme() const override { return claimed_.scheme(); }
  signer::Bytes sign(std::span<const unsigned char> message) const override { return actual_.sign(message); }

 private:
  const SigningKey& claimed_;
  const SigningKey& actual_;
};

// A real key whose token can be taken away: while `away`, sign and
// check_available throw TokenUnavailable, as a token key's circuit breaker
// does; while `fails_signing`, only sign does, as a token that fails the
// signature itself (after the ledger recorded the issuance pending).
class AwayableKey : public signer::SigningKey {
 public:
  explicit AwayableKey(const SigningKey& key) : key_(key) {}
  const signer::Bytes& spki_der() const override { return key_.spki_der(); }
  token::SignatureScheme scheme() const override { return key_.scheme(); }
  signer::Bytes sign(std::span<const unsigned char> message) const override {
    check_available();
    if (fails_signing) throw signer::TokenUnavailable("C_Sign: the test's token failed", 3);
    return key_.sign(message);
  }
  EVP_PKEY* verification_key() const override { return key_.verification_key(); }
  void check_available() const override {
    if (away) throw signer::TokenUnavailable("the test took the token away", 3);
  }
  std::atomic<bool> away{false};
  std::atomic<bool> fails_signing{false};

 private:
  const SigningKey& key_;
};

}  // namespace hsmca::test
