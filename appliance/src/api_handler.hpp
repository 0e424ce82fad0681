#pragma once
// The JSON API under /api/v1/certificates: issue (enroll role, or whatever a
// profile's requesters allow), look up (enroll or admin), revoke (admin).
#include <nlohmann/json.hpp>

#include <string>

#include "service_state.hpp"

namespace hsmca::appliance {

class ApiHandler {
 public:
  explicit ApiHandler(const ServiceState& state);

  void issue(const ExchangePtr& ex) const;                              // POST /api/v1/certificates
  void show(const ExchangePtr& ex, const std::string& serial) const;    // GET  .../{serial}
  void revoke(const ExchangePtr& ex, const std::string& serial) const;  // POST .../{serial}/revoke

 private:
  const ServiceState& state_;
  nlohmann::json chain_json_;  // the issuer's and the chain's PEMs, as issue() answers them
};

}  // namespace hsmca::appliance
