#pragma once
// What the appliance answers, independent of sockets: routing, authentication
// and authorization, EST and the JSON API, health and metrics. Sessions hand
// it a parsed request and get exactly one response back, possibly from a
// worker thread.
#include <openssl/x509.h>

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "hsmca/appliance/auth.hpp"
#include "hsmca/appliance/client_crls.hpp"
#include "hsmca/appliance/config.hpp"
#include "hsmca/appliance/metrics.hpp"
#include "hsmca/appliance/ocsp_cache.hpp"
#include "hsmca/appliance/rate_limit.hpp"
#include "hsmca/appliance/revocation_watcher.hpp"
#include "hsmca/signer/certificate_authority.hpp"
#include "hsmca/signer/ledger.hpp"
#include "hsmca/signer/ocsp.hpp"
#include "work_pool.hpp"

namespace hsmca::appliance {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

struct RequestContext {
  Request request;
  bool secure = false;                 // arrived on the HTTPS listener
  std::shared_ptr<X509> peer;          // client certificate, when one was presented
  bool peer_trusted = false;           // it chained to auth.client_ca in the handshake
  std::string remote;                  // "127.0.0.1:51234"
  std::chrono::steady_clock::time_point started;
};

class Service {
 public:
  Service(const signer::CaConfig& ca_config, const ApplianceConfig& config, signer::IssuingCa& issuing,
          const Authorizer& authorizer, Metrics& metrics, WorkPool& pool);

  // Calls `done` exactly once: on this thread for cheap routes, on a worker
  // thread for those that need the token or the ledger.
  void handle(RequestContext ctx, std::function<void(Response)> done);

  std::int64_t in_flight() const noexcept { return metrics_.in_flight(); }

 private:
  class Exchange;

  void route(const std::shared_ptr<Exchange>& ex);
  void enroll(const std::shared_ptr<Exchange>& ex, std::optional<std::string> named, bool est, bool reenroll);
  void show_certificate(const std::shared_ptr<Exchange>& ex, const std::string& serial);
  void revoke(const std::shared_ptr<Exchange>& ex, const std::string& serial);
  void crl(const std::shared_ptr<Exchange>& ex);
  void refresh_crl();  // on a worker
  void root_crl(const std::shared_ptr<Exchange>& ex);
  void reload_root_crl();
  void health(const std::shared_ptr<Exchange>& ex);
  void ocsp(const std::shared_ptr<Exchange>& ex, const token::Bytes& der);
  void answer_cached_ocsp(const signer::CertId& id);  // on a worker
  void answer_ocsp(const std::shared_ptr<Exchange>& ex, const signer::OcspQuery& query);  // on a worker
  signer::OcspStatus ocsp_status(const std::string& serial) const;
  const signer::OcspResponder& ocsp_responder(std::chrono::system_clock::time_point next_update) const;
  bool submit(const std::shared_ptr<Exchange>& ex, std::function<void()> job);
  Identity identify(const RequestContext& ctx) const;
  // Why a client certificate the request relies on no longer counts (revoked,
  // or claiming to be this CA's without being in its ledger); empty when it
  // counts. Cached per certificate while the revocation version stands.
  std::string shut_out(const RequestContext& ctx, const Identity& identity);

  const signer::CaConfig& ca_config_;
  const ApplianceConfig& config_;
  signer::IssuingCa& issuing_;
  const Authorizer& authorizer_;
  Metrics& metrics_;
  WorkPool& pool_;
  std::string cacerts_body_;  // base64 certs-only PKCS#7 of the issuer chain, made once
  std::string chain_pem_;
  nlohmann::json chain_json_;  // the issuer's and the chain's PEMs, as POST /api/v1/certificates answers them
  std::string issuer_der_;

  // /healthz costs a token signature and a durable write: answer floods from
  // a result at most a second old.
  std::mutex health_mutex_;
  std::chrono::steady_clock::time_point health_checked_{};
  bool health_ok_ = false;
  std::string health_body_;

  // Client certificates of this CA that requests relied on: fingerprint ->
  // why it no longer counts ("" when it does), valid at standing_version_.
  ClientCrls client_crls_;  // appliance.auth.client_crls: other client CAs' revocations
  std::mutex standing_mutex_;
  signer::RevocationVersion standing_version_;                 // guarded by standing_mutex_
  std::uint64_t standing_crls_ = 0;                            // client_crls_'s generation; guarded by standing_mutex_
  std::unordered_map<std::string, std::string> standing_;       // guarded by standing_mutex_

  // GET /crl answers from the last CRL signed, while it lists every
  // revocation of the current version; otherwise requests wait for a worker
  // to sign the new one (a revocation is never missing from an answer). It is
  // re-signed also when half its validity has passed; one refresh at a time.
  struct CachedCrl {
    std::string der;
    std::int64_t number = 0;
    signer::RevocationVersion version;
    std::chrono::system_clock::time_point this_update;
    std::chrono::system_clock::time_point next_update;
    std::chrono::steady_clock::time_point refresh_after;  // half the validity
  };
  std::mutex crl_mutex_;
  std::shared_ptr<const CachedCrl> crl_;                   // guarded by crl_mutex_
  bool crl_refreshing_ = false;                            // guarded by crl_mutex_
  std::vector<std::shared_ptr<Exchange>> crl_waiters_;     // guarded by crl_mutex_

  // GET /root.crl: appliance.root_crl as the offline root last signed it,
  // read again when the file changes (looked at no more than once a second)
  // and served only once it verifies under a certificate of the chain.
  std::mutex root_crl_mutex_;
  std::shared_ptr<const CachedCrl> root_crl_;                  // guarded by root_crl_mutex_
  std::chrono::steady_clock::time_point root_crl_checked_{};   // guarded by root_crl_mutex_
  std::filesystem::file_time_type root_crl_mtime_{};           // guarded by root_crl_mutex_
  std::uintmax_t root_crl_size_ = 0;                           // guarded by root_crl_mutex_

  // OCSP. Requests without a nonce about one certificate are answered from
  // ocsp_cache_ while the ledger's revocation version (revocations_) is the
  // one the answer was confirmed at; a
  // miss goes to a worker, and concurrent misses for one CertID wait for the
  // same signature. Requests with a nonce are signed for themselves.
  signer::IssuerContext ocsp_issuer_;
  std::unique_ptr<signer::OcspResponder> issuer_responder_;
  std::unique_ptr<signer::OcspResponder> delegated_responder_;  // revocation.ocsp_signer, when set
  std::chrono::system_clock::time_point delegated_from_, delegated_until_;  // its certificate's validity
  std::chrono::seconds ocsp_validity_;
  std::string ocsp_malformed_, ocsp_unauthorized_, ocsp_try_later_, ocsp_internal_error_;
  OcspCache ocsp_cache_;
  // Signatures for answers that cannot be cached (revocation.ocsp_fresh_signatures_per_second).
  TokenBucket fresh_signatures_;
  std::mutex ocsp_mutex_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Exchange>>> ocsp_waiting_;  // guarded by ocsp_mutex_

  // The ledger's revocation version, watched on a thread of its own (every
  // kRevocationWatchInterval) and advanced at once by this process's own
  // revocations; the CRL, OCSP answers and client certificates' standing are
  // served only as confirmed at it.
  RevocationWatcher revocations_;
  // Last: its thread stops first, before anything it reads goes away.
};

}  // namespace hsmca::appliance
