#pragma once
// The CRLs of the other certificate authorities that appliance.auth.client_ca
// trusts (appliance.auth.client_crls): a client certificate of such a CA is
// shut out once its CA revokes it. This CA's own certificates are checked
// against the ledger instead. A file is read again when it changes (looked
// at no more than once a second); a file that stops being a good CRL of its
// CA leaves the last good one in force.
#include <openssl/x509.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "hsmca/signer/openssl.hpp"

namespace hsmca::appliance {

class ClientCrls {
 public:
  // signer::ConfigError naming the file when it is not a CRL of a
  // certificate in `client_ca`.
  ClientCrls(std::vector<std::filesystem::path> files, const std::filesystem::path& client_ca);

  // Why `certificate` (of another CA than this one) no longer counts: "is
  // revoked (CRL of ISSUER)", or "cannot be checked: the CRL of ISSUER is past
  // its nextUpdate"; empty when it counts or no CRL of its issuer is configured.
  std::string why_refused(X509* certificate, std::chrono::system_clock::time_point now);
  // Changes whenever a CRL is read again: answers cached under an older one are stale.
  std::uint64_t generation();

 private:
  struct Crl {
    std::filesystem::path file;
    std::filesystem::file_time_type mtime{};
    std::uintmax_t size = 0;
    signer::X509Ptr issuer;          // the client_ca certificate whose key signed it
    std::set<std::string> revoked;   // serials, lowercase hex
    std::int64_t next_update = 0;    // unix seconds; 0 when absent
  };
  // Under mutex_. Throws std::invalid_argument when the file is no CRL of a client_ca certificate.
  void read(Crl& crl);
  void reload_changed();  // under mutex_

  std::vector<signer::X509Ptr> trusted_;
  std::mutex mutex_;
  std::vector<Crl> crls_;                                   // guarded by mutex_
  std::chrono::steady_clock::time_point looked_{};          // guarded by mutex_
  std::uint64_t generation_ = 1;                            // guarded by mutex_
};

}  // namespace hsmca::appliance
