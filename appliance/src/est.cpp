#include "hsmca/appliance/est.hpp"

#include <openssl/evp.h>
#include <openssl/pkcs7.h>

#include <climits>
#include <memory>
#include <stdexcept>

#include "hsmca/signer/der.hpp"
#include "hsmca/signer/openssl.hpp"

namespace hsmca::appliance {
namespace {

using Pkcs7Ptr = std::unique_ptr<PKCS7, signer::Free<PKCS7_free>>;


bool is_base64_char(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

}  // namespace

std::string base64_encode(const token::Bytes& data) {
  if (data.empty()) return {};
  if (data.size() > static_cast<std::size_t>(INT_MAX / 4 * 3 - 3)) throw std::length_error("base64_encode: too long");
  std::string out((data.size() + 2) / 3 * 4 + 1, '\0');  // EVP_EncodeBlock writes a NUL after the text
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

std::optional<token::Bytes> base64_decode(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (!is_base64_char(c) && c != '=') return std::nullopt;
    compact += ch;
  }
  if (compact.empty()) return token::Bytes{};
  if (compact.size() % 4 != 0 || compact.size() > static_cast<std::size_t>(INT_MAX)) return std::nullopt;
  std::size_t padding = 0;
  while (padding < compact.size() && compact[compact.size() - 1 - padding] == '=') ++padding;
  if (padding > 2) return std::nullopt;
  // '=' only at the very end: EVP_DecodeBlock would not notice one in the middle.
  if (compact.find('=') < compact.size() - padding) return std::nullopt;

  token::Bytes out(compact.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(compact.data()),
                                static_cast<int>(compact.size()));
  // EVP_DecodeBlock counts the padding as if it were data (3 bytes per quartet).
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - padding);
  return out;
}

namespace {

void append_tlv(token::Bytes& out, unsigned char tag, std::span<const unsigned char> content) {
  signer::der::append_header(out, tag, content.size());
  out.insert(out.end(), content.begin(), content.end());
}

}  // namespace

token::Bytes certs_only_from_der(const std::vector<std::span<const unsigned char>>& certs) {
  // ContentInfo { signedData, [0] SignedData { version 1, digestAlgorithms {},
  //   encapContentInfo { data }, certificates [0] IMPLICIT, signerInfos {} } }
  static constexpr unsigned char kSignedData[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
  static constexpr unsigned char kDataContentInfo[] = {0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48,
                                                       0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
  static constexpr unsigned char kVersionAndNoDigests[] = {0x02, 0x01, 0x01, 0x31, 0x00};
  static constexpr unsigned char kNoSignerInfos[] = {0x31, 0x00};
  token::Bytes all;
  for (const auto& c : certs) all.insert(all.end(), c.begin(), c.end());
  token::Bytes signed_data(std::begin(kVersionAndNoDigests), std::end(kVersionAndNoDigests));
  signed_data.insert(signed_data.end(), std::begin(kDataContentInfo), std::end(kDataContentInfo));
  append_tlv(signed_data, 0xa0, all);
  signed_data.insert(signed_data.end(), std::begin(kNoSignerInfos), std::end(kNoSignerInfos));
  token::Bytes sequence;
  append_tlv(sequence, 0x30, signed_data);
  token::Bytes explicit_content;
  append_tlv(explicit_content, 0xa0, sequence);
  token::Bytes info(std::begin(kSignedData), std::end(kSignedData));
  info.insert(info.end(), explicit_content.begin(), explicit_content.end());
  token::Bytes out;
  append_tlv(out, 0x30, info);
  return out;
}

}  // namespace hsmca::appliance
