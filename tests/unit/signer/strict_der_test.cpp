// The DER walk (signer/src/strict_der.hpp) that every request passes first.
#include "strict_der.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "hsmca/signer/der.hpp"

namespace hsmca::signer::detail {
namespace {

using Bytes = std::vector<unsigned char>;

bool is_der(const Bytes& b) { return !der_violation(b).has_value(); }

TEST(StrictDerTest, AcceptsDer) {
  EXPECT_TRUE(is_der({0x30, 0x03, 0x02, 0x01, 0x00}));                    // SEQUENCE { INTEGER 0 }
  EXPECT_TRUE(is_der({0x02, 0x02, 0x00, 0x80}));                          // INTEGER 128
  EXPECT_TRUE(is_der({0x01, 0x01, 0xff}));                                // BOOLEAN TRUE
  EXPECT_TRUE(is_der({0x03, 0x02, 0x04, 0xf0}));                          // BIT STRING, 4 unused zero bits
  EXPECT_TRUE(is_der({0x06, 0x03, 0x2a, 0x86, 0x48}));                    // 1.2.840
  EXPECT_TRUE(is_der({0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}));  // SET OF in order
  EXPECT_TRUE(is_der({0x80, 0x01, 0x00}));                                // [0] primitive: the schema's business
  Bytes long_content = {0x04, 0x81, 0x80};
  long_content.resize(3 + 0x80);
  EXPECT_TRUE(is_der(long_content));
}

TEST(StrictDerTest, RefusesBerLengths) {
  EXPECT_FALSE(is_der({0x02, 0x81, 0x01, 0x00}));                    // long form where short fits
  EXPECT_FALSE(is_der({0x04, 0x82, 0x00, 0x80}));                    // leading zero octet
  EXPECT_FALSE(is_der({0x30, 0x80, 0x02, 0x01, 0x00, 0x00, 0x00}));  // indefinite
  EXPECT_FALSE(is_der({0x30, 0x03, 0x02, 0x01}));                    // past the end
  EXPECT_FALSE(is_der({0x02, 0x01, 0x00, 0x00}));                    // trailing octet
  EXPECT_FALSE(is_der({}));
}

TEST(StrictDerTest, RefusesNonCanonicalContent) {
  EXPECT_FALSE(is_der({0x01, 0x01, 0x01}));                                // BOOLEAN TRUE as 01
  EXPECT_FALSE(is_der({0x02, 0x02, 0x00, 0x01}));                          // INTEGER padded
  EXPECT_FALSE(is_der({0x02, 0x02, 0xff, 0x80}));                          // negative INTEGER padded
  EXPECT_FALSE(is_der({0x03, 0x02, 0x04, 0xf1}));                          // unused bits set
  EXPECT_FALSE(is_der({0x03, 0x01, 0x01}));                                // unused bits of nothing
  EXPECT_FALSE(is_der({0x05, 0x01, 0x00}));                                // NULL with content
  EXPECT_FALSE(is_der({0x06, 0x03, 0x2a, 0x80, 0x01}));                    // padded subidentifier
  EXPECT_FALSE(is_der({0x31, 0x06, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01}));  // SET OF out of order
  EXPECT_FALSE(is_der({0x24, 0x03, 0x04, 0x01, 0x00}));                    // constructed OCTET STRING
  EXPECT_FALSE(is_der({0x10, 0x00}));                                      // primitive SEQUENCE
  EXPECT_FALSE(is_der({0x00, 0x00}));                                      // end-of-contents
  EXPECT_FALSE(is_der({0x9f, 0x05, 0x00}));                                // tag 5 in the long form
}

// A 64 KiB request could nest 20,000 deep; the walk stops at 32.
TEST(StrictDerTest, RefusesNestingBeyondItsLimit) {
  const auto nest = [](int levels) {
    Bytes v = {0x05, 0x00};
    for (int i = 0; i < levels; ++i) {
      Bytes outer;
      der::append_header(outer, 0x30, v.size());
      outer.insert(outer.end(), v.begin(), v.end());
      v = std::move(outer);
    }
    return v;
  };
  EXPECT_TRUE(is_der(nest(32)));
  EXPECT_FALSE(is_der(nest(33)));
  EXPECT_FALSE(is_der(nest(20000)));
}

TEST(StrictDerTest, SaysWhereAndWhat) {
  const auto why = der_violation(Bytes{0x30, 0x04, 0x02, 0x81, 0x01, 0x00});
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "a length in the long form where the short form fits at offset 2");
}

TEST(StrictDerTest, FindsTheFirstValueOfASequence) {
  const Bytes s = {0x30, 0x06, 0x30, 0x02, 0x05, 0x00, 0x05, 0x00};
  const auto first = first_in_sequence(s);
  EXPECT_EQ(Bytes(first.begin(), first.end()), (Bytes{0x30, 0x02, 0x05, 0x00}));
}

}  // namespace
}  // namespace hsmca::signer::detail
