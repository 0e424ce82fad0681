// hsmca-bench-csrs: N PKCS#10 requests for bench/run's batch section, made in
// this one process. 10,000 `openssl req` processes would take minutes; here
// each request still gets its own P-256 key, so every certificate hsmca signs
// from them is for a distinct key, as in a real batch.
//
// Writes DIR/PREFIX-I.csr (PEM) for I in 0..N-1, subject CN=PREFIX-I.DOMAIN and
// the same name as a DNS subjectAltName. Refuses to overwrite a file.
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <string>

#include "hsmca/signer/openssl.hpp"
#include "server_request.hpp"

namespace {

using namespace hsmca::signer;
namespace bench = hsmca::bench;
namespace fs = std::filesystem;

struct Options {
  std::size_t count = 10000;
  fs::path out_dir;
  std::string prefix = "host";
  std::string domain = "example.test";
};

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
    const auto key = bench::make_p256_key();
    write_request(o.out_dir / (host + ".csr"), bench::make_server_request(key.get(), host + "." + o.domain).get());
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
