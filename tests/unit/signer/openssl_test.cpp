#include "hsmca/signer/openssl.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>

#include "test_keys.hpp"

namespace hsmca::signer {
namespace {

using token::SignatureScheme;

TEST(OpenSslHelpersTest, WritesLowercaseHexAndSha256) {
  const unsigned char bytes[] = {0x00, 0xab, 0xff};
  EXPECT_EQ(to_hex(bytes), "00abff");
  EXPECT_EQ(sha256_hex({}), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(OpenSslHelpersTest, ReadsHexBackInEitherCaseAndRefusesWhatIsNotHex) {
  const std::vector<unsigned char> bytes = {0x00, 0xab, 0xff};
  EXPECT_EQ(from_hex(to_hex(bytes)), bytes);
  EXPECT_EQ(from_hex("00ABfF"), bytes);
  EXPECT_EQ(from_hex("00:AB:FF", ':'), bytes) << "as openssl prints key identifiers";
  EXPECT_EQ(from_hex("00ABFF", ':'), bytes) << "the separator is skipped, not required";
  EXPECT_EQ(from_hex(""), std::vector<unsigned char>{});
  EXPECT_FALSE(from_hex("abc")) << "odd length";
  EXPECT_FALSE(from_hex("0g"));
  EXPECT_FALSE(from_hex("00:ab")) << "a separator where none is expected";
  EXPECT_EQ(ERR_peek_error(), 0u) << "a refusal leaves the OpenSSL error queue empty";
}

TEST(SpkiTest, RefusesTrailingBytesAndNonsense) {
  Bytes spki = test::key_for(SignatureScheme::ed25519).spki_der();
  spki.push_back(0x00);
  EXPECT_THROW(public_key_from_spki(spki), std::invalid_argument);
  EXPECT_THROW(public_key_from_spki(Bytes{0x30, 0x03, 0x02, 0x01, 0x00}), OpenSslError);
}

TEST(OpenSslErrorTest, CarriesTheQueuedReasonsAndEmptiesTheQueue) {
  ERR_raise(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE);
  ERR_raise(ERR_LIB_ASN1, ASN1_R_TOO_LONG);
  const OpenSslError error("loading the root");
  EXPECT_STREQ(error.what(), "loading the root: cert already in hash table; too long");
  EXPECT_EQ(ERR_peek_error(), 0u);
  EXPECT_STREQ(OpenSslError("nothing queued").what(), "nothing queued");
}

}  // namespace
}  // namespace hsmca::signer
