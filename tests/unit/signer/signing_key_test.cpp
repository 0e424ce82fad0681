#include "hsmca/signer/signing_key.hpp"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include <string_view>

#include "hsmca/signer/signed_object.hpp"
#include "test_keys.hpp"

namespace hsmca::signer {
namespace {

using token::KeyType;
using token::SignatureScheme;

std::span<const unsigned char> bytes_of(std::string_view s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

TEST(SoftwareSigningKeyTest, SignaturesVerifyUnderItsOwnPublicKeyForEveryKeyType) {
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    const Bytes sig = c.key.sign(bytes_of("to be signed"));
    EXPECT_TRUE(verify_signature(c.key.spki_der(), c.key.scheme(), bytes_of("to be signed"), sig));
    EXPECT_FALSE(verify_signature(c.key.spki_der(), c.key.scheme(), bytes_of("to be signeD"), sig));
  }
}

TEST(SoftwareSigningKeyTest, SignsEcdsaAsADerEcdsaSigValue) {
  for (auto scheme : {SignatureScheme::ecdsa_sha256, SignatureScheme::ecdsa_sha384}) {
    const Bytes sig = test::key_for(scheme).sign(bytes_of("message"));
    const unsigned char* p = sig.data();
    std::unique_ptr<ECDSA_SIG, Free<ECDSA_SIG_free>> parsed(
        d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(p, sig.data() + sig.size());
  }
}

TEST(SoftwareSigningKeyTest, SignsPssWithSaltAsLongAsTheHashAndMgf1OverTheSameHash) {
  const SoftwareSigningKey& key = test::key_for(SignatureScheme::rsa_pss_sha256);
  const auto message = bytes_of("message");
  const Bytes sig = key.sign(message);
  // Verified with every parameter spelled out rather than through the signer's own mapping.
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key.pkey()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), message.data(), message.size()), 1);
}

TEST(SoftwareSigningKeyTest, RefusesASchemeThatDoesNotFitTheKeyType) {
  EXPECT_THROW(SoftwareSigningKey::generate(KeyType::ec_p256, SignatureScheme::rsa_pkcs1_sha256),
               std::invalid_argument);
  EXPECT_THROW(SoftwareSigningKey::generate(KeyType::ed25519, SignatureScheme::ecdsa_sha256),
               std::invalid_argument);
}

TEST(SoftwareSigningKeyTest, PublishesItsPublicKeyAsAParsableSubjectPublicKeyInfo) {
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    EvpPkeyPtr pub = public_key_from_spki(c.key.spki_der());
    EXPECT_EQ(EVP_PKEY_eq(pub.get(), c.key.pkey()), 1);
  }
}

}  // namespace
}  // namespace hsmca::signer
