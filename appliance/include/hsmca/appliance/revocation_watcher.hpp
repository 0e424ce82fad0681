#pragma once
// The ledger's revocation version as this process knows it, kept current by a
// thread of its own: a revocation by another process (hsmca revoke) is seen
// within one interval whether or not requests arrive, and a revocation by this
// process is taken at once. Every cache of revocation state (OCSP answers, the
// CRL, client certificates' standing) serves only what was confirmed at the
// current version.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "hsmca/signer/ledger.hpp"

namespace hsmca::appliance {

// Revocations only add up: `a` is at least as new as `b` when it counts more
// revocations, or as many with a newest one no older.
bool at_least(const signer::RevocationVersion& a, const signer::RevocationVersion& b) noexcept;

class RevocationWatcher {
 public:
  using Read = std::function<signer::RevocationVersion()>;
  using Failed = std::function<void(const std::exception&)>;
  // Reads once on this thread (a failure throws: the service does not start
  // blind), then every `interval` on its own thread; a failed read keeps the
  // last version and is reported to `failed`.
  RevocationWatcher(Read read, std::chrono::milliseconds interval, Failed failed = {});
  ~RevocationWatcher();  // stops and joins the thread
  // The thread captures `this`: the object must stay where it is.
  RevocationWatcher(const RevocationWatcher&) = delete;
  RevocationWatcher& operator=(const RevocationWatcher&) = delete;

  signer::RevocationVersion current() const;
  // A version read elsewhere (after this process revoked, or while answering):
  // taken when newer, never going back — a slow read that started before a
  // revocation cannot hide it again.
  void advance(const signer::RevocationVersion& seen);

 private:
  void run();

  Read read_;
  std::chrono::milliseconds interval_;
  Failed failed_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  signer::RevocationVersion version_;  // guarded by mutex_
  bool stopping_ = false;              // guarded by mutex_
  std::thread thread_;
};

}  // namespace hsmca::appliance
