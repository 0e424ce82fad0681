#include "enrollment.hpp"

namespace hsmca::appliance {
namespace {

// Counts one issuance attempt when it goes out of scope: "error" unless the
// attempt came to an outcome (an exception on the way counts as an error).
struct IssuanceTally {
  Metrics& metrics;
  std::string profile;
  std::string outcome = "error";
  ~IssuanceTally() { metrics.count_issuance(profile, outcome); }
};

}  // namespace

bool admit_enrollment(const ServiceState& state, const ExchangePtr& ex, bool reenroll) {
  if (reenroll) {
    if (!ex->ctx.peer) {
      ex->error(401, "unauthenticated", "re-enrollment needs the client certificate being renewed");
      return false;
    }
    if (!ex->ctx.peer_trusted) {
      ex->error(403, "renewal_refused",
                "the certificate presented for renewal did not pass client verification (appliance.auth.client_ca,"
                " clientAuth)");
      return false;
    }
    ex->identity = state.authorizer.for_client_certificate(ex->ctx.peer.get());
  }
  return ex->authenticate();
}

void enroll(const ServiceState& state, const ExchangePtr& ex, std::shared_ptr<const signer::Bytes> csr,
            std::optional<std::string> named, bool reenroll,
            std::function<void(const signer::IssuedCertificate&)> deliver) {
  const std::string profile = named.value_or(state.config.default_profile);
  state.submit(ex, [&state, ex, csr, profile, named, reenroll, deliver = std::move(deliver)] {
    auto& ca = state.issuing.ca();
    // Only configured profile names become metric labels: the caller chooses this one.
    IssuanceTally tally{state.metrics, ca.profile(profile) ? profile : "(unknown)"};
    signer::IssuanceRequest request{*csr, profile, std::nullopt, ex->identity.caller()};
    if (reenroll) {
      auto renewal = ca.renewal_of(ex->ctx.peer.get(), named, state.clock.now());
      if (!renewal.ok()) {
        tally.outcome = "rejected";
        return ex->reject(renewal.rejection());
      }
      request.profile = renewal.value().profile;
      request.renewal = std::move(renewal.value());
    }
    auto outcome = ca.issue(request);
    if (!outcome.ok()) {
      tally.outcome = "rejected";
      return ex->reject(outcome.rejection());
    }
    tally.profile = request.profile;
    tally.outcome = "issued";
    if (request.renewal) {
      // The renewed certificate was revoked (superseded) with this issuance:
      // before the answer, so it stops counting here at once.
      state.revocations.advance(state.issuing.ledger().revocation_version(ca.issuer_id()));
    }
    ex->serial = outcome.value().serial_hex();
    deliver(outcome.value());
  });
}

}  // namespace hsmca::appliance
