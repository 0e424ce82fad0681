#pragma once
// Method and path to handler: one line per route. The router also answers
// what no handler gets: 404 for an unknown path, 405 (with Allow) for a known
// path asked with the wrong method, and the plain listener's refusal of what
// is served on HTTPS only.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "exchange.hpp"

namespace hsmca::appliance {

// Which listeners a route is served on.
enum class Listeners { both, https, plain };
// Whether a route's handler relies on who the caller is: only such routes
// pass the gate (which may check a password first, on a worker).
enum class Access { open, caller };

// The path's `{name}` segments in order; a last segment `{name...}` takes the
// rest of the path, slashes included.
using PathParams = std::vector<std::string>;
using Handler = std::function<void(const ExchangePtr&, const PathParams&)>;
// Runs before a credentials route's handler: answers the exchange, or calls
// `proceed` (at once or later, on any thread).
using Gate = std::function<void(const ExchangePtr&, std::function<void()> proceed)>;

// Answers, in place of the router's own 404 or 405, what no route of a
// prefix takes: `status` and, for 405, the Allow value.
using Fallback = std::function<void(const ExchangePtr&, unsigned status, const std::string& allow)>;

class Router {
 public:
  // `pattern`: "/api/v1/certificates/{serial}/revoke". It becomes the
  // exchange's route label (metrics, logs), so labels never hold client input.
  void add(http::verb method, std::string pattern, Listeners listeners, Access access, Handler handler);
  void set_gate(Gate gate) { gate_ = std::move(gate); }
  // For paths that start with `prefix` ("/acme/") on `listeners`: a protocol
  // with its own error shape answers its own unknown paths and methods.
  void add_fallback(std::string prefix, Listeners listeners, Fallback fallback);
  // Sets the exchange's route and hands it to its handler, or answers it.
  void dispatch(const ExchangePtr& ex) const;

 private:
  struct Route {
    http::verb method;
    std::string pattern;
    std::vector<std::string> segments;
    Listeners listeners;
    Access access;
    Handler handler;
  };
  static bool match(const Route& route, const std::vector<std::string_view>& path, PathParams& params);
  struct PrefixFallback {
    std::string prefix;
    Listeners listeners;
    Fallback fallback;
  };
  // The fallback for the path, when one is registered for it on this listener.
  const Fallback* fallback_for(const std::string& path, bool secure) const;
  std::vector<Route> routes_;  // fixed once the service is built: handlers refer into it
  std::vector<PrefixFallback> fallbacks_;
  Gate gate_;
};

}  // namespace hsmca::appliance
