#include "hsmca/token/uri.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace hsmca::token {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string refusal(const std::string& text) {
  try {
    Pkcs11Uri::parse(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << text;
  return {};
}

TEST(Pkcs11UriTest, ParsesEveryPathAndQueryAttributeWeSelectOn) {
  auto uri = Pkcs11Uri::parse(
      "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=a1b2c3d4e5f60718;"
      "token=Example%20Root;id=%01%ab;object=root%20key;type=private"
      "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/hsmca/pin");
  EXPECT_EQ(uri.model, "SoftHSM v2");
  EXPECT_EQ(uri.manufacturer, "SoftHSM project");
  EXPECT_EQ(uri.serial, "a1b2c3d4e5f60718");
  EXPECT_EQ(uri.token, "Example Root");
  EXPECT_EQ(uri.id, (std::vector<unsigned char>{0x01, 0xab}));
  EXPECT_EQ(uri.object, "root key");
  EXPECT_EQ(uri.type, "private");
  EXPECT_EQ(uri.module_path, "/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(uri.pin_source, "file:/run/hsmca/pin");
}

TEST(Pkcs11UriTest, StrThenParseGivesBackEveryField) {
  Pkcs11Uri uri;
  uri.token = "Example Root; 100% ours?";
  uri.serial = "0011223344556677";
  uri.manufacturer = "ACME & Co";
  uri.model = "HSM/9000";
  uri.object = "issuing=2024";
  uri.id = {0x00, 0x7f, 0x80, 0xff, '0', '1'};
  uri.type = "private";
  uri.module_path = "/opt/hsm lib/libhsm.so";
  uri.pin_source = "file:/run/hsmca/pin";

  auto back = Pkcs11Uri::parse(uri.str());
  EXPECT_EQ(back.token, uri.token);
  EXPECT_EQ(back.serial, uri.serial);
  EXPECT_EQ(back.manufacturer, uri.manufacturer);
  EXPECT_EQ(back.model, uri.model);
  EXPECT_EQ(back.object, uri.object);
  EXPECT_EQ(back.id, uri.id);
  EXPECT_EQ(back.type, uri.type);
  EXPECT_EQ(back.module_path, uri.module_path);
  EXPECT_EQ(back.pin_source, uri.pin_source);
  // A second round trip is stable: str() is a function of the fields.
  EXPECT_EQ(back.str(), uri.str());
}

TEST(Pkcs11UriTest, WritesTheCanonicalTextForATokenKey) {
  Pkcs11Uri uri;
  uri.token = "Example Root";
  uri.id = {0x01, 0xab};
  uri.object = "root";
  uri.type = "private";
  EXPECT_EQ(uri.str(), "pkcs11:token=Example%20Root;id=%01%AB;object=root;type=private");
}

TEST(Pkcs11UriTest, PercentEncodesSpacesInTokenLabels) {
  Pkcs11Uri uri;
  uri.token = "Example Root CA";
  EXPECT_EQ(uri.str(), "pkcs11:token=Example%20Root%20CA");
  EXPECT_EQ(percent_encode("a b"), "a%20b");
}

TEST(Pkcs11UriTest, PercentEncodesEveryIdByteEvenWhenPrintable) {
  // libp11 reads "id=01" as the two text bytes '0' '1', so every byte is %XX.
  Pkcs11Uri uri;
  uri.id = {'0', '1', 'A', 0x00, 0xfe};
  EXPECT_EQ(uri.str(), "pkcs11:id=%30%31%41%00%FE");
}

TEST(Pkcs11UriTest, PercentEncodesUriDelimitersInsideValues) {
  EXPECT_EQ(percent_encode("a;b?c&d%e"), "a%3Bb%3Fc%26d%25e");
  EXPECT_EQ(percent_encode("x=y\"z"), "x%3Dy%22z");
}

TEST(Pkcs11UriTest, PercentEncodesSlashInPathValuesButNotInModulePath) {
  // RFC 7512 §2.3: "/" is available unencoded only in the query component.
  Pkcs11Uri uri;
  uri.token = "CA/Root";
  uri.module_path = "/usr/lib/softhsm/libsofthsm2.so";
  EXPECT_EQ(uri.str(), "pkcs11:token=CA%2FRoot?module-path=/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(percent_encode("a/b"), "a%2Fb");
}

TEST(Pkcs11UriTest, ReadsIdTextLiterallyWhenNotPercentEncoded) {
  EXPECT_EQ(Pkcs11Uri::parse("pkcs11:id=01").id, (std::vector<unsigned char>{'0', '1'}));
}

TEST(Pkcs11UriTest, AcceptsStandardAttributesItDoesNotSelectOn) {
  auto uri = Pkcs11Uri::parse(
      "pkcs11:library-description=SoftHSM;library-manufacturer=x;library-version=2.6;"
      "slot-description=y;slot-manufacturer=z;slot-id=3;token=t?module-name=softhsm2");
  EXPECT_EQ(uri.token, "t");
}

TEST(Pkcs11UriTest, RefusesPinValue) {
  auto why = refusal("pkcs11:token=t?pin-value=1234");
  EXPECT_THAT(why, HasSubstr("pin-value"));
  EXPECT_THAT(why, Not(HasSubstr("1234")));
}

TEST(Pkcs11UriTest, RefusesUnknownPathAttributeNamingIt) {
  EXPECT_THAT(refusal("pkcs11:token=t;tokn=u"), HasSubstr("'tokn'"));
}

TEST(Pkcs11UriTest, RefusesUnknownQueryAttributeNamingIt) {
  EXPECT_THAT(refusal("pkcs11:token=t?module-paht=/x.so"), HasSubstr("'module-paht'"));
}

TEST(Pkcs11UriTest, RefusesUnknownObjectType) {
  EXPECT_THAT(refusal("pkcs11:object=k;type=privat"), HasSubstr("privat"));
}

TEST(Pkcs11UriTest, RefusesBadPercentEncoding) {
  EXPECT_THAT(refusal("pkcs11:token=Example%2"), HasSubstr("'token'"));
  EXPECT_THAT(refusal("pkcs11:token=Example%"), HasSubstr("'token'"));
  EXPECT_THAT(refusal("pkcs11:token=Ex%zzample"), HasSubstr("'token'"));
  EXPECT_THAT(refusal("pkcs11:id=%0g"), HasSubstr("'id'"));
  EXPECT_THAT(refusal("pkcs11:token=t?pin-source=file:%2"), HasSubstr("'pin-source'"));
}

TEST(Pkcs11UriTest, DecodesAPercentEscapeAtTheVeryEnd) {
  EXPECT_EQ(Pkcs11Uri::parse("pkcs11:token=Root%21").token, "Root!");
}

TEST(Pkcs11UriTest, RefusesTextWithoutThePkcs11Scheme) {
  EXPECT_THROW(Pkcs11Uri::parse("token=Example"), std::invalid_argument);
  EXPECT_THROW(Pkcs11Uri::parse("PKCS11-token=Example"), std::invalid_argument);
}

TEST(Pkcs11UriTest, RefusesAPathAttributeWithoutValueWithoutRepeatingIt) {
  EXPECT_THAT(refusal("pkcs11:token"), HasSubstr("a path attribute has no value"));
  auto why = refusal("pkcs11:token=t;s3cr3t-pin-value");
  EXPECT_THAT(why, HasSubstr("has no value"));
  EXPECT_THAT(why, Not(HasSubstr("s3cr3t-pin-value")));
}

TEST(Pkcs11UriTest, RefusesAQueryItemWithoutValueWithoutRepeatingIt) {
  // A PIN typed where "pin-source=" belongs must not end up in an error message.
  auto why = refusal("pkcs11:token=t?s3cr3t-pin-value");
  EXPECT_THAT(why, HasSubstr("has no value"));
  EXPECT_THAT(why, Not(HasSubstr("s3cr3t-pin-value")));
}

}  // namespace
}  // namespace hsmca::token
