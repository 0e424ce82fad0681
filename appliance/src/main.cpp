// hsmca-appliance: the always-on signing service. EST and a JSON API on HTTPS,
// health, metrics and the CA chain on plain HTTP, every signature made by the
// issuing key in its token.
#include <CLI/CLI.hpp>

#include <sys/resource.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "hsmca/appliance/auth.hpp"
#include "hsmca/appliance/config.hpp"
#include "hsmca/appliance/metrics.hpp"
#include "hsmca/signer/certificate_authority.hpp"
#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/pin.hpp"
#include "hsmca/token/error.hpp"
#include "log.hpp"
#include "server.hpp"
#include "service.hpp"
#include "hsmca/appliance/work_pool.hpp"

int main(int argc, char** argv) {
  // Pending ledger entries older than this are what a crashed run left behind.
  const auto started = hsmca::signer::unix_seconds(std::chrono::system_clock::now());
  // Before anything else: HSMCA_PIN may be in the environment from the start.
  hsmca::signer::make_process_undumpable();
  // The security officer's PIN is never needed here: out of the environment at once.
  hsmca::signer::forget_environment_secret("HSMCA_SO_PIN");
  // Two listeners' connections, the token's and the ledger's files: the
  // default soft limit (often 1024) is too few; take what the hard limit allows.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
    getrlimit(RLIMIT_NOFILE, &files);
  }
  CLI::App app{"hsmca-appliance: HTTPS certificate signing service (EST, RFC 7030, and a JSON API) whose issuing\n"
               "key stays in a PKCS#11 token. Reads the CA file's `appliance` block. The token PIN comes from\n"
               "HSMCA_PIN or the CA file's pkcs11.pin_source. SIGTERM/SIGINT stop it gracefully.",
               "hsmca-appliance"};
  std::string config_file;
  app.add_option("--config", config_file, "CA file (YAML) with an appliance block")->required()->check(CLI::ExistingFile);
  app.set_version_flag("--version", HSMCA_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  using namespace hsmca;
  try {
    const auto ca_config = signer::CaConfig::load(config_file);
    const auto config = appliance::ApplianceConfig::from(ca_config);
    if (const rlim_t wanted = 2 * config.max_connections + 128; files.rlim_cur != RLIM_INFINITY && files.rlim_cur < wanted) {
      std::cerr << "warning: " << files.rlim_cur << " open files allowed (ulimit -n), fewer than the " << wanted
                << " that two listeners of appliance.limits.max_connections " << config.max_connections
                << " need: raise the limit (LimitNOFILE= in a systemd unit) or lower max_connections\n";
    }
    // This CA's own certificates: a role granted by CN is refused when
    // client_ca trusts one of them (anyone who may enroll could get the CN).
    std::vector<signer::X509Ptr> ca_certificates = signer::read_certificates(ca_config.issuer_certificate);
    for (const auto& file : ca_config.chain) {
      for (auto& c : signer::read_certificates(file)) ca_certificates.push_back(std::move(c));
    }
    const auto authorizer = appliance::Authorizer::from(config, ca_certificates);
    appliance::Metrics metrics;

    token::PoolOptions observers;
    observers.on_fault = [&metrics](const token::Error& e) { metrics.count_token_error(token::rv_name(e.rv())); };
    observers.on_sign = [&metrics](std::chrono::nanoseconds d) { metrics.observe_token_sign(d); };
    // An outage is logged twice, when it begins and when it ends, never per refused request.
    observers.on_outage = [&metrics](const token::OutageEvent& e) {
      if (e.began) {
        metrics.count_token_outage();
        appliance::log_line({{"event", "token_outage_began"}, {"cause", e.cause}});
      } else {
        appliance::log_line({{"event", "token_outage_ended"},
                             {"cause", e.cause},
                             {"seconds", std::chrono::duration<double>(e.lasted).count()},
                             {"refused_calls", e.refused}});
      }
    };
    auto issuing = signer::IssuingCa::open(ca_config, std::move(observers));
    // A crash between "pending" and "issued" handed nothing out: such entries
    // become failed (interrupted), once, at start-up.
    if (const auto interrupted = issuing->ledger().fail_interrupted(started); interrupted > 0) {
      std::cout << nlohmann::json{{"event", "pending_reconciled"}, {"entries", interrupted}, {"failure", signer::kInterrupted}}
                       .dump()
                << std::endl;
    }

    appliance::WorkPool pool(config.workers, config.queue_limit);
    appliance::Service service(ca_config, config, *issuing, authorizer, metrics, pool);
    {
      appliance::Server server(config, service);
      server.run();
    }
    // Stopped accepting and drained what it could; now the workers, then the
    // ledger (closed with the CA).
    const std::size_t dropped = pool.stop(config.shutdown_grace);
    std::cout << "{\"event\":\"stopped\",\"dropped_requests\":" << dropped << "}" << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "hsmca-appliance: error: " << e.what() << "\n";
    return 1;
  }
}
