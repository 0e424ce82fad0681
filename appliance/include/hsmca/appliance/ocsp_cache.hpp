#pragma once
// The OCSP responder's memory: signed answers to requests without a nonce,
// served again to every client asking about the same certificate, so that a
// flood of status checks costs no token signatures (RFC 5019 6).
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "hsmca/signer/ledger.hpp"
#include "hsmca/signer/ocsp.hpp"

namespace hsmca::appliance {

// One signed OCSPResponse and what it says.
struct OcspAnswer {
  std::string der;
  signer::OcspStatus status;
  std::chrono::system_clock::time_point this_update;
  std::chrono::system_clock::time_point next_update;
  // Re-sign from here on, well before nextUpdate (half the validity), so
  // clients never get an answer that is about to expire.
  std::chrono::steady_clock::time_point refresh_after;
};

// Keyed by the CertID's DER as the client sent it (hash algorithm included:
// a SHA-256 CertID gets its own answer). Each entry remembers the ledger's
// revocation version at which its status was last confirmed; it is served
// only while that is the current version and it is not due for refresh.
// After a revocation anywhere, an entry is re-confirmed against the ledger
// (a read) and re-signed only if its own status changed. Safe from many
// threads.
class OcspCache {
 public:
  explicit OcspCache(std::size_t capacity);

  // The answer to serve at once, or nullptr (absent, stale, or confirmed
  // under an older revocation version).
  std::shared_ptr<const OcspAnswer> fresh(std::string_view cert_id, const signer::RevocationVersion& current,
                                          std::chrono::steady_clock::time_point now) const;
  // Whatever is cached for the CertID, fresh or not (nullptr when nothing).
  std::shared_ptr<const OcspAnswer> any(std::string_view cert_id) const;

  // Stores (or replaces) the answer, confirmed at `version`. When full, an
  // arbitrary entry makes room: the cache is bounded, whatever clients ask.
  void store(std::string_view cert_id, std::shared_ptr<const OcspAnswer> answer,
             const signer::RevocationVersion& version);
  // The ledger still says what the cached answer says, as of `version`.
  // Nothing happens when the entry is gone or has been replaced meanwhile.
  void confirm(std::string_view cert_id, const std::shared_ptr<const OcspAnswer>& answer,
               const signer::RevocationVersion& version);

  std::size_t size() const;
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  struct Entry {
    std::shared_ptr<const OcspAnswer> answer;
    signer::RevocationVersion confirmed;
  };
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mutex_
};

}  // namespace hsmca::appliance
