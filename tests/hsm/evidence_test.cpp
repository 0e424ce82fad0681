// What a relying party is told about where a CA key was born, and whether the
// token really keeps it in. Each claim is checked against a control key that
// the production API deliberately cannot make.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "hsmca/token/error.hpp"
#include "hsmca/token/free.hpp"
#include "hsmca/token/key.hpp"
#include "token_fixture.hpp"

namespace hsmca::token {
namespace {

CK_BBOOL kTrue = CK_TRUE;
CK_BBOOL kFalse = CK_FALSE;
// DER OID prime256v1, as CKA_EC_PARAMS carries it.
const Bytes kP256Params = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

CK_ATTRIBUTE flag(CK_ATTRIBUTE_TYPE type, bool on) { return {type, on ? &kTrue : &kFalse, sizeof(CK_BBOOL)}; }
CK_ATTRIBUTE bytes(CK_ATTRIBUTE_TYPE type, const Bytes& b) {
  return {type, const_cast<unsigned char*>(b.data()), b.size()};
}

// A P-256 pair made with raw C_GenerateKeyPair: generated on the token, but
// with the flags a careless tool might choose.
KeyPair raw_generated_p256(Session& s, const std::string& label, bool sensitive, bool extractable) {
  Bytes id = {0xc0, 0x47, 0x20, 0x01, 0x02, 0x03, 0x04, 0x05, static_cast<unsigned char>(label.size())};
  Bytes label_bytes(label.begin(), label.end());
  CK_MECHANISM mech{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_ATTRIBUTE pub[] = {flag(CKA_TOKEN, true), flag(CKA_VERIFY, true), bytes(CKA_EC_PARAMS, kP256Params),
                        bytes(CKA_ID, id), bytes(CKA_LABEL, label_bytes)};
  CK_ATTRIBUTE priv[] = {flag(CKA_TOKEN, true),        flag(CKA_PRIVATE, true),
                         flag(CKA_SIGN, true),         flag(CKA_SENSITIVE, sensitive),
                         flag(CKA_EXTRACTABLE, extractable), bytes(CKA_ID, id),
                         bytes(CKA_LABEL, label_bytes)};
  KeyPair pair;
  check(s.fn()->C_GenerateKeyPair(s.handle(), &mech, pub, std::size(pub), priv, std::size(priv), &pair.public_key,
                                  &pair.private_key),
        "C_GenerateKeyPair");
  pair.label = label;
  pair.id = id;
  return pair;
}

using token::Free;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;

// A P-256 pair made by OpenSSL outside the token and imported with C_CreateObject
// under the strictest flags the import allows. Returns the pair and the
// OpenSSL key's SPKI.
std::pair<KeyPair, Bytes> imported_p256(Session& s, const std::string& label) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw std::runtime_error("EVP_EC_gen failed");
  BIGNUM* d = nullptr;
  if (EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1) throw std::runtime_error("no d");
  Bytes scalar(32);
  BN_bn2binpad(d, scalar.data(), 32);
  BN_clear_free(d);
  Bytes point(65);
  std::size_t point_len = 0;
  if (EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size(), &point_len) !=
          1 ||
      point_len != 65) {
    throw std::runtime_error("no public point");
  }
  Bytes ec_point = {0x04, 65};  // DER OCTET STRING around the uncompressed point
  ec_point.insert(ec_point.end(), point.begin(), point.end());

  Bytes id = {0x1a, 0x90, 0x27, 0xed, 0x00, 0x11, 0x22, 0x33};
  Bytes label_bytes(label.begin(), label.end());
  CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY, pub_class = CKO_PUBLIC_KEY;
  CK_KEY_TYPE ec = CKK_EC;
  CK_ATTRIBUTE priv[] = {{CKA_CLASS, &priv_class, sizeof priv_class},
                         {CKA_KEY_TYPE, &ec, sizeof ec},
                         flag(CKA_TOKEN, true),
                         flag(CKA_PRIVATE, true),
                         flag(CKA_SIGN, true),
                         flag(CKA_SENSITIVE, true),
                         flag(CKA_EXTRACTABLE, false),
                         bytes(CKA_EC_PARAMS, kP256Params),
                         bytes(CKA_VALUE, scalar),
                         bytes(CKA_ID, id),
                         bytes(CKA_LABEL, label_bytes)};
  CK_ATTRIBUTE pub[] = {{CKA_CLASS, &pub_class, sizeof pub_class},
                        {CKA_KEY_TYPE, &ec, sizeof ec},
                        flag(CKA_TOKEN, true),
                        flag(CKA_VERIFY, true),
                        bytes(CKA_EC_PARAMS, kP256Params),
                        bytes(CKA_EC_POINT, ec_point),
                        bytes(CKA_ID, id),
                        bytes(CKA_LABEL, label_bytes)};
  KeyPair pair;
  check(s.fn()->C_CreateObject(s.handle(), priv, std::size(priv), &pair.private_key), "C_CreateObject");
  check(s.fn()->C_CreateObject(s.handle(), pub, std::size(pub), &pair.public_key), "C_CreateObject");
  pair.label = label;
  pair.id = id;

  int len = i2d_PUBKEY(key.get(), nullptr);
  Bytes spki(static_cast<std::size_t>(len));
  unsigned char* p = spki.data();
  i2d_PUBKEY(key.get(), &p);
  return {pair, spki};
}

// An AES key the test may wrap with: a session object, so the token keeps nothing.
CK_OBJECT_HANDLE wrapping_key(Session& s) {
  CK_MECHANISM mech{CKM_AES_KEY_GEN, nullptr, 0};
  CK_ULONG len = 32;
  CK_ATTRIBUTE tmpl[] = {flag(CKA_TOKEN, false), flag(CKA_WRAP, true), flag(CKA_UNWRAP, true),
                         {CKA_VALUE_LEN, &len, sizeof len}};
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  check(s.fn()->C_GenerateKey(s.handle(), &mech, tmpl, std::size(tmpl), &key), "C_GenerateKey");
  return key;
}

CK_RV wrap(Session& s, CK_OBJECT_HANDLE wrapper, CK_OBJECT_HANDLE key) {
  CK_MECHANISM mech{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  std::vector<unsigned char> out(8192);
  CK_ULONG len = out.size();
  return s.fn()->C_WrapKey(s.handle(), &mech, wrapper, key, out.data(), &len);
}

CK_RV read_attribute_rv(Session& s, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  try {
    s.attribute(object, type);
    return CKR_OK;
  } catch (const Error& e) {
    return e.rv();
  }
}

std::string param_name(const ::testing::TestParamInfo<KeyType>& info) { return test::key_type_test_name(info.param); }

class GeneratedKeyEvidenceTest : public ::testing::TestWithParam<KeyType> {};

TEST_P(GeneratedKeyEvidenceTest, ShowsTheKeyWasBornInTheTokenAndCanNeverLeave) {
  auto t = test::make_token("evidence");
  auto s = test::user_session(t);
  KeyPair pair = generate_key_pair(s, "root", GetParam());
  KeyEvidence e = describe_key(s, pair).evidence;
  EXPECT_TRUE(e.local);
  EXPECT_TRUE(e.sensitive);
  EXPECT_TRUE(e.always_sensitive);
  EXPECT_FALSE(e.extractable);
  EXPECT_TRUE(e.never_extractable);
  EXPECT_TRUE(e.born_in_token());
}

INSTANTIATE_TEST_SUITE_P(EachMechanism, GeneratedKeyEvidenceTest,
                         ::testing::Values(KeyType::ec_p256, KeyType::rsa_2048, KeyType::ed25519), param_name);

TEST(EvidenceTest, ReportsAnExtractableNonSensitiveKeyAsNotBornInToken) {
  auto t = test::make_token("control");
  auto s = test::user_session(t);
  KeyPair control = raw_generated_p256(s, "careless", /*sensitive=*/false, /*extractable=*/true);
  KeyEvidence e = describe_key(s, control).evidence;
  EXPECT_TRUE(e.local);  // generated on the token all the same
  EXPECT_FALSE(e.sensitive);
  EXPECT_FALSE(e.always_sensitive);
  EXPECT_TRUE(e.extractable);
  EXPECT_FALSE(e.never_extractable);
  EXPECT_FALSE(e.born_in_token());
}

TEST(EvidenceTest, ReportsASensitiveButExtractableKeyAsNotBornInToken) {
  auto t = test::make_token("control");
  auto s = test::user_session(t);
  KeyPair control = raw_generated_p256(s, "wrappable", /*sensitive=*/true, /*extractable=*/true);
  KeyEvidence e = describe_key(s, control).evidence;
  EXPECT_TRUE(e.local);
  EXPECT_TRUE(e.sensitive);
  EXPECT_TRUE(e.always_sensitive);
  EXPECT_TRUE(e.extractable);
  EXPECT_FALSE(e.never_extractable);
  EXPECT_FALSE(e.born_in_token());
}

TEST(EvidenceTest, ReportsAnImportedKeyAsNotBornInTokenWhateverItsFlags) {
  auto t = test::make_token("control");
  auto s = test::user_session(t);
  auto [imported, spki] = imported_p256(s, "imported");
  KeyDescription d = describe_key(s, imported);
  EXPECT_EQ(d.spki_der, spki) << "describe_key must give the imported key's own public key";
  EXPECT_FALSE(d.evidence.local);
  EXPECT_TRUE(d.evidence.sensitive);
  EXPECT_FALSE(d.evidence.extractable);
  EXPECT_FALSE(d.evidence.always_sensitive);
  EXPECT_FALSE(d.evidence.never_extractable);
  EXPECT_FALSE(d.evidence.born_in_token());
}

TEST(EvidenceTest, RefusesToRevealTheEcPrivateValue) {
  auto t = test::make_token("sensitive");
  auto s = test::user_session(t);
  KeyPair ours = generate_key_pair(s, "root", KeyType::ec_p256);
  EXPECT_EQ(read_attribute_rv(s, ours.private_key, CKA_VALUE), CKR_ATTRIBUTE_SENSITIVE);
  // Control: the same read on a non-sensitive key succeeds, so the refusal is the key's.
  KeyPair control = raw_generated_p256(s, "careless", false, true);
  EXPECT_EQ(read_attribute_rv(s, control.private_key, CKA_VALUE), CKR_OK);
}

TEST(EvidenceTest, RefusesToRevealTheRsaPrivateExponentAndPrimes) {
  auto t = test::make_token("sensitive");
  auto s = test::user_session(t);
  KeyPair ours = generate_key_pair(s, "root", KeyType::rsa_2048);
  EXPECT_EQ(read_attribute_rv(s, ours.private_key, CKA_PRIVATE_EXPONENT), CKR_ATTRIBUTE_SENSITIVE);
  EXPECT_EQ(read_attribute_rv(s, ours.private_key, CKA_PRIME_1), CKR_ATTRIBUTE_SENSITIVE);
  EXPECT_EQ(read_attribute_rv(s, ours.private_key, CKA_PRIME_2), CKR_ATTRIBUTE_SENSITIVE);
  // The public half stays readable: that is what describe_key publishes.
  EXPECT_EQ(read_attribute_rv(s, ours.private_key, CKA_MODULUS), CKR_OK);
}

TEST(EvidenceTest, RefusesToWrapTheKeyOutOfTheToken) {
  auto t = test::make_token("wrap");
  auto s = test::user_session(t);
  KeyPair ours = generate_key_pair(s, "root", KeyType::ec_p256);
  KeyPair control = raw_generated_p256(s, "wrappable", /*sensitive=*/true, /*extractable=*/true);
  CK_OBJECT_HANDLE wrapper = wrapping_key(s);
  // Control first: the same wrap of an extractable key succeeds.
  ASSERT_EQ(wrap(s, wrapper, control.private_key), CKR_OK);
  CK_RV rv = wrap(s, wrapper, ours.private_key);
  EXPECT_NE(rv, CKR_OK);
  EXPECT_EQ(rv, CKR_KEY_UNEXTRACTABLE) << rv_name(rv);
}

TEST(EvidenceTest, RefusesToMakeTheKeyExtractableOrNonSensitiveLater) {
  auto t = test::make_token("setattr");
  auto s = test::user_session(t);
  KeyPair ours = generate_key_pair(s, "root", KeyType::ec_p256);
  CK_ATTRIBUTE extractable[] = {flag(CKA_EXTRACTABLE, true)};
  CK_RV rv = s.fn()->C_SetAttributeValue(s.handle(), ours.private_key, extractable, 1);
  EXPECT_NE(rv, CKR_OK) << "the key became extractable";
  CK_ATTRIBUTE sensitive[] = {flag(CKA_SENSITIVE, false)};
  rv = s.fn()->C_SetAttributeValue(s.handle(), ours.private_key, sensitive, 1);
  EXPECT_NE(rv, CKR_OK) << "the key became non-sensitive";
  EXPECT_TRUE(describe_key(s, ours).evidence.born_in_token());
  EXPECT_EQ(read_attribute_rv(s, ours.private_key, CKA_VALUE), CKR_ATTRIBUTE_SENSITIVE);
}

}  // namespace
}  // namespace hsmca::token
