#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "hsmca/signer/openssl.hpp"
#include "hsmca/token/key.hpp"
#include "hsmca/token/signature.hpp"

namespace hsmca::token {
class SessionPool;
}

namespace hsmca::signer {

// All the signer needs from a key: its public half and a way to sign bytes.
// Whether the private half lives in a token or in memory is not its business
// (as Botan's X509_CA signs through whatever PK_Signer it is given).
class SigningKey {
 public:
  virtual ~SigningKey();
  virtual const Bytes& spki_der() const = 0;
  virtual token::SignatureScheme scheme() const = 0;
  // The signature as X.509's BIT STRING carries it: DER ECDSA-Sig-Value for
  // ECDSA, the raw octets for RSA and Ed25519.
  virtual Bytes sign(std::span<const unsigned char> message) const = 0;
  // The public key as an OpenSSL key object, decoded once, so that checking
  // each signature does not decode spki_der() again (an OpenSSL 3.0 provider
  // lookup per call). nullptr: the checker decodes spki_der() itself.
  virtual EVP_PKEY* verification_key() const { return nullptr; }
  // Throws TokenUnavailable when the key is known to be out of reach right
  // now (the token's circuit breaker is open), so that a caller records
  // nothing for a signature that cannot happen.
  virtual void check_available() const {}

 protected:
  SigningKey() = default;
  SigningKey(const SigningKey&) = default;
  SigningKey& operator=(const SigningKey&) = default;
};

// A private key in the token, used through the session pool.
class TokenSigningKey final : public SigningKey {
 public:
  // `spki` is the public key read from the token (token::describe_key). Throws
  // std::invalid_argument when it does not parse or `scheme` does not fit it.
  TokenSigningKey(token::SessionPool& pool, std::string key_label, token::SignatureScheme scheme,
                  Bytes spki);

  const Bytes& spki_der() const override { return spki_; }
  token::SignatureScheme scheme() const override { return scheme_; }
  Bytes sign(std::span<const unsigned char> message) const override;  // SessionPool::sign
  EVP_PKEY* verification_key() const override { return public_key_.get(); }
  void check_available() const override;  // SessionPool::ensure_available

 private:
  token::SessionPool& pool_;
  std::string label_;
  token::SignatureScheme scheme_;
  Bytes spki_;
  EvpPkeyPtr public_key_;
};

// An issuing key of a token, found and checked against the certificate it
// signs for: what the CA (IssuingCa::open) and the ceremonies both open.
struct CheckedTokenKey {
  std::unique_ptr<TokenSigningKey> key;
  token::KeyDescription description;  // as read back from the token: evidence, type, public key
};

// The private key labelled `label` in the pool's token, refused (ConfigError)
// unless `certificate` (read from `certificate_file`) carries its public key,
// hsmca signs with keys of its type, and `wanted` (default: the type's,
// token::default_scheme) fits that type. `what` names the key in the messages
// and the setting that chose the scheme: "issuer" (issuer.signature_algorithm),
// "revocation.ocsp_signer". token::LookupError when the label finds no key.
CheckedTokenKey open_token_key(token::SessionPool& pool, const std::string& label, X509* certificate,
                               const std::filesystem::path& certificate_file,
                               std::optional<token::SignatureScheme> wanted, std::string_view what);

// A private key in process memory: for unit tests, which run without a token.
class SoftwareSigningKey final : public SigningKey {
 public:
  // A fresh key signing with token::default_scheme(type).
  static SoftwareSigningKey generate(token::KeyType type);
  // Throws std::invalid_argument when `scheme` does not fit the key type.
  static SoftwareSigningKey generate(token::KeyType type, token::SignatureScheme scheme);
  SoftwareSigningKey(EvpPkeyPtr key, token::SignatureScheme scheme);

  const Bytes& spki_der() const override { return spki_; }
  token::SignatureScheme scheme() const override { return scheme_; }
  Bytes sign(std::span<const unsigned char> message) const override;
  EVP_PKEY* verification_key() const override { return key_.get(); }
  EVP_PKEY* pkey() const noexcept { return key_.get(); }

 private:
  EvpPkeyPtr key_;
  token::SignatureScheme scheme_;
  Bytes spki_;
};

}  // namespace hsmca::signer
