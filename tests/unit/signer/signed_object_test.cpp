#include "hsmca/signer/signed_object.hpp"

#include <gtest/gtest.h>

#include "hsmca/signer/algorithm.hpp"
#include "signing_key_doubles.hpp"
#include "test_keys.hpp"

namespace hsmca::signer {
namespace {

using test::MismatchedKey;
using token::SignatureScheme;

struct FreeSequence {
  void operator()(ASN1_SEQUENCE_ANY* s) const noexcept { sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free); }
};
using Asn1SequencePtr = std::unique_ptr<ASN1_SEQUENCE_ANY, FreeSequence>;

Bytes encoding_of(const ASN1_TYPE* t) {
  unsigned char* der = nullptr;
  const int len = i2d_ASN1_TYPE(t, &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// A stand-in TBS, encoded by OpenSSL: SEQUENCE { OCTET STRING of n octets }.
// Its size picks the length forms the wrapper must write (1, 2 or 3 octets).
Bytes fake_tbs(std::size_t n) {
  Asn1SequencePtr seq(sk_ASN1_TYPE_new_null());
  ASN1_TYPE* octets = ASN1_TYPE_new();
  ASN1_OCTET_STRING* value = ASN1_OCTET_STRING_new();
  const Bytes content(n, 0xab);
  ASN1_OCTET_STRING_set(value, content.data(), static_cast<int>(n));
  ASN1_TYPE_set(octets, V_ASN1_OCTET_STRING, value);
  sk_ASN1_TYPE_push(seq.get(), octets);
  unsigned char* der = nullptr;
  const int len = i2d_ASN1_SEQUENCE_ANY(seq.get(), &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

TEST(SignTbsTest, WrapsTbsAlgorithmAndSignatureInOneSequenceForEveryKeyType) {
  for (std::size_t n : {10u, 300u, 70000u}) {
    const Bytes tbs = fake_tbs(n);
    for (const auto& c : test::every_key()) {
      SCOPED_TRACE(c.name + ", TBS of " + std::to_string(tbs.size()) + " octets");
      const Bytes signed_der = sign_tbs(c.key, tbs);
      const unsigned char* p = signed_der.data();
      Asn1SequencePtr seq(d2i_ASN1_SEQUENCE_ANY(nullptr, &p, static_cast<long>(signed_der.size())));
      ASSERT_TRUE(seq);
      EXPECT_EQ(p, signed_der.data() + signed_der.size());
      ASSERT_EQ(sk_ASN1_TYPE_num(seq.get()), 3);

      EXPECT_EQ(encoding_of(sk_ASN1_TYPE_value(seq.get(), 0)), tbs);
      const auto alg = signature_algorithm_der(c.key.scheme());
      EXPECT_EQ(encoding_of(sk_ASN1_TYPE_value(seq.get(), 1)), Bytes(alg.begin(), alg.end()));

      const ASN1_TYPE* bits = sk_ASN1_TYPE_value(seq.get(), 2);
      ASSERT_EQ(ASN1_TYPE_get(bits), V_ASN1_BIT_STRING);
      const ASN1_BIT_STRING* sig = bits->value.bit_string;
      EXPECT_EQ(sig->flags & 0x07, 0) << "unused bits";
      EXPECT_TRUE(verify_signature(c.key.spki_der(), c.key.scheme(), tbs,
                                   std::span(sig->data, static_cast<std::size_t>(sig->length))));
    }
  }
}

TEST(SignTbsTest, RefusesASignatureMadeWithAnotherKey) {
  const auto other = SoftwareSigningKey::generate(token::KeyType::ec_p256, SignatureScheme::ecdsa_sha256);
  const MismatchedKey key(test::key_for(SignatureScheme::ecdsa_sha256), other);
  EXPECT_THROW(sign_tbs(key, fake_tbs(10)), VerificationError);
}

}  // namespace
}  // namespace hsmca::signer
