#pragma once
// What the appliance answers, independent of sockets. Sessions hand it a
// parsed request and get exactly one response back, possibly from a worker
// thread. The router sends each request to one handler per protocol; the
// handlers share the state in ServiceState.
#include <cstdint>
#include <functional>
#include <memory>

#include "acme_handler.hpp"
#include "api_handler.hpp"
#include "ca_handler.hpp"
#include "credentials.hpp"
#include "crl_handler.hpp"
#include "est_handler.hpp"
#include "health_handler.hpp"
#include "metrics_handler.hpp"
#include "ocsp_handler.hpp"
#include "router.hpp"
#include "service_state.hpp"

namespace hsmca::appliance {

class Service {
 public:
  Service(const signer::CaConfig& ca_config, const ApplianceConfig& config, signer::IssuingCa& issuing,
          const Authorizer& authorizer, Metrics& metrics, WorkPool& pool,
          const signer::Clock& clock = signer::Clock::system());
  // Handlers and the watcher hold references into this object.
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Calls `done` exactly once: on this thread for cheap routes, on a worker
  // thread for those that need the token or the ledger.
  void handle(RequestContext ctx, std::function<void(Response)> done);

  std::int64_t in_flight() const noexcept { return metrics_.in_flight(); }

 private:
  void check_password(const ExchangePtr& ex, std::function<void()> proceed);

  Metrics& metrics_;
  // The ledger's revocation version, watched on a thread of its own and
  // advanced at once by this process's own revocations; the CRL, OCSP
  // answers and client certificates' standing are served only as confirmed
  // at it.
  RevocationWatcher revocations_;
  ServiceState state_;
  Credentials credentials_;
  CaHandler ca_;
  CrlHandler crl_;
  OcspHandler ocsp_;
  EstHandler est_;
  ApiHandler api_;
  HealthHandler health_;
  MetricsHandler metrics_handler_;
  std::unique_ptr<AcmeHandler> acme_;  // when appliance.acme is configured
  Router router_;
  // Last: its threads stop first, before anything a password check uses.
  WorkPool password_checks_;
};

}  // namespace hsmca::appliance
