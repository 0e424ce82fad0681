#pragma once
// Just enough DER writing to wrap already-encoded parts (X.690 8.1.3, 8.6, 8.9),
// and the bytes of an OpenSSL object through its i2d function.
#include <cstddef>
#include <initializer_list>
#include <span>
#include <vector>

#include "hsmca/signer/openssl.hpp"

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

// `object` encoded by OpenSSL's `i2d` (i2d_X509, i2d_re_X509_tbs, ...): once
// for the length, once into a buffer of that size. Throws OpenSslError(what).
template <typename I2d, typename T>
Bytes encode(I2d i2d, T* object, const char* what) {
  const int len = i2d(object, nullptr);
  if (len <= 0) throw OpenSslError(what);
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  if (i2d(object, &p) != len) throw OpenSslError(what);
  return der;
}

}  // namespace hsmca::signer::der
