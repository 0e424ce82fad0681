#pragma once
// Taking DER apart and putting it back together in other encodings, for tests
// that send the CA what a careless or hostile encoder would: long-form and
// indefinite lengths (BER, X.690 8.1.3) where DER (X.690 10.1) allows neither.
#include <cstddef>
#include <span>
#include <stdexcept>
#include <vector>

#include "hsmca/signer/der.hpp"

namespace hsmca::test {

using Bytes = std::vector<unsigned char>;

struct Tlv {
  std::size_t header = 0;  // octets of tag and length
  std::size_t length = 0;  // octets of content
};

// The header of the DER value at the start of `der` (tag in one octet).
inline Tlv tlv_at(std::span<const unsigned char> der) {
  if (der.size() < 2) throw std::invalid_argument("no TLV");
  const unsigned char first = der[1];
  if (first < 0x80) return {2, first};
  const std::size_t n = first & 0x7f;
  if (n == 0 || n > 4 || der.size() < 2 + n) throw std::invalid_argument("not a DER length");
  std::size_t length = 0;
  for (std::size_t i = 0; i < n; ++i) length = (length << 8) | der[2 + i];
  return {2 + n, length};
}

// The whole TLVs inside the constructed DER value `der`.
inline std::vector<Bytes> children(std::span<const unsigned char> der) {
  const Tlv outer = tlv_at(der);
  std::vector<Bytes> out;
  auto rest = der.subspan(outer.header, outer.length);
  while (!rest.empty()) {
    const Tlv t = tlv_at(rest);
    out.emplace_back(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(t.header + t.length));
    rest = rest.subspan(t.header + t.length);
  }
  return out;
}

enum class Form { der, long_form, indefinite };

// `tag` around the concatenated `parts`: as DER, with a long-form length one
// octet longer than needed, or with an indefinite length and end-of-contents.
inline Bytes wrap(unsigned char tag, const std::vector<Bytes>& parts, Form form = Form::der) {
  Bytes content;
  for (const auto& p : parts) content.insert(content.end(), p.begin(), p.end());
  Bytes out;
  switch (form) {
    case Form::der:
      signer::der::append_header(out, tag, content.size());
      break;
    case Form::long_form: {
      Bytes minimal;
      signer::der::append_header(minimal, tag, content.size());
      out.push_back(tag);
      if (minimal[1] < 0x80) {
        out.insert(out.end(), {0x81, minimal[1]});
      } else {
        out.push_back(static_cast<unsigned char>(minimal[1] + 1));
        out.push_back(0x00);
        out.insert(out.end(), minimal.begin() + 2, minimal.end());
      }
      break;
    }
    case Form::indefinite:
      out.insert(out.end(), {tag, 0x80});
      break;
  }
  out.insert(out.end(), content.begin(), content.end());
  if (form == Form::indefinite) out.insert(out.end(), {0x00, 0x00});
  return out;
}

}  // namespace hsmca::test
