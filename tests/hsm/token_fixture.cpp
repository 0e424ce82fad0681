#include "token_fixture.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <array>
#include <stdexcept>

#include "hsmca/token/error.hpp"
#include "hsmca/token/free.hpp"
#include "softhsm_env.hpp"

namespace hsmca::test {
namespace {

using token::Free;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Free<EVP_MD_CTX_free>>;

using token::SignatureScheme;

constexpr std::array kSchemes{
    SignatureScheme::rsa_pkcs1_sha256, SignatureScheme::rsa_pkcs1_sha384, SignatureScheme::rsa_pkcs1_sha512,
    SignatureScheme::rsa_pss_sha256,   SignatureScheme::rsa_pss_sha384,   SignatureScheme::rsa_pss_sha512,
    SignatureScheme::ecdsa_sha256,     SignatureScheme::ecdsa_sha384,     SignatureScheme::ecdsa_sha512,
    SignatureScheme::ed25519,
};

const EVP_MD* digest_of(SignatureScheme s) {
  switch (s) {
    case SignatureScheme::rsa_pkcs1_sha256:
    case SignatureScheme::rsa_pss_sha256:
    case SignatureScheme::ecdsa_sha256: return EVP_sha256();
    case SignatureScheme::rsa_pkcs1_sha384:
    case SignatureScheme::rsa_pss_sha384:
    case SignatureScheme::ecdsa_sha384: return EVP_sha384();
    case SignatureScheme::rsa_pkcs1_sha512:
    case SignatureScheme::rsa_pss_sha512:
    case SignatureScheme::ecdsa_sha512: return EVP_sha512();
    case SignatureScheme::ed25519: return nullptr;  // EdDSA hashes internally
  }
  return nullptr;
}

bool is_pss(SignatureScheme s) {
  return s == SignatureScheme::rsa_pss_sha256 || s == SignatureScheme::rsa_pss_sha384 ||
         s == SignatureScheme::rsa_pss_sha512;
}

}  // namespace

TestToken make_token(const std::string& label) {
  auto& env = SoftHsmEnv::get();
  TestToken t;
  t.module = env.module();
  t.info = env.init_token(label);
  return t;
}

token::Session user_session(const TestToken& t) {
  auto found = token::find_token(*t.module, t.selector());
  auto session = token::Session::open(t.module, found.slot, true);
  session.login(CKU_USER, user_pin());
  return session;
}

std::span<const SignatureScheme> all_schemes() { return kSchemes; }

token::KeyPair find_key_pair_by_id(token::Session& session, const token::Bytes& id) {
  auto find = [&](CK_OBJECT_CLASS cls) {
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, const_cast<unsigned char*>(id.data()), id.size()}};
    return session.find(tmpl);
  };
  const auto private_keys = find(CKO_PRIVATE_KEY);
  const auto public_keys = find(CKO_PUBLIC_KEY);
  if (private_keys.size() != 1 || public_keys.size() != 1) {
    throw token::LookupError("expected one private and one public key with the given id, found " +
                             std::to_string(private_keys.size()) + " and " + std::to_string(public_keys.size()));
  }
  const token::Bytes label = session.attribute(private_keys.front(), CKA_LABEL);
  token::KeyPair pair;
  pair.private_key = private_keys.front();
  pair.public_key = public_keys.front();
  pair.label.assign(label.begin(), label.end());
  pair.id = id;
  return pair;
}

std::span<const unsigned char> bytes_of(const std::string& text) {
  return {reinterpret_cast<const unsigned char*>(text.data()), text.size()};
}

std::string key_type_test_name(token::KeyType type) {
  std::string name(token::key_type_name(type));
  for (auto& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

bool openssl_verifies(const token::Bytes& spki_der, SignatureScheme scheme, std::span<const unsigned char> message,
                      const token::Bytes& signature) {
  const unsigned char* p = spki_der.data();
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (!key || p != spki_der.data() + spki_der.size()) {
    throw std::runtime_error("describe_key gave an SPKI that OpenSSL cannot read");
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = digest_of(scheme);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key.get()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("EVP_DigestVerifyInit failed for " + std::string(token::scheme_name(scheme)));
  }
  if (is_pss(scheme)) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, EVP_MD_get_size(md)) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1) {
      ERR_clear_error();
      throw std::runtime_error("cannot set PSS parameters");
    }
  }
  int rc = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size());
  ERR_clear_error();
  return rc == 1;
}

}  // namespace hsmca::test
