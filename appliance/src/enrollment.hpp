#pragma once
// Issuance as EST and the JSON API share it: who is asking (the renewed
// certificate itself for a re-enrollment) and the signer call on a worker.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "service_state.hpp"
#include "hsmca/signer/certificate.hpp"

namespace hsmca::appliance {

// RFC 7030 4.2.2: a re-enrollment authenticates with the certificate it
// renews, which must pass client verification; it becomes the identity.
// false (after answering 401/403) unless the caller may go on.
bool admit_enrollment(const ServiceState& state, const ExchangePtr& ex, bool reenroll);

// Issues what `csr` asks for on a worker and hands the certificate to
// `deliver`, or answers the refusal. `named`: the profile the request names
// (EST label, JSON "profile"); without one, a new certificate gets the
// default profile and a renewal keeps its own. Which profiles the caller may
// have is signer's decision.
void enroll(const ServiceState& state, const ExchangePtr& ex, std::shared_ptr<const signer::Bytes> csr,
            std::optional<std::string> named, bool reenroll,
            std::function<void(const signer::IssuedCertificate&)> deliver);

}  // namespace hsmca::appliance
