#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <atomic>
#include <memory>
#include <vector>

#include "hsmca/appliance/config.hpp"
#include "service.hpp"

namespace hsmca::appliance {

// The two listeners (HTTPS and plain HTTP), their connections, and a graceful
// stop on SIGTERM/SIGINT.
class Server {
 public:
  Server(const ApplianceConfig& config, Service& service);
  ~Server();
  Server(const Server&) = delete;  // owns the I/O threads and sockets
  Server& operator=(const Server&) = delete;

  // Binds both listeners, prints "listening https HOST:PORT" and "listening
  // http HOST:PORT", serves until SIGTERM or SIGINT, then stops accepting,
  // lets in-flight requests finish within the grace period and returns.
  void run();

  struct Shared;  // what sessions need: config, service, TLS context, counters

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace hsmca::appliance
