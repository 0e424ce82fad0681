// RFC 9773 4.1's certID: read as the ledger files certificates, and nothing
// else taken for one. (Written from a certificate: acme_service_test.)
#include "acme_cert_id.hpp"

#include <gtest/gtest.h>


namespace hsmca::appliance::acme {
namespace {

// RFC 9773 4.1's example: keyIdentifier 69:88:5B:..:C8:D4, serial 0x0087654321.
TEST(AcmeCertIdTest, ReadsTheRfcExampleAsTheLedgerFilesIt) {
  const auto id = parse_cert_id("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->issuer_id, "69885b6b87464041e1b37b847ba0ae2cde01c8d4");
  EXPECT_EQ(id->serial, "87654321") << "the magnitude's octets, as serial_hex prints an ASN1_INTEGER";
}

TEST(AcmeCertIdTest, RefusesWhatIsNotOneCanonicalCertId) {
  for (const char* bad : {"", ".", "aYhba4dGQEHhs3uEe6CuLN4ByNQ", "aYhba4dGQEHhs3uEe6CuLN4ByNQ.",
                          ".AIdlQyE", "aYhba4dGQEHhs3uEe6CuLN4ByNQ=.AIdlQyE",  // padding
                          "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE.AA",           // a third part
                          "aYhba4dGQEHhs3uEe6CuLN4ByNQ.gA",                   // 0x80: a negative serial
                          "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AAE",                  // 00 01: not minimal
                          "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyF",              // not base64url's one spelling
                          "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdl+yE"}) {
    EXPECT_FALSE(parse_cert_id(bad)) << bad;
  }
  // A serial of 22 octets is longer than RFC 5280 allows.
  EXPECT_FALSE(parse_cert_id("aYhba4dGQEHhs3uEe6CuLN4ByNQ." + std::string(30, 'A')));
}

}  // namespace
}  // namespace hsmca::appliance::acme
