// hsmca-bench-csrs: N PKCS#10 requests for bench/run's batch section, made in
// this one process. 10,000 `openssl req` processes would take minutes; here
// each request still gets its own P-256 key, so every certificate hsmca signs
// from them is for a distinct key, as in a real batch.
//
// Writes DIR/PREFIX-I.csr (PEM) for I in 0..N-1, subject CN=PREFIX-I.DOMAIN and
// the same name as a DNS subjectAltName. Refuses to overwrite a file.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/request.hpp"

namespace {

using namespace hsmca::signer;
namespace fs = std::filesystem;

struct Options {
  std::size_t count = 10000;
  fs::path out_dir;
  std::string prefix = "host";
  std::string domain = "example.test";
};

// The stack owns its extensions: freeing it frees them too.
struct FreeExtensions {
  void operator()(STACK_OF(X509_EXTENSION) * s) const noexcept { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }
};
using ExtensionStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), FreeExtensions>;

X509ReqPtr make_request(const std::string& dns_name) {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw OpenSslError("EVP_EC_gen(P-256)");
  X509ReqPtr req(X509_REQ_new());
  if (!req) throw OpenSslError("X509_REQ_new");
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(dns_name.c_str()),
                                 -1, -1, 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1) {
    throw OpenSslError("X509_REQ subject and key");
  }
  ExtensionStackPtr extensions(sk_X509_EXTENSION_new_null());
  X509ExtensionPtr san(X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, ("DNS:" + dns_name).c_str()));
  if (!extensions || !san || sk_X509_EXTENSION_push(extensions.get(), san.get()) <= 0) {
    throw OpenSslError("subjectAltName");
  }
  san.release();  // the stack owns it now
  if (X509_REQ_add_extensions(req.get(), extensions.get()) != 1) throw OpenSslError("X509_REQ_add_extensions");
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) throw OpenSslError("X509_REQ_sign");
  return req;
}

void write_request(const fs::path& path, X509_REQ* req) {
  // "x": never overwrite, so a second run into the same directory fails loudly.
  BioPtr out(BIO_new_file(path.c_str(), "wx"));
  if (!out) throw OpenSslError("cannot create " + path.string() + " (does it exist already?)");
  if (PEM_write_bio_X509_REQ(out.get(), req) != 1 || BIO_flush(out.get()) != 1) {
    throw OpenSslError("cannot write " + path.string());
  }
}

int make_requests(const Options& o) {
  if (!fs::is_directory(o.out_dir)) throw std::runtime_error(o.out_dir.string() + " is not a directory");
  for (std::size_t i = 0; i < o.count; ++i) {
    const std::string host = o.prefix + "-" + std::to_string(i);
    write_request(o.out_dir / (host + ".csr"), make_request(host + "." + o.domain).get());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"hsmca-bench-csrs: N P-256 certificate requests, one key each, written as DIR/PREFIX-I.csr.",
               "hsmca-bench-csrs"};
  app.add_option("--count", o.count, "how many requests")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--out-dir", o.out_dir, "existing directory to write them to")->required();
  app.add_option("--prefix", o.prefix, "file name and host name prefix")->capture_default_str();
  app.add_option("--domain", o.domain, "DNS domain of every request's name")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    return make_requests(o);
  } catch (const std::exception& e) {
    std::cerr << "hsmca-bench-csrs: " << e.what() << "\n";
    return 1;
  }
}
