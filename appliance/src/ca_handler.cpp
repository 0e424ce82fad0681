#include "ca_handler.hpp"

namespace hsmca::appliance {

CaHandler::CaHandler(const ServiceState& state) {
  auto& ca = state.issuing.ca();
  chain_pem_ = ca.chain_pem();
  const auto der = signer::to_der(ca.issuer_certificate());
  issuer_der_.assign(der.begin(), der.end());
}

void CaHandler::chain_pem(const ExchangePtr& ex) const {
  ex->finish(200, chain_pem_, "application/pem-certificate-chain");
}

void CaHandler::issuer_der(const ExchangePtr& ex) const { ex->finish(200, issuer_der_, "application/pkix-cert"); }

}  // namespace hsmca::appliance
