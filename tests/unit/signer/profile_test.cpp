#include "hsmca/signer/profile.hpp"

#include <gtest/gtest.h>

#include <string>

#include "process.hpp"
#include "softhsm_env.hpp"

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

TEST(ProfileTest, CsrAttributesNameEachKeyTypeTheProfileTakesAndNothingOtherwise) {
  Profile any{.name = "any"};
  EXPECT_TRUE(csr_attributes(any).empty()) << "EST answers 204: nothing asked";
  Profile p256{.name = "p", .key_types = {"ec-p256"}};
  // SEQUENCE { SEQUENCE { id-ecPublicKey, SET { prime256v1 } } } (RFC 9908 3.2)
  const std::vector<unsigned char> expected = {0x30, 0x17, 0x30, 0x15, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
                                               0x01, 0x31, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
                                               0x07};
  EXPECT_EQ(csr_attributes(p256), expected);
  Profile all{.name = "all"};
  for (auto t : kRequestKeyTypes) all.key_types.emplace_back(t);
  const auto der = csr_attributes(all);
  test::TempDir dir;
  test::write_file(dir / "attrs.der", std::string(der.begin(), der.end()));
  const auto parsed = test::run_process({"openssl", "asn1parse", "-inform", "DER", "-in", (dir / "attrs.der").string()});
  ASSERT_EQ(parsed.exit_code, 0) << parsed.err;
  for (const char* want : {"id-ecPublicKey", "prime256v1", "secp384r1", "secp521r1", "ED25519", "rsaEncryption",
                           "INTEGER           :0800", "INTEGER           :0C00", "INTEGER           :1000"}) {
    EXPECT_NE(parsed.out.find(want), std::string::npos) << want << "\n" << parsed.out;
  }
}

}  // namespace
}  // namespace hsmca::signer
