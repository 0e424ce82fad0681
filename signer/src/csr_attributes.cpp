#include <array>

#include "hsmca/signer/der.hpp"
#include "hsmca/signer/profile.hpp"

namespace hsmca::signer {
namespace {

using der::Bytes;

// OBJECT IDENTIFIERs, DER.
constexpr std::array<unsigned char, 9> kEcPublicKey = {0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
constexpr std::array<unsigned char, 10> kPrime256v1 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr std::array<unsigned char, 7> kSecp384r1 = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
constexpr std::array<unsigned char, 7> kSecp521r1 = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
constexpr std::array<unsigned char, 11> kRsaEncryption = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                                          0xf7, 0x0d, 0x01, 0x01, 0x01};
constexpr std::array<unsigned char, 5> kEd25519 = {0x06, 0x03, 0x2b, 0x65, 0x70};

// Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET OF ANY } with one value.
Bytes attribute(std::span<const unsigned char> type, std::span<const unsigned char> value) {
  Bytes set;
  der::append_header(set, 0x31, value.size());
  set.insert(set.end(), value.begin(), value.end());
  return der::sequence({type, set});
}

// INTEGER `bits` (2048..4096 fit two octets without a sign octet).
Bytes integer(unsigned bits) {
  return {0x02, 0x02, static_cast<unsigned char>(bits >> 8), static_cast<unsigned char>(bits & 0xff)};
}

// One AttrOrOID for a key type of kRequestKeyTypes (RFC 9908 3.2, 3.3).
Bytes attr_or_oid(std::string_view type) {
  if (type == "ec-p256") return attribute(kEcPublicKey, kPrime256v1);
  if (type == "ec-p384") return attribute(kEcPublicKey, kSecp384r1);
  if (type == "ec-p521") return attribute(kEcPublicKey, kSecp521r1);
  if (type == "ed25519") return Bytes(kEd25519.begin(), kEd25519.end());
  if (type == "rsa-2048") return attribute(kRsaEncryption, integer(2048));
  if (type == "rsa-3072") return attribute(kRsaEncryption, integer(3072));
  return attribute(kRsaEncryption, integer(4096));  // rsa-4096: the CA file admits no other
}

}  // namespace

std::vector<unsigned char> csr_attributes(const Profile& profile) {
  if (profile.key_types.empty()) return {};
  Bytes body;
  for (const auto& type : profile.key_types) {
    const Bytes one = attr_or_oid(type);
    body.insert(body.end(), one.begin(), one.end());
  }
  return der::sequence({body});
}

}  // namespace hsmca::signer
