#pragma once
// The CRLs the appliance serves: the issuing CA's own, signed here and never
// missing a revocation, and the offline root's, copied in by an operator.
#include <openssl/x509.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hsmca/appliance/revocation_watcher.hpp"
#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/ledger.hpp"

namespace hsmca::appliance {

// A CRL ready to serve.
struct PublishedCrl {
  std::string der;
  std::int64_t number = 0;
  signer::RevocationVersion version;  // every revocation up to this one is listed
  std::chrono::system_clock::time_point this_update;
  std::chrono::system_clock::time_point next_update;
  std::chrono::steady_clock::time_point refresh_after;  // half the validity
};

// The issuer's CRL. Answers come from the last CRL signed while it lists
// every revocation of the watcher's current version and is within its
// validity; otherwise callers wait for a worker to sign the new one. It is
// re-signed also once half its validity has passed; one refresh at a time.
// Safe from many threads.
class CrlPublisher {
 public:
  // Signs a CRL that lists every revocation up to `version` (on a worker;
  // may throw: the waiters get the error).
  using Sign = std::function<PublishedCrl(const signer::RevocationVersion& version)>;
  // Reads the ledger's revocation version (on a worker; may throw).
  using ReadVersion = std::function<signer::RevocationVersion()>;
  // Gets the CRL, or the error that stopped it.
  using Waiter = std::function<void(std::shared_ptr<const PublishedCrl>, std::exception_ptr)>;
  // Runs a job on a worker; false when none can be had.
  using Submit = std::function<bool(std::function<void()>)>;

  CrlPublisher(ReadVersion read_version, Sign sign, RevocationWatcher& revocations, Submit submit,
               const signer::Clock& clock);

  // Calls `waiter` once: at once with a CRL that may be served, or later
  // from a worker with the next one signed (or the error).
  void get(Waiter waiter);

 private:
  void refresh();  // on a worker
  void fail_waiters(std::exception_ptr error);

  ReadVersion read_version_;
  Sign sign_;
  RevocationWatcher& revocations_;
  Submit submit_;
  const signer::Clock& clock_;
  std::mutex mutex_;
  std::shared_ptr<const PublishedCrl> crl_;  // guarded by mutex_
  bool refreshing_ = false;                  // guarded by mutex_
  std::vector<Waiter> waiters_;              // guarded by mutex_
};

// The offline root's CRL (appliance.root_crl), as the ceremony signed it:
// read again when the file changes (looked at no more than once a second)
// and served only once it verifies under a certificate of the chain. The last
// good one stays served when a bad copy replaces it.
class RootCrlFile {
 public:
  RootCrlFile(std::filesystem::path file, std::vector<X509*> chain, const signer::Clock& clock);
  // nullptr while the file holds no CRL of the chain.
  std::shared_ptr<const PublishedCrl> current();
  const std::filesystem::path& file() const noexcept { return file_; }

 private:
  void reload();  // under mutex_

  std::filesystem::path file_;
  std::vector<X509*> chain_;
  const signer::Clock& clock_;
  std::mutex mutex_;
  std::shared_ptr<const PublishedCrl> crl_;                // guarded by mutex_
  std::chrono::steady_clock::time_point checked_{};        // guarded by mutex_
  bool looked_ = false;                                    // guarded by mutex_
  std::filesystem::file_time_type mtime_{};                // guarded by mutex_
  std::uintmax_t size_ = 0;                                // guarded by mutex_
};

}  // namespace hsmca::appliance
