#pragma once
// The CA's certificates for anyone to fetch, on both listeners:
// /ca/chain.pem (issuer, then the chain above it) and /ca/issuer.crt (DER,
// what revocation.issuer_url in AIA caIssuers points at, RFC 5280 4.2.2.1).
#include <string>

#include "service_state.hpp"

namespace hsmca::appliance {

class CaHandler {
 public:
  explicit CaHandler(const ServiceState& state);
  void chain_pem(const ExchangePtr& ex) const;
  void issuer_der(const ExchangePtr& ex) const;

 private:
  std::string chain_pem_;
  std::string issuer_der_;
};

}  // namespace hsmca::appliance
