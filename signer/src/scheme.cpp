#include "scheme.hpp"

#include <openssl/rsa.h>

#include <string>

namespace hsmca::signer::detail {

using token::SignatureScheme;

const EVP_MD* scheme_digest(SignatureScheme scheme) noexcept {
  switch (scheme) {
    case SignatureScheme::rsa_pkcs1_sha256:
    case SignatureScheme::rsa_pss_sha256:
    case SignatureScheme::ecdsa_sha256:
      return EVP_sha256();
    case SignatureScheme::rsa_pkcs1_sha384:
    case SignatureScheme::rsa_pss_sha384:
    case SignatureScheme::ecdsa_sha384:
      return EVP_sha384();
    case SignatureScheme::rsa_pkcs1_sha512:
    case SignatureScheme::rsa_pss_sha512:
    case SignatureScheme::ecdsa_sha512:
      return EVP_sha512();
    case SignatureScheme::ed25519:
      return nullptr;
  }
  return nullptr;
}

namespace {

int key_family(SignatureScheme scheme) noexcept {
  switch (scheme) {
    case SignatureScheme::ecdsa_sha256:
    case SignatureScheme::ecdsa_sha384:
    case SignatureScheme::ecdsa_sha512:
      return EVP_PKEY_EC;
    case SignatureScheme::ed25519:
      return EVP_PKEY_ED25519;
    default:
      return EVP_PKEY_RSA;
  }
}

bool is_pss(SignatureScheme scheme) noexcept {
  return scheme == SignatureScheme::rsa_pss_sha256 || scheme == SignatureScheme::rsa_pss_sha384 ||
         scheme == SignatureScheme::rsa_pss_sha512;
}

}  // namespace

void require_scheme_fits(const EVP_PKEY* key, SignatureScheme scheme) {
  if (EVP_PKEY_get_base_id(key) != key_family(scheme)) {
    throw std::invalid_argument("signature scheme " + std::string(token::scheme_name(scheme)) +
                                " does not fit a " + EVP_PKEY_get0_type_name(key) + " key");
  }
}

EvpMdCtxPtr digest_context(EVP_PKEY* key, SignatureScheme scheme, Direction direction) {
  require_scheme_fits(key, scheme);
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) throw OpenSslError("EVP_MD_CTX_new");
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  const EVP_MD* md = scheme_digest(scheme);
  const int ok = direction == Direction::sign
                     ? EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key)
                     : EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key);
  if (ok != 1) throw OpenSslError("EVP_DigestSignInit/EVP_DigestVerifyInit");
  // Salt as long as the hash and MGF1 over the same hash: the only PSS
  // parameters RFC 4055 section 3.1 and the CA/B Forum BRs (7.1.3.2) let a CA use.
  if (is_pss(scheme) &&
      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
    throw OpenSslError("setting RSASSA-PSS parameters");
  }
  return ctx;
}

}  // namespace hsmca::signer::detail
