#pragma once
// Just enough DER writing to wrap already-encoded parts (X.690 8.1.3, 8.6, 8.9).
#include <cstddef>
#include <initializer_list>
#include <span>
#include <vector>

namespace hsmca::signer::der {

using Bytes = std::vector<unsigned char>;

inline void append_header(Bytes& out, unsigned char tag, std::size_t length) {
  out.push_back(tag);
  if (length < 0x80) {
    out.push_back(static_cast<unsigned char>(length));
    return;
  }
  // Long form: the fewest big-endian octets, preceded by 0x80 | their count.
  unsigned char octets[sizeof(std::size_t)];
  std::size_t n = 0;
  for (std::size_t v = length; v != 0; v >>= 8) octets[n++] = static_cast<unsigned char>(v & 0xff);
  out.push_back(static_cast<unsigned char>(0x80 | n));
  while (n > 0) out.push_back(octets[--n]);
}

inline Bytes sequence(std::initializer_list<std::span<const unsigned char>> parts) {
  std::size_t length = 0;
  for (auto part : parts) length += part.size();
  Bytes out;
  out.reserve(length + 2 + sizeof(std::size_t));
  append_header(out, 0x30, length);
  for (auto part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// A BIT STRING of whole octets: the leading octet counts 0 unused bits.
inline Bytes bit_string(std::span<const unsigned char> octets) {
  Bytes out;
  out.reserve(octets.size() + 3 + sizeof(std::size_t));
  append_header(out, 0x03, octets.size() + 1);
  out.push_back(0x00);
  out.insert(out.end(), octets.begin(), octets.end());
  return out;
}

}  // namespace hsmca::signer::der
