#pragma once
// EST (RFC 7030, as updated by RFC 8951) under /.well-known/est/[LABEL/]:
// cacerts, csrattrs, simpleenroll, simplereenroll. The optional label names
// the profile. Every body is base64 without line breaks (RFC 8951).
#include <string>

#include "router.hpp"
#include "service_state.hpp"

namespace hsmca::appliance {

class EstHandler {
 public:
  explicit EstHandler(const ServiceState& state);

  void cacerts(const ExchangePtr& ex) const;
  // RFC 7030 4.5: what the label's profile (the default one without a
  // label) asks of a request; 204 when it asks nothing.
  void csrattrs(const ExchangePtr& ex, const std::string& label) const;
  // `label`: empty when the path has none.
  void enroll(const ExchangePtr& ex, const std::string& label, bool reenroll) const;

 private:
  const ServiceState& state_;
  std::string cacerts_body_;  // base64 certs-only PKCS#7 of the issuer chain, made once
};

}  // namespace hsmca::appliance
