#include "hsmca/signer/profile.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hsmca::signer {
namespace {

constexpr ExtendedKeyUsage kEvery[] = {
    ExtendedKeyUsage::server_auth,      ExtendedKeyUsage::client_auth,   ExtendedKeyUsage::code_signing,
    ExtendedKeyUsage::email_protection, ExtendedKeyUsage::time_stamping, ExtendedKeyUsage::ocsp_signing,
};

TEST(ProfileTest, EkuNamesAreTheOnesCaFilesUse) {
  EXPECT_EQ(eku_name(ExtendedKeyUsage::server_auth), "server_auth");
  EXPECT_EQ(eku_name(ExtendedKeyUsage::client_auth), "client_auth");
  EXPECT_EQ(eku_name(ExtendedKeyUsage::code_signing), "code_signing");
  EXPECT_EQ(eku_name(ExtendedKeyUsage::email_protection), "email_protection");
  EXPECT_EQ(eku_name(ExtendedKeyUsage::time_stamping), "time_stamping");
  EXPECT_EQ(eku_name(ExtendedKeyUsage::ocsp_signing), "ocsp_signing");
}

TEST(ProfileTest, EveryEkuNameParsesBackToItsValue) {
  for (ExtendedKeyUsage eku : kEvery) {
    SCOPED_TRACE(std::string(eku_name(eku)));
    EXPECT_EQ(parse_eku(eku_name(eku)), eku);
  }
}

TEST(ProfileTest, UnknownOrDifferentlySpelledEkuNamesDoNotParse) {
  for (const char* name : {"", "serverAuth", "server-auth", "SERVER_AUTH", "server_auth ", "any"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(parse_eku(name), std::nullopt);
  }
}

TEST(ProfileTest, EkuNamesListsEveryNameForErrorMessages) {
  EXPECT_EQ(eku_names(), "server_auth, client_auth, code_signing, email_protection, time_stamping, ocsp_signing");
}

TEST(ProfileTest, IsAServerProfileExactlyWhenItHasServerAuth) {
  Profile profile{.name = "client", .extended_key_usage = {ExtendedKeyUsage::client_auth}};
  EXPECT_FALSE(profile.server());
  profile.extended_key_usage.push_back(ExtendedKeyUsage::server_auth);
  EXPECT_TRUE(profile.server());
  EXPECT_FALSE(Profile{}.server());
}

TEST(ProfileTest, DefaultsToNinetyDaysAnyNameAndNoRemoteRequester) {
  const Profile profile;
  EXPECT_EQ(profile.validity_days, 90);
  EXPECT_FALSE(profile.names.restricted);
  EXPECT_TRUE(profile.names.dns.empty());
  EXPECT_EQ(profile.names.common_name, NamePolicy::CommonName::name);
  EXPECT_TRUE(profile.requesters.empty());
}

}  // namespace
}  // namespace hsmca::signer
