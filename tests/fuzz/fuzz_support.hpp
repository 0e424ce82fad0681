#pragma once
// What the fuzz targets share: how a finding stops the run, a scratch file
// for the readers that take a path, and the fixed issuer of the OCSP targets.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include <openssl/pem.h>

#include "hsmca/signer/certificate.hpp"
#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/signing_key.hpp"

namespace hsmca::fuzz {

// A finding: libFuzzer reports the abort with the input that caused it.
[[noreturn]] inline void finding(std::string_view what, std::string_view detail = {}) {
  std::fprintf(stderr, "FUZZ FINDING: %.*s%s%.*s\n", static_cast<int>(what.size()), what.data(),
               detail.empty() ? "" : ": ", static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// The readers of ceremony and CA files take a path: each input is written to
// one file per process (libFuzzer's -fork and -jobs run processes side by side).
inline const std::string& scratch_file(const char* suffix) {
  static const std::string path = [suffix] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/hsmca-fuzz-" + std::to_string(getpid()) + suffix;
  }();
  return path;
}

inline void write_file(const std::string& path, const unsigned char* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) finding("cannot write the scratch file", path);
}

// The OCSP targets' issuer: a fixed P-256 key and self-signed certificate
// (tests/fuzz/issuer.key, issuer.pem; made for fuzzing only), so that the
// checked-in requests name it and reach the signing path.
struct FixedIssuer {
  signer::SoftwareSigningKey key;
  signer::IssuedCertificate certificate;
};

inline const FixedIssuer& fixed_issuer() {
  static const FixedIssuer issuer = [] {
    auto read = [](const char* name) {
      const std::string path = std::string(HSMCA_FUZZ_DIR) + "/" + name;
      signer::BioPtr bio(BIO_new_file(path.c_str(), "r"));
      if (!bio) finding("cannot read", path);
      return bio;
    };
    auto key_bio = read("issuer.key");
    signer::EvpPkeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    auto cert_bio = read("issuer.pem");
    signer::X509Ptr cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    if (!key || !cert) finding("the fixed issuer does not read");
    unsigned char* der = nullptr;
    const int n = i2d_X509(cert.get(), &der);
    signer::Bytes bytes(der, der + n);
    OPENSSL_free(der);
    return FixedIssuer{signer::SoftwareSigningKey(std::move(key), token::SignatureScheme::ecdsa_sha256),
                       signer::IssuedCertificate::from_der(bytes)};
  }();
  return issuer;
}

}  // namespace hsmca::fuzz
