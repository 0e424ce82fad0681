#include "hsmca/appliance/est.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "hsmca/signer/der.hpp"
#include "hsmca/signer/openssl.hpp"
#include "process.hpp"
#include "softhsm_env.hpp"

namespace hsmca::appliance {
namespace {

using signer::X509Ptr;
using Pkcs7Ptr = std::unique_ptr<PKCS7, signer::Free<PKCS7_free>>;

// A self-signed P-256 certificate with subject CN=`cn`.
X509Ptr make_certificate(const std::string& cn, long serial) {
  signer::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw signer::OpenSslError("EVP_EC_gen");
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) throw signer::OpenSslError("X509_sign");
  return cert;
}

// OpenSSL's own certs-only encoding: what certs_only_from_der must match.
token::Bytes openssl_certs_only(const std::vector<X509*>& certs) {
  Pkcs7Ptr p7(PKCS7_new());
  if (!p7) throw signer::OpenSslError("PKCS7_new");
  if (PKCS7_set_type(p7.get(), NID_pkcs7_signed) != 1) throw signer::OpenSslError("PKCS7_set_type");
  if (PKCS7_content_new(p7.get(), NID_pkcs7_data) != 1) throw signer::OpenSslError("PKCS7_content_new");
  // PKCS7_content_new leaves an empty OCTET STRING as eContent; a certs-only
  // message has none (RFC 5652 5.2), which is what "detached" makes of it.
  if (PKCS7_set_detached(p7.get(), 1) != 1) throw signer::OpenSslError("PKCS7_set_detached");
  for (X509* cert : certs) {
    // Takes its own reference.
    if (PKCS7_add_certificate(p7.get(), cert) != 1) throw signer::OpenSslError("PKCS7_add_certificate");
  }
  return signer::der::encode(i2d_PKCS7, p7.get(), "i2d_PKCS7");
}

class CertsOnlyTest : public ::testing::Test {
 protected:
  X509Ptr first_ = make_certificate("est-first.example.test", 1);
  X509Ptr second_ = make_certificate("est-second.example.test", 2);
  token::Bytes both() const {
    const auto first = signer::to_der(first_.get());
    const auto second = signer::to_der(second_.get());
    return certs_only_from_der(std::vector<std::span<const unsigned char>>{first, second});
  }
};

TEST_F(CertsOnlyTest, WrittenFromDerItIsByteForByteWhatOpensslWrites) {
  const auto first = signer::to_der(first_.get());
  const auto second = signer::to_der(second_.get());
  EXPECT_EQ(certs_only_from_der(std::vector<std::span<const unsigned char>>{first, second}),
            openssl_certs_only({first_.get(), second_.get()}));
  EXPECT_EQ(certs_only_from_der(std::vector<std::span<const unsigned char>>{first}), openssl_certs_only({first_.get()}));
}

TEST_F(CertsOnlyTest, HoldsBothCertificatesInOrderAndNoSigner) {
  const auto der = both();
  const unsigned char* p = der.data();
  Pkcs7Ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
  ASSERT_TRUE(p7) << signer::drain_openssl_errors();
  EXPECT_EQ(p, der.data() + der.size());
  ASSERT_TRUE(PKCS7_type_is_signed(p7.get()));
  const STACK_OF(X509)* certs = p7->d.sign->cert;
  ASSERT_EQ(sk_X509_num(certs), 2);
  EXPECT_EQ(X509_cmp(sk_X509_value(certs, 0), first_.get()), 0);
  EXPECT_EQ(X509_cmp(sk_X509_value(certs, 1), second_.get()), 0);
  EXPECT_EQ(sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7.get())), 0);
  // RFC 5652 5.2: eContentType id-data, eContent absent.
  EXPECT_TRUE(PKCS7_type_is_data(p7->d.sign->contents));
  EXPECT_EQ(p7->d.sign->contents->d.data, nullptr);
}

TEST_F(CertsOnlyTest, PrintsWithOpensslPkcs7) {
  const auto der = both();
  test::TempDir dir;
  test::write_file(dir / "cacerts.p7", std::string(der.begin(), der.end()));
  const auto result = test::run_process({"openssl", "pkcs7", "-inform", "DER", "-in", (dir / "cacerts.p7").string(),
                                         "-print_certs"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto a = result.out.find("est-first.example.test");
  const auto b = result.out.find("est-second.example.test");
  ASSERT_NE(a, std::string::npos) << result.out;
  ASSERT_NE(b, std::string::npos) << result.out;
  EXPECT_LT(a, b);
  EXPECT_NE(result.out.find(signer::to_pem(second_.get())), std::string::npos) << result.out;
}

token::Bytes bytes_of(const std::string& s) { return token::Bytes(s.begin(), s.end()); }

TEST(Base64Test, EncodesTheRfc4648Vectors) {
  EXPECT_EQ(base64_encode(bytes_of("")), "");
  EXPECT_EQ(base64_encode(bytes_of("f")), "Zg==");
  EXPECT_EQ(base64_encode(bytes_of("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(bytes_of("foo")), "Zm9v");
  EXPECT_EQ(base64_encode(bytes_of("foobar")), "Zm9vYmFy");
}

TEST(Base64Test, WritesOneLineWithoutBreaksAsRfc8951Requires) {
  const auto text = base64_encode(token::Bytes(100, 0xff));
  EXPECT_EQ(text, std::string(133, '/') + "w==");
  EXPECT_EQ(text.find_first_of("\r\n"), std::string::npos);
  EXPECT_EQ(base64_encode(token::Bytes(48, 0)), std::string(64, 'A'));
}

TEST(Base64Test, RoundTripsEveryLengthUpToAHundred) {
  for (std::size_t n = 0; n <= 100; ++n) {
    token::Bytes data(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<unsigned char>(i * 37 + n);
    const auto text = base64_encode(data);
    const auto back = base64_decode(text);
    ASSERT_TRUE(back) << n;
    EXPECT_EQ(*back, data) << n;
  }
}

TEST(Base64Test, DecodesAcrossLineBreaksAndSpaces) {
  EXPECT_EQ(base64_decode("Zm9v\r\nYmFy\r\n"), bytes_of("foobar"));
  EXPECT_EQ(base64_decode("  Zm 9v\tYm\nFy  "), bytes_of("foobar"));
  EXPECT_EQ(base64_decode("Zg=\r\n="), bytes_of("f"));
  EXPECT_EQ(base64_decode("Zm8="), bytes_of("fo"));
  EXPECT_EQ(base64_decode(""), token::Bytes{});
  EXPECT_EQ(base64_decode("\r\n"), token::Bytes{});
}

TEST(Base64Test, RefusesGarbageAndWrongPadding) {
  for (const char* text : {"Zm9v!", "Zm9", "Zg=", "Z===", "====", "Zg==Zg==", "=Zg=", "Zm9vY", "Zm9vYmFy=", "Zm-v", "Zm_v",
                           "Zm9v\x01", "Zm9v\xc3\xa9", "Zg=a", "Zm9v.YmFy"}) {
    EXPECT_EQ(base64_decode(text), std::nullopt) << text;
  }
  EXPECT_EQ(base64_decode(std::string_view("Zm9v\0YmFy", 9)), std::nullopt);
}

}  // namespace
}  // namespace hsmca::appliance
