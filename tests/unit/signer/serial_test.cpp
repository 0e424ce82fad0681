#include "hsmca/signer/serial.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hsmca::signer {
namespace {

TEST(SerialTest, KeepsTheLedgersOwnSpelling) { EXPECT_EQ(parse_serial("67cf47"), "67cf47"); }

TEST(SerialTest, ReadsOpensslAndBrowserSpellingsAsTheSameSerial) {
  for (const char* text : {"67CF47", "67:CF:47", "67:cf:47", "0x67cf47", "0X67CF47", "0x67:CF:47", "67:Cf47"}) {
    EXPECT_EQ(parse_serial(text), "67cf47") << text;
  }
}

// What the appliance's own reading of GET/POST /certs/{serial} accepts
// (colons dropped wherever they are, any case), so it can switch to this one.
TEST(SerialTest, TakesColonsWhereverTheyAre) {
  for (const char* text : {":67cf47", "67cf47:", "67::cf::47", "6:7c:f4:7", "6:7:c:f:4:7", "0x:67:cf:47"}) {
    EXPECT_EQ(parse_serial(text), "67cf47") << text;
  }
}

TEST(SerialTest, KeepsLeadingZerosBecauseTheLedgerSpellsTheContentOctets) {
  EXPECT_EQ(parse_serial("00:7F"), "007f");
  EXPECT_EQ(parse_serial("0x0a"), "0a");
  EXPECT_EQ(parse_serial("00"), "00");
}

TEST(SerialTest, RefusesInputWithoutDigits) {
  for (const char* text : {"", ":", ":::", "0x", "0X", "0x:"}) {
    EXPECT_FALSE(parse_serial(text)) << '"' << text << '"';
  }
}

TEST(SerialTest, RefusesAnythingButHexDigitsAndColons) {
  for (const char* text : {"67cg47", "67 cf 47", " 67cf47", "67cf47\n", "67-cf-47", "-7f", "+7f", "x7f", "7f0x",
                           "0x0x7f", "serial=67CF47", "67\xc3\xa9"}) {
    EXPECT_FALSE(parse_serial(text)) << text;
  }
  EXPECT_FALSE(parse_serial(std::string("67\0cf", 5)));
}

TEST(SerialTest, AcceptsTwentyOctetsAndRefusesMore) {
  const std::string twenty(40, 'f');
  EXPECT_EQ(parse_serial(twenty), twenty);
  std::string colons;
  for (std::size_t i = 0; i < twenty.size(); i += 2) colons += (i ? ":" : "") + std::string("FF");
  EXPECT_EQ(parse_serial(colons), twenty);
  EXPECT_EQ(parse_serial("0x" + twenty), twenty);
  EXPECT_FALSE(parse_serial(twenty + "f"));
  EXPECT_FALSE(parse_serial(colons + ":FF"));
  EXPECT_FALSE(parse_serial(std::string(100000, '1')));
}

}  // namespace
}  // namespace hsmca::signer
