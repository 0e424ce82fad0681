#include "hsmca/token/key.hpp"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "hsmca/token/error.hpp"
#include "hsmca/token/signature.hpp"
#include "token_fixture.hpp"

namespace hsmca::token {
namespace {

using test::openssl_verifies;

struct Expected {
  KeyType type;
  int key_type;        // EVP_PKEY_RSA, EVP_PKEY_EC, EVP_PKEY_ED25519
  int bits;
  int fitting_schemes;
  std::size_t signature_size;  // 0: variable (DER ECDSA)
};

Expected expected(KeyType type) {
  switch (type) {
    case KeyType::ec_p256: return {type, EVP_PKEY_EC, 256, 3, 0};
    case KeyType::ec_p384: return {type, EVP_PKEY_EC, 384, 3, 0};
    case KeyType::rsa_2048: return {type, EVP_PKEY_RSA, 2048, 6, 256};
    case KeyType::rsa_3072: return {type, EVP_PKEY_RSA, 3072, 6, 384};
    case KeyType::rsa_4096: return {type, EVP_PKEY_RSA, 4096, 6, 512};
    case KeyType::ed25519: return {type, EVP_PKEY_ED25519, 256, 1, 64};  // OpenSSL 3.0 says 256
  }
  return {};
}

bool is_ecdsa(SignatureScheme s) {
  return s == SignatureScheme::ecdsa_sha256 || s == SignatureScheme::ecdsa_sha384 ||
         s == SignatureScheme::ecdsa_sha512;
}

// The signature is exactly one DER ECDSA-Sig-Value, not the token's raw r||s.
bool is_der_ecdsa_sig(const Bytes& sig) {
  const unsigned char* p = sig.data();
  ECDSA_SIG* parsed = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  bool whole = parsed != nullptr && p == sig.data() + sig.size();
  ECDSA_SIG_free(parsed);
  return whole;
}

std::string param_name(const ::testing::TestParamInfo<KeyType>& info) { return test::key_type_test_name(info.param); }

class GeneratedKeyTest : public ::testing::TestWithParam<KeyType> {};

TEST_P(GeneratedKeyTest, GeneratesTheRequestedKeyThatSignsWithEveryFittingScheme) {
  const Expected want = expected(GetParam());
  auto t = test::make_token("keygen");
  auto session = test::user_session(t);
  KeyPair pair = generate_key_pair(session, "ca key", GetParam());
  ASSERT_NE(pair.private_key, CK_INVALID_HANDLE);
  ASSERT_NE(pair.public_key, CK_INVALID_HANDLE);

  KeyDescription d = describe_key(session, pair);
  EXPECT_EQ(d.label, "ca key");
  EXPECT_EQ(d.type, key_type_name(GetParam()));
  EXPECT_EQ(key_type_of(d), GetParam());
  const unsigned char* p = d.spki_der.data();
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> spki(
      d2i_PUBKEY(nullptr, &p, static_cast<long>(d.spki_der.size())), EVP_PKEY_free);
  ASSERT_NE(spki, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(spki.get()), want.key_type);
  EXPECT_EQ(EVP_PKEY_get_bits(spki.get()), want.bits);

  const std::string message = "tbsCertificate bytes for " + std::string(key_type_name(GetParam()));
  std::string tampered = message;
  tampered[0] ^= 1;
  int fitting = 0;
  for (SignatureScheme scheme : test::all_schemes()) {
    if (!scheme_fits(scheme, GetParam())) continue;
    ++fitting;
    SCOPED_TRACE(std::string(scheme_name(scheme)));
    Bytes sig = sign(session, pair.private_key, scheme, test::bytes_of(message));
    EXPECT_TRUE(openssl_verifies(d.spki_der, scheme, test::bytes_of(message), sig));
    EXPECT_FALSE(openssl_verifies(d.spki_der, scheme, test::bytes_of(tampered), sig));
    if (is_ecdsa(scheme)) {
      EXPECT_TRUE(is_der_ecdsa_sig(sig));
    } else {
      EXPECT_EQ(sig.size(), want.signature_size);
    }
  }
  EXPECT_EQ(fitting, want.fitting_schemes);
  EXPECT_TRUE(scheme_fits(default_scheme(GetParam()), GetParam()));
}

INSTANTIATE_TEST_SUITE_P(EveryKeyType, GeneratedKeyTest,
                         ::testing::Values(KeyType::ec_p256, KeyType::ec_p384, KeyType::rsa_2048, KeyType::rsa_3072,
                                           KeyType::rsa_4096, KeyType::ed25519),
                         param_name);

// The template is the same code for every size: one key per mechanism family.
class KeyTemplateTest : public ::testing::TestWithParam<KeyType> {};

TEST_P(KeyTemplateTest, HonoursTheExplicitPublicAndPrivateKeyTemplates) {
  auto t = test::make_token("template");
  auto s = test::user_session(t);
  KeyPair pair = generate_key_pair(s, "ca key", GetParam());

  // SoftHSM would turn ENCRYPT and WRAP on for a public key left to its defaults.
  EXPECT_FALSE(s.bool_attribute(pair.public_key, CKA_ENCRYPT));
  EXPECT_FALSE(s.bool_attribute(pair.public_key, CKA_WRAP));
  EXPECT_FALSE(s.bool_attribute(pair.public_key, CKA_VERIFY_RECOVER));
  EXPECT_TRUE(s.bool_attribute(pair.public_key, CKA_VERIFY));
  EXPECT_TRUE(s.bool_attribute(pair.public_key, CKA_TOKEN));
  EXPECT_FALSE(s.bool_attribute(pair.public_key, CKA_PRIVATE));

  EXPECT_FALSE(s.bool_attribute(pair.private_key, CKA_DECRYPT));
  EXPECT_FALSE(s.bool_attribute(pair.private_key, CKA_UNWRAP));
  EXPECT_FALSE(s.bool_attribute(pair.private_key, CKA_DERIVE));
  EXPECT_FALSE(s.bool_attribute(pair.private_key, CKA_SIGN_RECOVER));
  EXPECT_FALSE(s.bool_attribute(pair.private_key, CKA_EXTRACTABLE));
  EXPECT_TRUE(s.bool_attribute(pair.private_key, CKA_SIGN));
  EXPECT_TRUE(s.bool_attribute(pair.private_key, CKA_SENSITIVE));
  EXPECT_TRUE(s.bool_attribute(pair.private_key, CKA_TOKEN));
  EXPECT_TRUE(s.bool_attribute(pair.private_key, CKA_PRIVATE));

  Bytes label = s.attribute(pair.public_key, CKA_LABEL);
  EXPECT_EQ(std::string(label.begin(), label.end()), "ca key");
  label = s.attribute(pair.private_key, CKA_LABEL);
  EXPECT_EQ(std::string(label.begin(), label.end()), "ca key");
}

INSTANTIATE_TEST_SUITE_P(EachMechanism, KeyTemplateTest,
                         ::testing::Values(KeyType::ec_p256, KeyType::rsa_2048, KeyType::ed25519), param_name);

TEST(KeyGenerationTest, LinksBothHalvesWithOneRandomIdOfAtLeastEightBytes) {
  auto t = test::make_token("ids");
  auto s = test::user_session(t);
  KeyPair first = generate_key_pair(s, "first", KeyType::ec_p256);
  KeyPair second = generate_key_pair(s, "second", KeyType::ec_p256);

  Bytes private_id = s.attribute(first.private_key, CKA_ID);
  Bytes public_id = s.attribute(first.public_key, CKA_ID);
  EXPECT_GE(private_id.size(), 8u);
  EXPECT_EQ(private_id, public_id);
  EXPECT_EQ(private_id, first.id);
  EXPECT_NE(first.id, second.id);
  EXPECT_EQ(s.attribute(second.public_key, CKA_ID), second.id);
}

TEST(KeyGenerationTest, FindsTheGeneratedPairAgainByLabelAndById) {
  auto t = test::make_token("find");
  auto s = test::user_session(t);
  KeyPair made = generate_key_pair(s, "issuing", KeyType::ec_p256);
  generate_key_pair(s, "other", KeyType::ec_p256);

  // From a fresh session, as a restarted process would.
  auto fresh = test::user_session(t);
  KeyPair by_label = find_key_pair(fresh, "issuing");
  EXPECT_EQ(by_label.private_key, made.private_key);
  EXPECT_EQ(by_label.public_key, made.public_key);
  EXPECT_EQ(by_label.id, made.id);
  KeyPair by_id = test::find_key_pair_by_id(fresh, made.id);
  EXPECT_EQ(by_id.private_key, made.private_key);
  EXPECT_EQ(by_id.label, "issuing");
  EXPECT_TRUE(key_label_exists(fresh, "issuing"));
  EXPECT_FALSE(key_label_exists(fresh, "issuin"));
  EXPECT_THROW(find_key_pair(fresh, "absent"), LookupError);
}

TEST(KeyGenerationTest, RefusesASecondKeyWithTheSameLabel) {
  auto t = test::make_token("dup");
  auto s = test::user_session(t);
  KeyPair first = generate_key_pair(s, "root", KeyType::ec_p256);
  EXPECT_THROW(generate_key_pair(s, "root", KeyType::ec_p256), AlreadyExists);
  EXPECT_THROW(generate_key_pair(s, "root", KeyType::ed25519), AlreadyExists);
  // Nothing was created: the label still names exactly the first key.
  KeyPair found = find_key_pair(s, "root");
  EXPECT_EQ(found.private_key, first.private_key);
  EXPECT_EQ(found.id, first.id);
}

TEST(KeyGenerationTest, DestroyedPairIsGoneFromTheToken) {
  auto t = test::make_token("destroy");
  auto s = test::user_session(t);
  KeyPair pair = generate_key_pair(s, "failed ceremony", KeyType::ec_p256);
  destroy_key_pair(s, pair);
  EXPECT_FALSE(key_label_exists(s, "failed ceremony"));
  EXPECT_THROW(find_key_pair(s, "failed ceremony"), LookupError);
  // The label is free again.
  EXPECT_NO_THROW(generate_key_pair(s, "failed ceremony", KeyType::ec_p256));
}

}  // namespace
}  // namespace hsmca::token
