#include "strict_der.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace hsmca::signer::detail {
namespace {

// OpenSSL's ASN1_MAX_CONSTRUCTED_NEST is 30; a request needs about ten.
constexpr int kMaxDepth = 32;

constexpr unsigned kUniversal = 0;
constexpr std::uint32_t kBoolean = 1;
constexpr std::uint32_t kInteger = 2;
constexpr std::uint32_t kBitString = 3;
constexpr std::uint32_t kNull = 5;
constexpr std::uint32_t kObjectIdentifier = 6;
constexpr std::uint32_t kEnumerated = 10;
constexpr std::uint32_t kRelativeOid = 13;
constexpr std::uint32_t kSequence = 16;
constexpr std::uint32_t kSet = 17;

using Violation = std::optional<std::string>;

Violation at(const std::string& what, std::size_t offset) { return what + " at offset " + std::to_string(offset); }

// X.690 8.19.2: each subidentifier in the fewest octets (no leading 0x80).
bool minimal_subidentifiers(std::span<const unsigned char> c) {
  if (c.empty() || (c.back() & 0x80) != 0) return false;
  bool start = true;
  for (const unsigned char octet : c) {
    if (start && octet == 0x80) return false;
    start = (octet & 0x80) == 0;
  }
  return true;
}

// The content rules of the universal types whose DER content has one form.
Violation check_content(std::uint32_t number, std::span<const unsigned char> c, std::size_t offset) {
  switch (number) {
    case kBoolean:  // X.690 11.1
      if (c.size() != 1 || (c[0] != 0x00 && c[0] != 0xff)) return at("a BOOLEAN other than 00 or ff", offset);
      break;
    case kInteger:  // X.690 8.3.2
    case kEnumerated:
      if (c.empty()) return at("an empty INTEGER", offset);
      if (c.size() > 1 && ((c[0] == 0x00 && (c[1] & 0x80) == 0) || (c[0] == 0xff && (c[1] & 0x80) != 0))) {
        return at("an INTEGER not in its fewest octets", offset);
      }
      break;
    case kBitString:  // X.690 8.6.2, 11.2.1
      if (c.empty() || c[0] > 7 || (c.size() == 1 && c[0] != 0)) return at("a BIT STRING with a bad unused-bits octet", offset);
      if (c[0] != 0 && (c.back() & ((1u << c[0]) - 1)) != 0) return at("a BIT STRING whose unused bits are not zero", offset);
      break;
    case kNull:
      if (!c.empty()) return at("a NULL with content", offset);
      break;
    case kObjectIdentifier:
    case kRelativeOid:
      if (!minimal_subidentifiers(c)) return at("an OBJECT IDENTIFIER not in its fewest octets", offset);
      break;
    default: break;
  }
  return std::nullopt;
}

// X.690 11.6: a SET's encodings in ascending order, compared as octet strings.
bool in_order(std::span<const unsigned char> a, std::span<const unsigned char> b) {
  return !std::ranges::lexicographical_compare(b, a);
}

class Walk {
 public:
  explicit Walk(std::span<const unsigned char> der) : der_(der) {}

  // The value starting at `offset` and ending at or before `limit`; `end` is
  // where it ends.
  Violation value(std::size_t offset, std::size_t limit, int depth, std::size_t& end) const {
    std::size_t pos = offset;
    if (pos >= limit) return at("a value cut short", offset);
    const unsigned char identifier = der_[pos++];
    const unsigned tag_class = identifier >> 6;
    const bool constructed = (identifier & 0x20) != 0;
    std::uint32_t number = identifier & 0x1f;
    if (number == 0x1f) {  // X.690 8.1.2.4: high tag number, base 128
      number = 0;
      for (int i = 0;; ++i) {
        if (pos >= limit || i == 4) return at("a tag number cut short or too long", offset);
        const unsigned char octet = der_[pos++];
        if (i == 0 && octet == 0x80) return at("a tag number not in its fewest octets", offset);
        number = (number << 7) | (octet & 0x7fu);
        if ((octet & 0x80) == 0) break;
      }
      if (number < 0x1f) return at("a tag number in the long form where one octet holds it", offset);
    }

    if (pos >= limit) return at("a length cut short", offset);
    const unsigned char first = der_[pos++];
    std::size_t length = first;
    if (first == 0x80) return at("an indefinite length", offset);  // X.690 10.1
    if (first > 0x80) {
      const std::size_t n = first & 0x7fu;
      if (n > 4) return at("a length of more than four octets", offset);
      if (limit - pos < n) return at("a length cut short", offset);
      if (der_[pos] == 0) return at("a long-form length with a leading zero octet", offset);
      length = 0;
      for (std::size_t i = 0; i < n; ++i) length = (length << 8) | der_[pos++];
      if (length < 0x80) return at("a length in the long form where the short form fits", offset);
    }
    if (length > limit - pos) return at("a length that reaches past the end", offset);
    end = pos + length;

    if (tag_class == kUniversal) {
      if (number == 0) return at("an end-of-contents or tag 0", offset);
      const bool structured = number == kSequence || number == kSet;
      if (structured && !constructed) return at("a primitive SEQUENCE or SET", offset);
      // X.690 10.2: strings in DER are primitive; a constructed one is BER.
      if (!structured && constructed) return at("a constructed universal type other than SEQUENCE or SET", offset);
    }
    if (!constructed) {
      if (tag_class != kUniversal) return std::nullopt;
      return check_content(number, der_.subspan(pos, length), offset);
    }

    if (depth >= kMaxDepth) return at("values nested too deep", offset);
    const bool set = tag_class == kUniversal && number == kSet;
    std::span<const unsigned char> previous;
    for (std::size_t child = pos; child < end;) {
      std::size_t child_end = 0;
      if (auto bad = value(child, end, depth + 1, child_end)) return bad;
      const auto encoding = der_.subspan(child, child_end - child);
      if (set && !previous.empty() && !in_order(previous, encoding)) {
        return at("a SET whose elements are not in DER order", offset);
      }
      previous = encoding;
      child = child_end;
    }
    return std::nullopt;
  }

 private:
  std::span<const unsigned char> der_;
};

}  // namespace

std::optional<std::string> der_violation(std::span<const unsigned char> der) {
  if (der.empty()) return "nothing to read";
  std::size_t end = 0;
  if (auto bad = Walk(der).value(0, der.size(), 0, end)) return bad;
  if (end != der.size()) return std::to_string(der.size() - end) + " octets follow the value";
  return std::nullopt;
}

std::span<const unsigned char> first_in_sequence(std::span<const unsigned char> der) {
  // Both headers are DER here: a tag octet, then a short length or 0x8n and n octets.
  const auto header = [](std::span<const unsigned char> v) -> std::size_t {
    return v[1] < 0x80 ? 2 : 2 + (v[1] & 0x7fu);
  };
  const auto content_length = [](std::span<const unsigned char> v) -> std::size_t {
    if (v[1] < 0x80) return v[1];
    std::size_t length = 0;
    for (std::size_t i = 0; i < (v[1] & 0x7fu); ++i) length = (length << 8) | v[2 + i];
    return length;
  };
  const auto inner = der.subspan(header(der));
  return inner.first(header(inner) + content_length(inner));
}

}  // namespace hsmca::signer::detail
