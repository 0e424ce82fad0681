#include "hsmca/signer/algorithm.hpp"

namespace hsmca::signer {
namespace {

using token::SignatureScheme;

// Constants rather than OpenSSL's builders: the BRs fix these bytes exactly
// (NULL versus absent parameters is the usual point of divergence, RFC 4055
// 2.1), and a constant cannot drift with OpenSSL's version or defaults.
constexpr unsigned char kEcdsaSha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
                                          0x3d, 0x04, 0x03, 0x02};
constexpr unsigned char kEcdsaSha384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
                                          0x3d, 0x04, 0x03, 0x03};
constexpr unsigned char kEcdsaSha512[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
                                          0x3d, 0x04, 0x03, 0x04};
constexpr unsigned char kRsaSha256[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                        0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
constexpr unsigned char kRsaSha384[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                        0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00};
constexpr unsigned char kRsaSha512[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                        0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00};

// SEQUENCE { id-RSASSA-PSS, SEQUENCE {
//   [0] { hashAlgorithm }, [1] { id-mgf1, hashAlgorithm }, [2] INTEGER saltLength } }
// differing only in the hash's last OID arc (1, 2, 3) and the salt length.
#define HSMCA_PSS(arc, salt)                                                                     \
  {0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34,     \
   0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, arc,      \
   0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,     \
   0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, arc,      \
   0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, salt}
constexpr unsigned char kPssSha256[] = HSMCA_PSS(0x01, 32);
constexpr unsigned char kPssSha384[] = HSMCA_PSS(0x02, 48);
constexpr unsigned char kPssSha512[] = HSMCA_PSS(0x03, 64);
#undef HSMCA_PSS

constexpr unsigned char kEd25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};

}  // namespace

std::span<const unsigned char> signature_algorithm_der(SignatureScheme scheme) noexcept {
  switch (scheme) {
    case SignatureScheme::ecdsa_sha256: return kEcdsaSha256;
    case SignatureScheme::ecdsa_sha384: return kEcdsaSha384;
    case SignatureScheme::ecdsa_sha512: return kEcdsaSha512;
    case SignatureScheme::rsa_pkcs1_sha256: return kRsaSha256;
    case SignatureScheme::rsa_pkcs1_sha384: return kRsaSha384;
    case SignatureScheme::rsa_pkcs1_sha512: return kRsaSha512;
    case SignatureScheme::rsa_pss_sha256: return kPssSha256;
    case SignatureScheme::rsa_pss_sha384: return kPssSha384;
    case SignatureScheme::rsa_pss_sha512: return kPssSha512;
    case SignatureScheme::ed25519: return kEd25519;
  }
  return {};
}

X509AlgorPtr signature_algorithm(SignatureScheme scheme) {
  const auto der = signature_algorithm_der(scheme);
  const unsigned char* p = der.data();
  X509AlgorPtr alg(d2i_X509_ALGOR(nullptr, &p, static_cast<long>(der.size())));
  if (!alg) throw OpenSslError("d2i_X509_ALGOR");
  return alg;
}

}  // namespace hsmca::signer
