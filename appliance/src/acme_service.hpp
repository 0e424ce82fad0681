#pragma once
// ACME's order state machine (RFC 8555 7.1.6), without HTTP: accounts,
// orders, authorizations, challenges, finalization, download and revocation
// over the ledger's AcmeStore and the CA. Every call blocks (the ledger, the
// token) and runs on a worker; challenge validation runs on a bounded pool of
// its own. The decisions (who may order which names, whether a CSR fits the
// order, who may revoke) are signer's (acme_policy.hpp); this applies them.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "acme_jws.hpp"
#include "hsmca/appliance/config.hpp"
#include "hsmca/appliance/rate_limit.hpp"
#include "hsmca/appliance/revocation_watcher.hpp"
#include "hsmca/appliance/work_pool.hpp"
#include "hsmca/signer/acme_store.hpp"
#include "hsmca/signer/certificate_authority.hpp"
#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/renewal_info.hpp"

namespace hsmca::appliance::acme {

// An RFC 8555 6.7 / RFC 7807 problem: what a refused request is answered.
struct Problem {
  std::string type;  // the suffix of urn:ietf:params:acme:error: ("malformed", "badCSR", ...)
  std::string detail;
  unsigned status = 400;
  nlohmann::json subproblems = nullptr;  // an array of problems, one per identifier
  std::int64_t retry_after = 0;          // seconds; rateLimited
  nlohmann::json algorithms = nullptr;   // badSignatureAlgorithm

  nlohmann::json document() const;  // the problem+json body
};

// A value or the Problem in its place: refusals are outcomes, not exceptions.
template <typename T>
using Result = std::variant<T, Problem>;

struct NewAccount {
  signer::AcmeAccount account;
  bool created = false;  // 201; false: the key's existing account (200)
};

class AcmeService {
 public:
  AcmeService(const AcmeConfig& config, signer::CertificateAuthority& ca, signer::Ledger& ledger,
              RevocationWatcher& revocations, const signer::Clock& clock);
  // Owns the validation threads, which refer to this object.
  AcmeService(const AcmeService&) = delete;
  AcmeService& operator=(const AcmeService&) = delete;
  ~AcmeService();

  const AcmeConfig& config() const noexcept { return config_; }

  // The account a "kid" names; JwsError(unauthorized) when deactivated.
  std::optional<Jwk> account_key(const std::string& account_id) const;
  // The key of an account already read (one ledger read per request), whatever its status.
  static Jwk account_key(const signer::AcmeAccount& account);
  std::optional<signer::AcmeAccount> account(const std::string& account_id) const;

  // newAccount (7.3): `new_account_url` is what an EAB's url must be.
  // Accounts created without an EAB count against `client` (client_key of the
  // caller's address, an IPv6 one by its /48): acme.new_accounts_per_hour
  // each, then rateLimited.
  Result<NewAccount> new_account(const Jwk& key, const nlohmann::json& payload, const std::string& new_account_url,
                                 const std::string& client);
  // Account update (7.3.2) and deactivation (7.3.6); an empty payload reads it.
  Result<signer::AcmeAccount> update_account(const signer::AcmeAccount& account, const nlohmann::json& payload);
  // Key rollover (7.3.5): the outer JWS was signed by the account's key.
  Result<signer::AcmeAccount> change_key(const signer::AcmeAccount& account, const VerifiedJws& outer,
                                         const std::string& account_url);
  // The account's orders list (RFC 8555 7.1.2.1), a page at a time: the
  // orders that are not invalid (failed or expired unfinished), oldest
  // first, kOrdersPerPage per page.
  struct OrderPage {
    std::vector<std::string> ids;
    bool more = false;  // a next page exists (Link rel="next")
  };
  static constexpr std::size_t kOrdersPerPage = 100;
  OrderPage order_ids(const signer::AcmeAccount& account, std::size_t page = 0) const;

  Result<signer::AcmeOrder> new_order(const signer::AcmeAccount& account, const nlohmann::json& payload);
  Result<signer::AcmeOrder> order(const signer::AcmeAccount& account, const std::string& id) const;
  Result<signer::AcmeAuthorization> authorization(const signer::AcmeAccount& account, const std::string& id) const;
  // Starts validating (on the validation pool) and returns the challenge as it now is.
  Result<signer::AcmeChallenge> respond_to_challenge(const signer::AcmeAccount& account, const std::string& id);
  Result<signer::AcmeChallenge> challenge(const signer::AcmeAccount& account, const std::string& id) const;
  // Finalize (7.4): issues through CertificateAuthority::prepare/complete.
  Result<signer::AcmeOrder> finalize(const signer::AcmeAccount& account, const std::string& order_id,
                                     const nlohmann::json& payload);
  // The PEM chain of a certificate the account ordered.
  Result<std::string> certificate_chain(const signer::AcmeAccount& account, const std::string& serial) const;
  // RFC 9773: when the certificate a certID names should be renewed.
  // malformed (400) for a text that is no certID; 404 when no such certificate was issued.
  Result<signer::RenewalSuggestion> renewal_info(const std::string& cert_id) const;
  // revokeCert (7.6): by the ordering account (kid) or with the certificate's key (jwk).
  Result<std::monostate> revoke(const std::optional<signer::AcmeAccount>& account, const Jwk& signer_key,
                                const nlohmann::json& payload);

  // Waits for the validations in flight (tests; shutdown).
  void drain(std::chrono::milliseconds grace);
  // The accounts with a validation in the pool now (each keeps a counter while it has one).
  std::size_t accounts_validating() const;

 private:
  void validate(std::string challenge_id, std::string account_id);
  std::optional<Problem> rate_limited(const std::vector<std::int64_t>& times, int limit, const char* what) const;
  // A place in the validation pool for one of the account's validations, or
  // why there is none (rateLimited: 429 for the account's own share, 503 when
  // the pool is full). Released when the validation ends.
  std::optional<Problem> reserve_validation(const std::string& account_id);
  void release_validation(const std::string& account_id);
  std::int64_t now() const;

  AcmeConfig config_;
  signer::CertificateAuthority& ca_;
  signer::Ledger& ledger_;
  signer::AcmeStore& store_;
  RevocationWatcher& revocations_;
  const signer::Clock& clock_;
  mutable std::mutex validations_mutex_;
  std::map<std::string, std::size_t> validations_by_account_;  // in the pool, by account
  std::size_t validations_reserved_ = 0;
  FailureLimiter new_accounts_;  // by client address, accounts created without an EAB
  WorkPool validations_;  // last: its threads stop first
};

}  // namespace hsmca::appliance::acme
