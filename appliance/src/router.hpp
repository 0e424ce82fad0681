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

// The path's `{name}` segments in order; a last segment `{name...}` takes the
// rest of the path, slashes included.
using PathParams = std::vector<std::string>;
using Handler = std::function<void(const ExchangePtr&, const PathParams&)>;

class Router {
 public:
  // `pattern`: "/api/v1/certificates/{serial}/revoke". It becomes the
  // exchange's route label (metrics, logs), so labels never hold client input.
  void add(http::verb method, std::string pattern, Listeners listeners, Handler handler);
  // Sets the exchange's route and hands it to its handler, or answers it.
  void dispatch(const ExchangePtr& ex) const;

 private:
  struct Route {
    http::verb method;
    std::string pattern;
    std::vector<std::string> segments;
    Listeners listeners;
    Handler handler;
  };
  static bool match(const Route& route, const std::vector<std::string_view>& path, PathParams& params);
  std::vector<Route> routes_;
};

}  // namespace hsmca::appliance
