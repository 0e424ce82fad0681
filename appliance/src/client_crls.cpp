#include "hsmca/appliance/client_crls.hpp"

#include <fstream>
#include <iterator>
#include <stdexcept>

#include "hsmca/signer/certificate_authority.hpp"
#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/revocation.hpp"
#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::appliance {
namespace {

std::string name_text(const X509_NAME* name) {
  signer::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "(unreadable name)";
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

std::string serial_text(const ASN1_INTEGER* serial) {
  return signer::to_hex({serial->data, static_cast<std::size_t>(serial->length)});
}

}  // namespace

ClientCrls::ClientCrls(std::vector<std::filesystem::path> files, const std::filesystem::path& client_ca) {
  if (!files.empty()) trusted_ = signer::read_certificates(client_ca);
  for (auto& file : files) {
    Crl crl;
    crl.file = std::move(file);
    try {
      read(crl);
    } catch (const std::invalid_argument& e) {
      throw signer::ConfigError("appliance.auth.client_crls: " + crl.file.string() + ": " + e.what());
    }
    crls_.push_back(std::move(crl));
  }
  looked_ = std::chrono::steady_clock::now();
}

void ClientCrls::read(Crl& crl) {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(crl.file, ec);
  const auto size = ec ? 0 : std::filesystem::file_size(crl.file, ec);
  if (ec) throw std::invalid_argument("cannot be read (" + ec.message() + ")");
  std::ifstream in(crl.file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::span<const unsigned char> data(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  std::string problem = "no certificate of client_ca issued it";
  for (const auto& issuer : trusted_) {
    try {
      const auto contents = signer::read_crl(data, issuer.get());
      crl.revoked.clear();
      for (const auto& entry : contents.entries) crl.revoked.insert(entry.serial_hex);
      crl.next_update = contents.next_update;
      crl.issuer.reset(X509_dup(issuer.get()));
      if (!crl.issuer) throw signer::OpenSslError("X509_dup");
      crl.mtime = mtime;
      crl.size = size;
      return;
    } catch (const std::invalid_argument& e) {
      problem = e.what();
    }
  }
  throw std::invalid_argument(problem);
}

void ClientCrls::reload_changed() {
  const auto now = std::chrono::steady_clock::now();
  if (now - looked_ < std::chrono::seconds(1)) return;
  looked_ = now;
  for (auto& crl : crls_) {
    std::error_code ec;
    const auto mtime = std::filesystem::last_write_time(crl.file, ec);
    const auto size = ec ? 0 : std::filesystem::file_size(crl.file, ec);
    if (ec || (mtime == crl.mtime && size == crl.size)) continue;
    Crl fresh;
    fresh.file = crl.file;
    try {
      read(fresh);
      crl = std::move(fresh);
      ++generation_;
    } catch (const std::exception&) {
      // The last good CRL stays in force; this file is looked at again when it changes.
      crl.mtime = mtime;
      crl.size = size;
    }
  }
}

std::string ClientCrls::why_refused(X509* certificate, std::chrono::system_clock::time_point now) {
  std::lock_guard lock(mutex_);
  reload_changed();
  const std::int64_t t = signer::unix_seconds(now);
  for (const auto& crl : crls_) {
    if (X509_NAME_cmp(X509_get_issuer_name(certificate), X509_get_subject_name(crl.issuer.get())) != 0) continue;
    const std::string issuer = name_text(X509_get_subject_name(crl.issuer.get()));
    if (crl.revoked.count(serial_text(X509_get0_serialNumber(certificate))) > 0) {
      return "is revoked (CRL of " + issuer + ")";
    }
    // A CRL past its nextUpdate no longer says who is revoked: fail closed.
    if (crl.next_update != 0 && t >= crl.next_update) {
      return "cannot be checked: the CRL of " + issuer + " is past its nextUpdate";
    }
  }
  return {};
}

std::uint64_t ClientCrls::generation() {
  std::lock_guard lock(mutex_);
  reload_changed();
  return generation_;
}

}  // namespace hsmca::appliance
