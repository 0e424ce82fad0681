#pragma once
// The OCSP responder's decisions, apart from HTTP: which answer a request
// gets, from the cache or a signature, and who waits for whom. Requests
// without a nonce about one certificate are answered from the cache while the
// ledger's revocation version is the one the answer was confirmed at; a miss
// goes to a worker, and concurrent misses for one CertID share one signature.
// Requests with a nonce, or about several certificates, are signed for
// themselves within a budget of fresh signatures per second.
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hsmca/appliance/metrics.hpp"
#include "hsmca/appliance/ocsp_cache.hpp"
#include "hsmca/appliance/rate_limit.hpp"
#include "hsmca/appliance/revocation_watcher.hpp"
#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/ocsp.hpp"

namespace hsmca::appliance {

// One OCSPResponse to send, and how to label it in metrics.
struct OcspReply {
  unsigned http_status = 200;
  std::string der;
  // A signed answer without a nonce: RFC 5019 caching headers apply.
  std::shared_ptr<const OcspAnswer> cacheable;
  std::string_view status;  // good, revoked, unknown, several, malformedRequest, unauthorized, tryLater, internalError
  std::string_view source;  // cache, ledger, signed, none
  std::string serial;       // the certificate asked about, when one
};

// Who signs: the delegated responder while its certificate covers the whole
// response, otherwise (not yet valid, or expiring first) the issuing key, so
// an expiring responder certificate never makes answers unverifiable.
struct OcspSigners {
  const signer::OcspResponder* issuer = nullptr;
  const signer::OcspResponder* delegated = nullptr;  // revocation.ocsp_signer, when set
  std::chrono::system_clock::time_point delegated_from{}, delegated_until{};  // its certificate's validity
};

class OcspService {
 public:
  // The status of a serial of this issuer (a ledger read; may throw).
  using StatusLookup = std::function<signer::OcspStatus(const std::string& serial_hex)>;
  using ReadVersion = std::function<signer::RevocationVersion()>;
  // Runs a job on a worker; false when none can be had.
  using Submit = std::function<bool(std::function<void()>)>;
  using Reply = std::function<void(OcspReply)>;

  struct Options {
    std::chrono::seconds validity{std::chrono::hours(24)};  // nextUpdate - thisUpdate
    int fresh_signatures_per_second = 50;
    std::size_t cache_entries = 20'000;
    // An "unknown" answer is re-checked this often: a certificate issued by
    // another process (hsmca sign) changes no revocation version.
    std::chrono::seconds unknown_recheck{60};
  };

  OcspService(OcspSigners signers, Options options, StatusLookup lookup, ReadVersion read_version,
              RevocationWatcher& revocations, Submit submit, Metrics& metrics, const signer::Clock& clock);

  // Calls `reply` exactly once, on this thread or a worker's.
  void answer(std::span<const unsigned char> request_der, Reply reply);
  // Unsigned malformedRequest, for what never parsed as a request (HTTP
  // status 200, or 415 for a wrong media type).
  OcspReply malformed(unsigned http_status) const;

 private:
  void answer_cached(const signer::CertId& id);                          // on a worker
  void answer_fresh(const signer::OcspQuery& query, const Reply& reply);  // on a worker
  const signer::OcspResponder& responder(std::chrono::system_clock::time_point next_update) const;
  OcspReply unsigned_reply(unsigned http_status, std::string_view status) const;
  OcspReply failure_reply(const std::exception& e) const;

  OcspSigners signers_;
  Options options_;
  StatusLookup lookup_;
  ReadVersion read_version_;
  RevocationWatcher& revocations_;
  Submit submit_;
  Metrics& metrics_;
  const signer::Clock& clock_;
  std::string malformed_, unauthorized_, try_later_, internal_error_;
  OcspCache cache_;
  TokenBucket fresh_signatures_;  // answers that cannot be cached
  std::mutex mutex_;
  std::unordered_map<std::string, std::vector<Reply>> waiting_;  // guarded by mutex_
};

}  // namespace hsmca::appliance
