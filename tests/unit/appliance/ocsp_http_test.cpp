#include "hsmca/appliance/ocsp_http.hpp"

#include <gtest/gtest.h>

namespace hsmca::appliance {
namespace {

const token::Bytes kDer{0x30, 0x03, 0xfb, 0xff, 0x3e};  // base64 "MAP7/z4=": a '/' and padding

TEST(OcspHttpTest, DecodesTheUrlEncodedBase64OfAGetRequest) {
  EXPECT_EQ(decode_ocsp_get("MAP7%2Fz4%3D"), kDer);
  EXPECT_EQ(decode_ocsp_get("MAP7/z4="), kDer) << "a raw '/' as some clients send it";
  EXPECT_EQ(decode_ocsp_get("MAP7_z4"), kDer) << "URL-safe alphabet without padding";
  EXPECT_EQ(decode_ocsp_get("MAP7%2fz4%3d"), kDer) << "lowercase percent-encoding";
  EXPECT_EQ(decode_ocsp_get("-w%3D%3D"), (token::Bytes{0xfb}));
  EXPECT_EQ(decode_ocsp_get("%2Bw=="), (token::Bytes{0xfb}));
}

TEST(OcspHttpTest, RefusesWhatIsNotBase64) {
  EXPECT_EQ(decode_ocsp_get(""), std::nullopt);
  EXPECT_EQ(decode_ocsp_get("MAP7%2"), std::nullopt) << "truncated escape";
  EXPECT_EQ(decode_ocsp_get("MAP7%zz"), std::nullopt);
  EXPECT_EQ(decode_ocsp_get("MA P7"), std::nullopt);
  EXPECT_EQ(decode_ocsp_get("M*P7"), std::nullopt);
  EXPECT_EQ(decode_ocsp_get("M"), std::nullopt) << "one character is no octet";
}

TEST(OcspHttpTest, FormatsHttpDatesAsImfFixdate) {
  EXPECT_EQ(http_date(std::chrono::system_clock::from_time_t(784111777)), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(http_date(std::chrono::system_clock::from_time_t(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
}

}  // namespace
}  // namespace hsmca::appliance
