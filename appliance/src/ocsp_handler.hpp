#pragma once
// OCSP over HTTP (RFC 6960 A.1, RFC 5019): POST /ocsp and GET /ocsp/BASE64,
// on both listeners. What to answer is OcspService's; this is the HTTP side.
#include <chrono>
#include <memory>
#include <string>

#include "hsmca/appliance/ocsp_service.hpp"
#include "service_state.hpp"

namespace hsmca::appliance {

// The HTTP side over any OcspService: OcspHandler's, and the HTTP fuzz
// target's, which has no token to build an OcspHandler on.
void answer_ocsp_post(OcspService& service, const signer::Clock& clock, const ExchangePtr& ex);
void answer_ocsp_get(OcspService& service, const signer::Clock& clock, const ExchangePtr& ex,
                     const std::string& encoded);

class OcspHandler {
 public:
  explicit OcspHandler(const ServiceState& state);

  void post(const ExchangePtr& ex) const;
  void get(const ExchangePtr& ex, const std::string& encoded) const;

 private:
  const ServiceState& state_;
  signer::IssuerContext issuer_;
  std::unique_ptr<signer::OcspResponder> issuer_responder_;
  std::unique_ptr<signer::OcspResponder> delegated_responder_;  // revocation.ocsp_signer, when set
  std::unique_ptr<OcspService> service_;
};

}  // namespace hsmca::appliance
