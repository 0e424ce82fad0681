#include <gtest/gtest.h>

#include <string>

#include "hsmca/signer/certificate.hpp"

namespace hsmca::signer {
namespace {

DistinguishedName valid_name() {
  return {.country = "DE", .organization = "Example", .common_name = "Example Root"};
}

// The std::invalid_argument message to_x509_name throws, or "" if it accepts.
std::string rejection(const DistinguishedName& name) {
  try {
    to_x509_name(name);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

TEST(DistinguishedNameTest, AcceptsAUsualName) { EXPECT_EQ(rejection(valid_name()), ""); }

TEST(DistinguishedNameTest, RequiresACommonName) {
  DistinguishedName name = valid_name();
  name.common_name.clear();
  EXPECT_EQ(rejection(name), "subject common_name is required");
}

TEST(DistinguishedNameTest, RequiresCountryToBeTwoCapitalLetters) {
  for (const char* country : {"DEU", "D", "", "de", "D1"}) {
    DistinguishedName name = valid_name();
    name.country = country;
    EXPECT_NE(rejection(name).find("subject country must be two capital letters"), std::string::npos)
        << '"' << country << '"';
  }
}

TEST(DistinguishedNameTest, RejectsEmptyAttributesInsteadOfLeavingThemOut) {
  DistinguishedName name = valid_name();
  name.organizational_unit = "";
  EXPECT_EQ(rejection(name), "subject organizational_unit must not be empty (leave it out instead)");
}

TEST(DistinguishedNameTest, CountsTheUpperBoundInCharactersNotBytes) {
  DistinguishedName name = valid_name();
  name.common_name.clear();
  for (int i = 0; i < 64; ++i) name.common_name += "é";  // 64 characters, 128 bytes
  EXPECT_EQ(rejection(name), "");
  name.common_name += "e";
  EXPECT_EQ(rejection(name), "subject common_name must be valid UTF-8 of at most 64 characters");
}

TEST(DistinguishedNameTest, RejectsInvalidUtf8) {
  DistinguishedName name = valid_name();
  name.organization = "Ex\xc3" "ample";  // a lead byte with no continuation byte
  EXPECT_EQ(rejection(name), "subject organization must be valid UTF-8 of at most 64 characters");
}

TEST(DistinguishedNameTest, RejectsControlCharactersSuchAsAnEmbeddedNul) {
  DistinguishedName name = valid_name();
  name.common_name = std::string("evil.example\0.good.example", 26);
  EXPECT_EQ(rejection(name), "subject common_name must not contain control characters");
}

}  // namespace
}  // namespace hsmca::signer
