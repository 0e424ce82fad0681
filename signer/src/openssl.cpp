#include "hsmca/signer/openssl.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <array>
#include <climits>

#include "hsmca/signer/der.hpp"

namespace hsmca::signer {

std::string drain_openssl_errors() {
  std::string reasons;
  while (unsigned long code = ERR_get_error()) {
    if (!reasons.empty()) reasons += "; ";
    // The reason alone ("no start line"); the full "error:0480006C:PEM
    // routines::no start line" only when the library has no text for it.
    if (const char* reason = ERR_reason_error_string(code)) {
      reasons += reason;
    } else {
      std::array<char, 256> buf{};
      ERR_error_string_n(code, buf.data(), buf.size());
      reasons += buf.data();
    }
  }
  return reasons;
}

OpenSslError::OpenSslError(const std::string& what)
    : std::runtime_error([&] {
        std::string reasons = drain_openssl_errors();
        return reasons.empty() ? what : what + ": " + reasons;
      }()) {}

std::int64_t unix_seconds(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) throw OpenSslError("ASN1_TIME_to_tm");
  using namespace std::chrono;
  const sys_days day = year{tm.tm_year + 1900} / month{static_cast<unsigned>(tm.tm_mon + 1)} /
                       static_cast<unsigned>(tm.tm_mday);
  const sys_seconds t = day + hours{tm.tm_hour} + minutes{tm.tm_min} + seconds{tm.tm_sec};
  return t.time_since_epoch().count();
}

bool is_lower_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

Asn1IntegerPtr integer_from_hex(const std::string& hex) {
  BIGNUM* raw = nullptr;
  if (hex.empty() || BN_hex2bn(&raw, hex.c_str()) != static_cast<int>(hex.size())) {
    BN_free(raw);
    drain_openssl_errors();
    return nullptr;
  }
  const BignumPtr bn(raw);
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial) throw OpenSslError("BN_to_ASN1_INTEGER");
  return serial;
}

std::string to_hex(std::span<const unsigned char> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0x0f];
  }
  return out;
}

std::optional<std::vector<unsigned char>> from_hex(std::string_view hex, char separator) {
  if (hex.empty()) return std::vector<unsigned char>{};
  const std::string text(hex);  // OPENSSL_hexstr2buf_ex reads a C string
  std::vector<unsigned char> out(hex.size() / 2);
  std::size_t length = 0;
  if (OPENSSL_hexstr2buf_ex(out.data(), out.size(), &length, text.c_str(), separator) != 1) {
    drain_openssl_errors();
    return std::nullopt;
  }
  out.resize(length);
  return out;
}

std::string sha256_hex(std::span<const unsigned char> bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
    throw OpenSslError("EVP_Digest(SHA-256)");
  }
  return to_hex(std::span(md.data(), len));
}

std::string to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) throw OpenSslError("PEM_write_bio_X509");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<std::size_t>(len)};
}

Bytes to_der(X509* cert) { return der::encode(i2d_X509, cert, "i2d_X509"); }

EvpPkeyPtr public_key_from_spki(const Bytes& spki_der) {
  if (spki_der.size() > INT_MAX) throw std::invalid_argument("SubjectPublicKeyInfo too large");
  const unsigned char* p = spki_der.data();
  const auto len = static_cast<long>(spki_der.size());
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, len));
  if (!key) throw OpenSslError("d2i_PUBKEY: not a SubjectPublicKeyInfo");
  if (p != spki_der.data() + spki_der.size()) {
    throw std::invalid_argument("SubjectPublicKeyInfo has trailing bytes");
  }
  return key;
}

}  // namespace hsmca::signer
