#pragma once
// Software keys for every key type and scheme the signer supports, generated
// once per test binary (RSA generation is slow enough to matter).
#include <stdexcept>
#include <string>
#include <vector>

#include "hsmca/signer/signing_key.hpp"

namespace hsmca::test {

using signer::SoftwareSigningKey;

struct KeyCase {
  std::string name;  // for SCOPED_TRACE
  SoftwareSigningKey key;
};

inline const std::vector<KeyCase>& every_key() {
  using token::KeyType;
  using token::SignatureScheme;
  static const std::vector<KeyCase> cases = [] {
    std::vector<KeyCase> c;
    auto add = [&c](const char* name, KeyType type, SignatureScheme scheme) {
      c.push_back({name, SoftwareSigningKey::generate(type, scheme)});
    };
    add("P-256 ecdsa-sha256", KeyType::ec_p256, SignatureScheme::ecdsa_sha256);
    add("P-384 ecdsa-sha384", KeyType::ec_p384, SignatureScheme::ecdsa_sha384);
    add("RSA-2048 rsa-pkcs1-sha256", KeyType::rsa_2048, SignatureScheme::rsa_pkcs1_sha256);
    add("RSA-2048 rsa-pss-sha256", KeyType::rsa_2048, SignatureScheme::rsa_pss_sha256);
    add("Ed25519", KeyType::ed25519, SignatureScheme::ed25519);
    return c;
  }();
  return cases;
}

// A key from every_key() by scheme.
inline const SoftwareSigningKey& key_for(token::SignatureScheme scheme) {
  for (const auto& c : every_key()) {
    if (c.key.scheme() == scheme) return c.key;
  }
  throw std::logic_error("no test key for that scheme");
}

}  // namespace hsmca::test
