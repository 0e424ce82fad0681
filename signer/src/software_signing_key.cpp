#include "hsmca/signer/signing_key.hpp"

#include <string>
#include <utility>

#include "hsmca/signer/der.hpp"
#include "scheme.hpp"

namespace hsmca::signer {
namespace {

EvpPkeyPtr generate_key(token::KeyType type) {
  using token::KeyType;
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::ec_p256: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case KeyType::ec_p384: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
    case KeyType::rsa_2048: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}); break;
    case KeyType::rsa_3072: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{3072}); break;
    case KeyType::rsa_4096: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{4096}); break;
    case KeyType::ed25519: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
  }
  if (key == nullptr) throw OpenSslError("EVP_PKEY_Q_keygen(" + std::string(token::key_type_name(type)) + ")");
  return EvpPkeyPtr(key);
}

Bytes spki_of(EVP_PKEY* key) { return der::encode(i2d_PUBKEY, key, "i2d_PUBKEY"); }

}  // namespace

SoftwareSigningKey SoftwareSigningKey::generate(token::KeyType type) {
  return generate(type, token::default_scheme(type));
}

SoftwareSigningKey SoftwareSigningKey::generate(token::KeyType type, token::SignatureScheme scheme) {
  return SoftwareSigningKey(generate_key(type), scheme);
}

SoftwareSigningKey::SoftwareSigningKey(EvpPkeyPtr key, token::SignatureScheme scheme)
    : key_(std::move(key)), scheme_(scheme) {
  if (!key_) throw std::invalid_argument("SoftwareSigningKey needs a key");
  detail::require_scheme_fits(key_.get(), scheme_);
  spki_ = spki_of(key_.get());
}

Bytes SoftwareSigningKey::sign(std::span<const unsigned char> message) const {
  EvpMdCtxPtr ctx = detail::digest_context(key_.get(), scheme_, detail::Direction::sign);
  // One-shot EVP_DigestSign: Ed25519 accepts nothing else.
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, message.data(), message.size()) != 1) {
    throw OpenSslError("EVP_DigestSign");
  }
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1) {
    throw OpenSslError("EVP_DigestSign");
  }
  sig.resize(len);  // a DER ECDSA-Sig-Value is often shorter than the maximum
  return sig;
}

}  // namespace hsmca::signer
