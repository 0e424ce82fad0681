#include "hsmca/signer/algorithm.hpp"

#include <gtest/gtest.h>
#include <openssl/rsa.h>

#include <string>
#include <string_view>
#include <utility>

#include "test_keys.hpp"

namespace hsmca::signer {
namespace {

using token::SignatureScheme;

// The AlgorithmIdentifier encodings of the CA/B Forum Baseline Requirements
// 7.1.3.2, written out from the document, not from our own code.
constexpr std::pair<SignatureScheme, std::string_view> kBaselineRequirementsAlgorithms[] = {
    {SignatureScheme::rsa_pkcs1_sha256, "300d06092a864886f70d01010b0500"},
    {SignatureScheme::rsa_pkcs1_sha384, "300d06092a864886f70d01010c0500"},
    {SignatureScheme::rsa_pkcs1_sha512, "300d06092a864886f70d01010d0500"},
    {SignatureScheme::rsa_pss_sha256,
     "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108"
     "300d06096086480165030402010500a203020120"},
    {SignatureScheme::rsa_pss_sha384,
     "304106092a864886f70d01010a3034a00f300d06096086480165030402020500a11c301a06092a864886f70d010108"
     "300d06096086480165030402020500a203020130"},
    {SignatureScheme::rsa_pss_sha512,
     "304106092a864886f70d01010a3034a00f300d06096086480165030402030500a11c301a06092a864886f70d010108"
     "300d06096086480165030402030500a203020140"},
    {SignatureScheme::ecdsa_sha256, "300a06082a8648ce3d040302"},
    {SignatureScheme::ecdsa_sha384, "300a06082a8648ce3d040303"},
    {SignatureScheme::ecdsa_sha512, "300a06082a8648ce3d040304"},
    {SignatureScheme::ed25519, "300506032b6570"},
};

std::string algor_hex(const X509_ALGOR* alg) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_ALGOR(alg, &der);
  EXPECT_GT(len, 0);
  std::string hex = to_hex(std::span(der, static_cast<std::size_t>(len)));
  OPENSSL_free(der);
  return hex;
}

// The AlgorithmIdentifier OpenSSL itself writes when it signs a certificate
// with `key` under the same scheme parameters.
std::string openssl_signature_algorithm(const SoftwareSigningKey& key) {
  X509Ptr cert(X509_new());
  X509_set_pubkey(cert.get(), key.pkey());
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = nullptr;
  switch (key.scheme()) {
    case SignatureScheme::ecdsa_sha256: case SignatureScheme::rsa_pkcs1_sha256:
    case SignatureScheme::rsa_pss_sha256: md = EVP_sha256(); break;
    case SignatureScheme::ecdsa_sha384: md = EVP_sha384(); break;
    default: break;
  }
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key.pkey()), 1);
  if (key.scheme() == SignatureScheme::rsa_pss_sha256) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  EXPECT_GT(X509_sign_ctx(cert.get(), ctx.get()), 0);
  const X509_ALGOR* alg = nullptr;
  X509_get0_signature(nullptr, &alg, cert.get());
  return algor_hex(alg);
}

TEST(AlgorithmTest, MatchesTheBaselineRequirementsEncodingForEveryScheme) {
  for (const auto& [scheme, hex] : kBaselineRequirementsAlgorithms) {
    EXPECT_EQ(to_hex(signature_algorithm_der(scheme)), hex) << token::scheme_name(scheme);
  }
}

TEST(AlgorithmTest, ParsesIntoAnX509AlgorThatEncodesToTheSameBytes) {
  for (const auto& [scheme, hex] : kBaselineRequirementsAlgorithms) {
    EXPECT_EQ(algor_hex(signature_algorithm(scheme).get()), hex) << token::scheme_name(scheme);
  }
}

TEST(AlgorithmTest, AgreesWithWhatOpenSslWritesWhenItSignsItself) {
  for (const auto& c : test::every_key()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(to_hex(signature_algorithm_der(c.key.scheme())), openssl_signature_algorithm(c.key));
  }
}

TEST(AlgorithmTest, RsaPssParametersUseOneHashThroughoutAndSaltAsLongAsIt) {
  const struct {
    SignatureScheme scheme;
    int hash_nid;
    long salt;
  } cases[] = {{SignatureScheme::rsa_pss_sha256, NID_sha256, 32},
               {SignatureScheme::rsa_pss_sha384, NID_sha384, 48},
               {SignatureScheme::rsa_pss_sha512, NID_sha512, 64}};
  for (const auto& c : cases) {
    SCOPED_TRACE(token::scheme_name(c.scheme));
    X509AlgorPtr alg = signature_algorithm(c.scheme);
    const ASN1_OBJECT* oid = nullptr;
    int ptype = 0;
    const void* pval = nullptr;
    X509_ALGOR_get0(&oid, &ptype, &pval, alg.get());
    ASSERT_EQ(OBJ_obj2nid(oid), NID_rsassaPss);
    ASSERT_EQ(ptype, V_ASN1_SEQUENCE);

    const auto* seq = static_cast<const ASN1_STRING*>(pval);
    const unsigned char* p = ASN1_STRING_get0_data(seq);
    std::unique_ptr<RSA_PSS_PARAMS, Free<RSA_PSS_PARAMS_free>> params(
        d2i_RSA_PSS_PARAMS(nullptr, &p, ASN1_STRING_length(seq)));
    ASSERT_TRUE(params);
    EXPECT_EQ(OBJ_obj2nid(params->hashAlgorithm->algorithm), c.hash_nid);
    EXPECT_EQ(OBJ_obj2nid(params->maskGenAlgorithm->algorithm), NID_mgf1);
    const ASN1_STRING* mgf1_param = params->maskGenAlgorithm->parameter->value.sequence;
    const unsigned char* q = ASN1_STRING_get0_data(mgf1_param);
    X509AlgorPtr mgf1_hash(d2i_X509_ALGOR(nullptr, &q, ASN1_STRING_length(mgf1_param)));
    ASSERT_TRUE(mgf1_hash);
    EXPECT_EQ(OBJ_obj2nid(mgf1_hash->algorithm), c.hash_nid);
    EXPECT_EQ(ASN1_INTEGER_get(params->saltLength), c.salt);
    EXPECT_EQ(params->trailerField, nullptr);  // DEFAULT trailerFieldBC, so absent in DER
  }
}

}  // namespace
}  // namespace hsmca::signer
