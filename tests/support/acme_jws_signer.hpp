#pragma once
// The client side of ACME's JWS, for tests and for the bench's ACME load
// client (bench/acme_load.cpp): keys of each kind, their public JWKs, and
// flattened JWS signed as certbot or lego would sign them.
// Header-only; link hsmca::appliance_core (OpenSSL, nlohmann-json, and the
// base64url the tests check separately against RFC 4648's vectors).
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "acme_jws.hpp"

namespace hsmca::test {

namespace acme = appliance::acme;

class JwsTestKey {
 public:
  // type's key; rsa_bits only for RSA.
  static JwsTestKey generate(acme::KeyType type, std::size_t rsa_bits = 2048) {
    EVP_PKEY* key = nullptr;
    switch (type) {
      case acme::KeyType::ec_p256: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
      case acme::KeyType::ec_p384: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
      case acme::KeyType::ec_p521: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521"); break;
      case acme::KeyType::rsa: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", rsa_bits); break;
      case acme::KeyType::ed25519: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    }
    if (key == nullptr) throw std::runtime_error("EVP_PKEY_Q_keygen");
    return JwsTestKey(type, signer::EvpPkeyPtr(key));
  }

  acme::KeyType type() const { return type_; }

  // The algorithm this key signs with.
  acme::JwsAlgorithm algorithm() const {
    switch (type_) {
      case acme::KeyType::ec_p256: return acme::JwsAlgorithm::es256;
      case acme::KeyType::ec_p384: return acme::JwsAlgorithm::es384;
      case acme::KeyType::ec_p521: return acme::JwsAlgorithm::es512;
      case acme::KeyType::rsa: return acme::JwsAlgorithm::rs256;
      case acme::KeyType::ed25519: return acme::JwsAlgorithm::eddsa;
    }
    return acme::JwsAlgorithm::es256;
  }
  std::string alg() const { return std::string(acme::algorithm_name(algorithm())); }

  nlohmann::json public_jwk() const {
    switch (type_) {
      case acme::KeyType::ec_p256:
      case acme::KeyType::ec_p384:
      case acme::KeyType::ec_p521: {
        const char* crv = type_ == acme::KeyType::ec_p256 ? "P-256" : type_ == acme::KeyType::ec_p384 ? "P-384" : "P-521";
        return {{"kty", "EC"}, {"crv", crv}, {"x", b64(bn(OSSL_PKEY_PARAM_EC_PUB_X), octets())},
                {"y", b64(bn(OSSL_PKEY_PARAM_EC_PUB_Y), octets())}};
      }
      case acme::KeyType::rsa:
        return {{"kty", "RSA"}, {"n", b64(bn(OSSL_PKEY_PARAM_RSA_N), 0)}, {"e", b64(bn(OSSL_PKEY_PARAM_RSA_E), 0)}};
      case acme::KeyType::ed25519: {
        unsigned char raw[32];
        std::size_t len = sizeof raw;
        if (EVP_PKEY_get_raw_public_key(key_.get(), raw, &len) != 1) throw std::runtime_error("raw public key");
        return {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", acme::base64url_encode(std::span(raw, len))}};
      }
    }
    return {};
  }
  acme::Jwk jwk() const { return acme::parse_jwk(public_jwk()); }

  // The JOSE signature (ECDSA as r || s) over `input`, with this key's algorithm.
  signer::Bytes sign(std::string_view input) const { return to_jose(sign_raw(input)); }
  // What OpenSSL produces: for ECDSA the DER ECDSA-Sig-Value, which JOSE does not take.
  signer::Bytes sign_raw(std::string_view input) const {
    const signer::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    const EVP_MD* md = type_ == acme::KeyType::ec_p384   ? EVP_sha384()
                       : type_ == acme::KeyType::ec_p521 ? EVP_sha512()
                       : type_ == acme::KeyType::ed25519 ? nullptr
                                                         : EVP_sha256();
    std::size_t len = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1) {
      throw std::runtime_error("EVP_DigestSign");
    }
    signer::Bytes sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, data, input.size()) != 1) throw std::runtime_error("EVP_DigestSign");
    sig.resize(len);
    return sig;
  }

 private:
  JwsTestKey(acme::KeyType type, signer::EvpPkeyPtr key) : type_(type), key_(std::move(key)) {}

  std::size_t octets() const {
    return type_ == acme::KeyType::ec_p256 ? 32 : type_ == acme::KeyType::ec_p384 ? 48 : 66;
  }
  signer::BignumPtr bn(const char* param) const {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key_.get(), param, &raw) != 1) throw std::runtime_error("EVP_PKEY_get_bn_param");
    return signer::BignumPtr(raw);
  }
  static std::string b64(const signer::BignumPtr& n, std::size_t pad) {
    signer::Bytes bytes(pad ? pad : static_cast<std::size_t>(BN_num_bytes(n.get())));
    if (BN_bn2binpad(n.get(), bytes.data(), static_cast<int>(bytes.size())) < 0) throw std::runtime_error("BN_bn2binpad");
    return acme::base64url_encode(bytes);
  }
  signer::Bytes to_jose(signer::Bytes sig) const {
    if (type_ == acme::KeyType::rsa || type_ == acme::KeyType::ed25519) return sig;
    const unsigned char* p = sig.data();
    const std::unique_ptr<ECDSA_SIG, signer::Free<ECDSA_SIG_free>> ecdsa(
        d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
    if (!ecdsa) throw std::runtime_error("d2i_ECDSA_SIG");
    signer::Bytes jose(2 * octets());
    BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa.get()), jose.data(), static_cast<int>(octets()));
    BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa.get()), jose.data() + octets(), static_cast<int>(octets()));
    return jose;
  }

  acme::KeyType type_;
  signer::EvpPkeyPtr key_;
};

// A flattened JWS: {"protected","payload","signature"}, `header` as given
// (the test chooses alg, jwk/kid, nonce, url), signed with `key`.
inline nlohmann::json make_jws(const JwsTestKey& key, const nlohmann::json& header, std::string_view payload) {
  const std::string protected_b64 = acme::base64url_encode(header.dump());
  const std::string payload_b64 = acme::base64url_encode(payload);
  return {{"protected", protected_b64},
          {"payload", payload_b64},
          {"signature", acme::base64url_encode(key.sign(protected_b64 + "." + payload_b64))}};
}

// An HMAC-protected flattened JWS, as an EAB: alg HS256/HS384/HS512.
inline nlohmann::json make_mac_jws(const nlohmann::json& header, std::string_view payload,
                                   const signer::Bytes& mac_key) {
  const std::string alg = header.value("alg", "HS256");
  const EVP_MD* md = alg == "HS384" ? EVP_sha384() : alg == "HS512" ? EVP_sha512() : EVP_sha256();
  const std::string protected_b64 = acme::base64url_encode(header.dump());
  const std::string payload_b64 = acme::base64url_encode(payload);
  const std::string input = protected_b64 + "." + payload_b64;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, mac_key.data(), static_cast<int>(mac_key.size()), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &len);
  return {{"protected", protected_b64},
          {"payload", payload_b64},
          {"signature", acme::base64url_encode(std::span<const unsigned char>(mac, len))}};
}

}  // namespace hsmca::test
