// The fast reading of PKCS#10 requests (signer/src/request_reader.hpp) must
// see exactly the request OpenSSL's own reading sees — or stand aside.
#include "request_reader.hpp"

#include "hsmca/signer/der.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <filesystem>

#include "hsmca/signer/request.hpp"
#include "softhsm_env.hpp"

namespace hsmca::signer {
namespace {

std::filesystem::path data_dir() { return std::filesystem::path(HSMCA_SOURCE_DIR) / "tests" / "data"; }

Bytes encode(X509_REQ* req) { return der::encode(i2d_X509_REQ, req, "i2d_X509_REQ"); }

// The DER of a catalogue request (PEM files are converted).
Bytes der_of(const std::string& name) {
  const std::string text = test::read_file(data_dir() / name);
  if (text.rfind("-----BEGIN", 0) != 0) return Bytes(text.begin(), text.end());
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) throw std::runtime_error(name + " does not read as PEM");
  return encode(req.get());
}

class FastReadingOfGoodRequests : public ::testing::TestWithParam<const char*> {};

TEST_P(FastReadingOfGoodRequests, IsTheRequestItselfWithItsKey) {
  const Bytes der = der_of(GetParam());
  auto fast = detail::read_request_fast(der);
  ASSERT_TRUE(fast) << GetParam() << " was left to the usual reading";
  // The request assembled from the parts encodes back to the very bytes read.
  EXPECT_EQ(encode(fast->request.get()), der);
  // Its key is the key OpenSSL's own reading decodes.
  const unsigned char* p = der.data();
  X509ReqPtr usual(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  ASSERT_TRUE(usual);
  EXPECT_EQ(EVP_PKEY_eq(fast->key.get(), X509_REQ_get0_pubkey(usual.get())), 1);
  EXPECT_EQ(X509_REQ_verify(fast->request.get(), fast->key.get()), 1);
  // And what the CA reads from it is the same by either way.
  const auto read = parse_certificate_request(der);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(EVP_PKEY_eq(read.value().public_key.get(), X509_REQ_get0_pubkey(usual.get())), 1);
}

INSTANTIATE_TEST_SUITE_P(Catalogue, FastReadingOfGoodRequests,
                         ::testing::Values("good-p256-web.csr", "good-p256-web.der", "good-p384-dual-stack.csr",
                                           "good-p521.csr", "good-rsa2048-server.csr", "good-ed25519-client.csr"));

class FastReadingStandsAside : public ::testing::TestWithParam<const char*> {};

// Keys it does not know are the usual reading's to refuse (with its reasons).
TEST_P(FastReadingStandsAside, ForKeysItDoesNotKnow) {
  EXPECT_FALSE(detail::read_request_fast(der_of(GetParam())));
}

INSTANTIATE_TEST_SUITE_P(Catalogue, FastReadingStandsAside,
                         ::testing::Values("bad-dsa.csr", "bad-ec-secp256k1.csr", "bad-ec-brainpoolp256r1.csr",
                                           "bad-ec-explicit-parameters.csr", "bad-ec-point-off-curve.csr",
                                           "bad-ed448.csr", "bad-rsa-pss-key.csr"));

TEST(FastReadingTest, StandsAsideForTrailingBytesAndTruncation) {
  Bytes der = der_of("good-p256-web.der");
  Bytes longer = der;
  longer.push_back(0);
  EXPECT_FALSE(detail::read_request_fast(longer));
  EXPECT_FALSE(detail::read_request_fast(std::span(der).first(der.size() - 1)));
  EXPECT_FALSE(detail::read_request_fast({}));
}

TEST(FastReadingTest, ABrokenSignatureIsStillRefusedByTheUsualReadingsWords) {
  Bytes der = der_of("good-p256-web.der");
  der[der.size() - 5] ^= 0x01;  // inside the signature value
  ASSERT_TRUE(detail::read_request_fast(der)) << "it reads; the check refuses";
  const auto read = parse_certificate_request(der);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.rejection().code, "bad_signature");
}

// The attributes' [0] tag made primitive (a0 -> 80): OpenSSL reads it, and
// `openssl req -verify` says the signature fails, for it was made over a0. A
// reader that verifies a re-encoding of what it read would see a0 again.
TEST(FastReadingTest, AnAttributesTagChangedAfterSigningIsRefused) {
  Bytes der = der_of("good-p256-web.der");
  constexpr std::size_t kAttributesTag = 130;  // openssl asn1parse -inform DER -i
  ASSERT_EQ(der[kAttributesTag], 0xa0);
  der[kAttributesTag] = 0x80;
  const auto read = parse_certificate_request(der);
  ASSERT_FALSE(read.ok()) << "accepted";
  EXPECT_TRUE(read.rejection().code == "malformed_request" || read.rejection().code == "bad_signature")
      << read.rejection().code;
}

// What OpenSSL accepts of `der`: it reads as exactly one request, the
// signature verifies over the bytes as received, and they are its DER.
bool openssl_accepts(const Bytes& der) {
  const unsigned char* p = der.data();
  X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  bool ok = req && p == der.data() + der.size();
  EVP_PKEY* key = ok ? X509_REQ_get0_pubkey(req.get()) : nullptr;
  ok = ok && key != nullptr && X509_REQ_verify(req.get(), key) == 1;
  if (ok) {
    // i2d_re_X509_REQ_tbs drops the received encoding: what follows is a re-encoding.
    ok = i2d_re_X509_REQ_tbs(req.get(), nullptr) > 0 && encode(req.get()) == der;
  }
  ERR_clear_error();
  return ok;
}

// Every single-octet change of a good request, five ways per octet (0x20 is
// the constructed bit, 0x80 a tag's class or a long-form length): the CA
// accepts exactly what OpenSSL accepts as signed DER (which, the signature
// covering nearly every octet, is next to nothing).
TEST(FastReadingTest, AcceptsASingleOctetCorruptionExactlyWhenOpensslDoes) {
  const Bytes good = der_of("good-p256-web.der");
  ASSERT_TRUE(openssl_accepts(good));
  ASSERT_TRUE(parse_certificate_request(good).ok());
  int accepted = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (const auto change : {+[](unsigned char b) { return static_cast<unsigned char>(b ^ 0x01); },
                              +[](unsigned char b) { return static_cast<unsigned char>(b ^ 0x20); },
                              +[](unsigned char b) { return static_cast<unsigned char>(b ^ 0x80); },
                              +[](unsigned char b) { return static_cast<unsigned char>(b ^ 0xff); },
                              +[](unsigned char) { return static_cast<unsigned char>(0x00); }}) {
      Bytes der = good;
      der[i] = change(der[i]);
      if (der == good) continue;
      const bool want = openssl_accepts(der);
      const bool got = parse_certificate_request(der).ok();
      EXPECT_EQ(got, want) << "octet " << i << ": " << static_cast<int>(good[i]) << " -> "
                           << static_cast<int>(der[i]);
      accepted += got ? 1 : 0;
    }
  }
  EXPECT_EQ(accepted, 0);
}

}  // namespace
}  // namespace hsmca::signer
