#pragma once
// ACME (RFC 8555) over HTTP: the directory, nonces, and every resource under
// /acme/. Parses and answers; the JWS is checked by acme_jws, the state
// machine is AcmeService, the decisions are signer's. Every answer carries a
// fresh Replay-Nonce and the directory's Link; refusals are
// application/problem+json.
#include <memory>
#include <string>

#include "acme_jws.hpp"
#include "acme_service.hpp"
#include "hsmca/appliance/rate_limit.hpp"
#include "service_state.hpp"

namespace hsmca::appliance {

class AcmeHandler {
 public:
  // What a POST is for: decides which key reference its JWS must carry.
  enum class Resource {
    new_account, account, account_orders, key_change, new_order, order, finalize, authz, challenge, certificate, revoke
  };

  // `config.acme` must be set: the routes exist only then.
  explicit AcmeHandler(const ServiceState& state);
  // The nonce store and the validation threads are this object's.
  AcmeHandler(const AcmeHandler&) = delete;
  AcmeHandler& operator=(const AcmeHandler&) = delete;

  void directory(const ExchangePtr& ex);
  void new_nonce(const ExchangePtr& ex);
  void post(const ExchangePtr& ex, Resource resource, const std::string& id);
  // RFC 9773 renewalInfo: GET, unauthenticated.
  void renewal_info(const ExchangePtr& ex, const std::string& cert_id);
  // What the router found no handler for under /acme/: a problem document
  // with a nonce, like every ACME answer. 404, or 405 with `allow`.
  void unrouted(const ExchangePtr& ex, unsigned status, const std::string& allow);

  acme::AcmeService& service() noexcept { return service_; }

 private:
  void run_post(const ExchangePtr& ex, Resource resource, const std::string& id, const std::string& base);
  void answer(const ExchangePtr& ex, unsigned status, const std::string& base, const nlohmann::json& body,
              const std::string& location = {});
  void answer_problem(const ExchangePtr& ex, const std::string& base, const acme::Problem& problem);
  void finish(const ExchangePtr& ex, Response res, const std::string& base);
  void answer_failure(const ExchangePtr& ex, const std::string& base, const std::exception& e);
  void answer_busy(const ExchangePtr& ex, const std::string& base);

  nlohmann::json account_json(const signer::AcmeAccount& a, const std::string& base) const;
  nlohmann::json order_json(const signer::AcmeOrder& o, const std::string& base) const;
  nlohmann::json authz_json(const signer::AcmeAuthorization& a, const std::string& base) const;
  nlohmann::json challenge_json(const signer::AcmeChallenge& c, const std::string& base) const;

  const ServiceState& state_;
  acme::NonceStore nonces_;
  // renewalInfo needs no account: each client address gets a bounded share
  // of the ledger reads it costs.
  FailureLimiter renewal_info_limit_;
  acme::AcmeService service_;
};

}  // namespace hsmca::appliance
