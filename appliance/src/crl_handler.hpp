#pragma once
// CRLs over HTTP: GET /crl (this issuer's, signed here) and GET /root.crl
// (the offline root's, as appliance.root_crl holds it), on both listeners.
#include <memory>

#include "hsmca/appliance/crl_publisher.hpp"
#include "service_state.hpp"

namespace hsmca::appliance {

class CrlHandler {
 public:
  explicit CrlHandler(const ServiceState& state);

  void issuer_crl(const ExchangePtr& ex);
  void root_crl(const ExchangePtr& ex);

 private:
  // RFC 5280 is silent on HTTP caching. A revocation reaches this CRL within
  // seconds, so caches may keep it for a few minutes only, never past its
  // nextUpdate; the CRL number is its entity tag.
  void send(const ExchangePtr& ex, const PublishedCrl& crl) const;

  const ServiceState& state_;
  CrlPublisher publisher_;
  std::unique_ptr<RootCrlFile> root_;  // when appliance.root_crl is set
};

}  // namespace hsmca::appliance
