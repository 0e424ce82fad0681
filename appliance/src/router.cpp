#include "router.hpp"

#include <nlohmann/json.hpp>

namespace hsmca::appliance {
namespace {

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  for (;;) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool served_on(Listeners listeners, bool secure) {
  return listeners == Listeners::both || (listeners == Listeners::https) == secure;
}

}  // namespace

void Router::add(http::verb method, std::string pattern, Listeners listeners, Access access, Handler handler) {
  std::vector<std::string> segments;
  for (auto s : split(pattern)) segments.emplace_back(s);
  routes_.push_back({method, std::move(pattern), std::move(segments), listeners, access, std::move(handler)});
}

bool Router::match(const Route& route, const std::vector<std::string_view>& path, PathParams& params) {
  params.clear();
  for (std::size_t i = 0; i < route.segments.size(); ++i) {
    const auto& want = route.segments[i];
    const bool capture = want.size() > 2 && want.front() == '{' && want.back() == '}';
    if (capture && want.ends_with("...}")) {
      if (i >= path.size()) return false;
      std::string rest(path[i]);
      for (std::size_t j = i + 1; j < path.size(); ++j) rest += "/" + std::string(path[j]);
      if (rest.empty()) return false;
      params.push_back(std::move(rest));
      return true;
    }
    if (i >= path.size()) return false;
    if (capture) {
      if (path[i].empty()) return false;
      params.emplace_back(path[i]);
    } else if (want != path[i]) {
      return false;
    }
  }
  return route.segments.size() == path.size();
}

void Router::add_fallback(std::string prefix, Listeners listeners, Fallback fallback) {
  fallbacks_.push_back({std::move(prefix), listeners, std::move(fallback)});
}

const Fallback* Router::fallback_for(const std::string& path, bool secure) const {
  for (const auto& f : fallbacks_) {
    if (path.starts_with(f.prefix) && served_on(f.listeners, secure)) return &f.fallback;
  }
  return nullptr;
}

void Router::dispatch(const ExchangePtr& ex) const {
  const auto& req = ex->ctx.request;
  const std::string_view target(req.target().data(), req.target().size());
  const std::string path(target.substr(0, target.find('?')));
  const auto segments = split(path);
  PathParams params;
  std::string allow;
  bool elsewhere = false;
  for (const auto& route : routes_) {
    if (!match(route, segments, params)) continue;
    if (!served_on(route.listeners, ex->ctx.secure)) {
      elsewhere = elsewhere || route.listeners == Listeners::https;
      continue;
    }
    ex->route = route.pattern;
    if (route.method == req.method()) {
      if (route.access == Access::caller && gate_) {
        return gate_(ex, [&route, ex, params] { route.handler(ex, params); });
      }
      return route.handler(ex, params);
    }
    const std::string method(http::to_string(route.method));
    if (allow.find(method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + method;
  }
  const Fallback* fallback = fallback_for(path, ex->ctx.secure);
  if (!allow.empty()) {
    if (fallback) return (*fallback)(ex, 405, allow);
    Response res = ex->response(http::status::method_not_allowed);
    res.set(http::field::allow, allow);
    res.set(http::field::content_type, "application/json");
    res.body() = nlohmann::json{{"error", "method_not_allowed"}, {"message", "use " + allow}}.dump();
    return ex->finish(std::move(res));
  }
  ex->route = "unmatched";
  if (fallback) return (*fallback)(ex, 404, {});
  if (elsewhere) {
    return ex->error(404, "not_found", path + " is not served on the plain listener; enrollment is on HTTPS");
  }
  ex->error(404, "not_found", "no route for " + path);
}

}  // namespace hsmca::appliance
