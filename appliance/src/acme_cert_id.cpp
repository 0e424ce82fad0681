#include "acme_cert_id.hpp"

#include <openssl/x509v3.h>

#include "acme_jws.hpp"
#include "hsmca/signer/openssl.hpp"

namespace hsmca::appliance::acme {

namespace {

constexpr std::size_t kMaxKeyId = 64;
constexpr std::size_t kMaxSerial = 21;  // 20 octets (RFC 5280 4.1.2.2) and a leading zero

}  // namespace

std::optional<CertId> parse_cert_id(std::string_view text) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos || text.size() > 200) return std::nullopt;
  const auto key_id = base64url_decode(text.substr(0, dot));
  const auto serial = base64url_decode(text.substr(dot + 1));
  if (!key_id || !serial || key_id->empty() || key_id->size() > kMaxKeyId || serial->empty() ||
      serial->size() > kMaxSerial) {
    return std::nullopt;
  }
  const auto& s = *serial;
  if ((s[0] & 0x80) != 0) return std::nullopt;                         // negative
  if (s.size() > 1 && s[0] == 0 && (s[1] & 0x80) == 0) return std::nullopt;  // not minimal
  // The ledger's serial is the magnitude's octets (ASN1_INTEGER's), "00" for zero.
  const std::size_t skip = s.size() > 1 && s[0] == 0 ? 1 : 0;
  return CertId{signer::to_hex(*key_id), signer::to_hex(std::span(s).subspan(skip))};
}

std::string cert_id_of(X509* certificate) {
  const ASN1_OCTET_STRING* key_id = X509_get0_authority_key_id(certificate);
  if (key_id == nullptr) return {};
  // The INTEGER's content octets: OpenSSL keeps the magnitude, DER adds a
  // zero octet when its top bit is set (the serial is positive).
  const ASN1_INTEGER* serial = X509_get0_serialNumber(certificate);
  if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) return {};
  const std::span magnitude(ASN1_STRING_get0_data(serial), static_cast<std::size_t>(ASN1_STRING_length(serial)));
  signer::Bytes content;
  if (magnitude.empty() || (magnitude[0] & 0x80) != 0) content.push_back(0);
  content.insert(content.end(), magnitude.begin(), magnitude.end());
  return base64url_encode(std::span(ASN1_STRING_get0_data(key_id), static_cast<std::size_t>(ASN1_STRING_length(key_id)))) +
         "." + base64url_encode(content);
}

}  // namespace hsmca::appliance::acme
