#include "fault_config.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace hsmca::shim {
namespace {

struct RvName {
  CK_RV rv;
  std::string_view name;
};

// The return values a test has reason to inject: what tokens answer when
// they fail, plus the session and login losses the pool must heal.
constexpr RvName kRvNames[] = {
    {CKR_OK, "CKR_OK"},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
    {CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED"},
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE"},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
    {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"},
    {CKR_SESSION_COUNT, "CKR_SESSION_COUNT"},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
};

constexpr std::string_view kFamilyScopes[] = {"all", "sign", "session", "login", "find"};
constexpr std::string_view kFields[] = {"latency_ms", "jitter_ms", "error_rate", "error", "hang_file", "hang_limit"};

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

bool known_scope(std::string_view scope) {
  for (auto s : kFamilyScopes) {
    if (s == scope) return true;
  }
  for (const auto& f : kFunctions) {
    if (f.name == scope) return true;
  }
  return false;
}

double parse_number(std::string_view value, const std::string& where) {
  double d = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), d);
  if (ec != std::errc{} || p != value.data() + value.size() || value.empty() || !(d >= 0)) {
    throw ConfigError(where + ": '" + std::string(value) + "' is not a number >= 0");
  }
  return d;
}

std::uint64_t parse_unsigned(std::string_view value, const std::string& where) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc{} || p != value.data() + value.size() || value.empty()) {
    throw ConfigError(where + ": '" + std::string(value) + "' is not a whole number");
  }
  return n;
}

void set_field(FaultSettings& s, std::string_view field, std::string_view value, const std::string& where) {
  if (field == "latency_ms") {
    s.latency_ms = parse_number(value, where);
  } else if (field == "jitter_ms") {
    s.jitter_ms = parse_number(value, where);
  } else if (field == "error_rate") {
    const double rate = parse_number(value, where);
    if (rate > 1) throw ConfigError(where + ": error_rate must be between 0 and 1");
    s.error_rate = rate;
  } else if (field == "error") {
    auto rv = parse_rv(value);
    if (!rv || *rv == CKR_OK) throw ConfigError(where + ": '" + std::string(value) + "' is not a CK_RV the shim knows");
    s.error = *rv;
  } else if (field == "hang_file") {
    s.hang_file = std::string(value);
  } else if (field == "hang_limit") {
    s.hang_limit = parse_unsigned(value, where);
  } else {
    throw ConfigError(where + ": unknown field '" + std::string(field) +
                      "' (latency_ms, jitter_ms, error_rate, error, hang_file, hang_limit)");
  }
}

template <typename T>
void take(std::optional<T>& into, const std::optional<T>& from) {
  if (!into && from) into = from;
}

std::string_view family_scope(Family f) {
  switch (f) {
    case Family::sign: return "sign";
    case Family::session: return "session";
    case Family::login: return "login";
    case Family::find: return "find";
    case Family::lifecycle:
    case Family::other: break;
  }
  return {};
}

}  // namespace

std::optional<CK_RV> parse_rv(std::string_view text) {
  for (const auto& n : kRvNames) {
    if (n.name == text) return n.rv;
  }
  if (text.starts_with("0x") || text.starts_with("0X")) {
    CK_RV rv = 0;
    auto [p, ec] = std::from_chars(text.data() + 2, text.data() + text.size(), rv, 16);
    if (ec == std::errc{} && p == text.data() + text.size() && text.size() > 2) return rv;
  }
  return std::nullopt;
}

std::string rv_name(CK_RV rv) {
  for (const auto& n : kRvNames) {
    if (n.rv == rv) return std::string(n.name);
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%lx", rv);
  return buf;
}

void apply_settings(Config& config, std::string_view text, std::string_view origin) {
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;

    const std::string where = std::string(origin) + ":" + std::to_string(line_no);
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) throw ConfigError(where + ": expected 'key = value'");
    const std::string_view key = trim(line.substr(0, eq));
    const std::string_view value = trim(line.substr(eq + 1));

    if (key == "module") {
      config.module = std::string(value);
    } else if (key == "seed") {
      config.seed = parse_unsigned(value, where);
    } else if (key == "max_sessions") {
      config.max_sessions = parse_unsigned(value, where);
    } else {
      const auto dot = key.find('.');
      if (dot == std::string_view::npos) {
        throw ConfigError(where + ": unknown key '" + std::string(key) +
                          "' (module, seed, max_sessions, <scope>.<field>)");
      }
      const std::string_view scope = key.substr(0, dot);
      if (!known_scope(scope)) {
        throw ConfigError(where + ": unknown scope '" + std::string(scope) +
                          "' (all, sign, session, login, find, or a function name such as C_Sign)");
      }
      auto it = config.scopes.find(scope);
      if (it == config.scopes.end()) it = config.scopes.emplace(std::string(scope), FaultSettings{}).first;
      set_field(it->second, key.substr(dot + 1), value, where);
    }
  }
}

std::string settings_from_environment() {
  std::string out;
  auto add = [&](const std::string& var, std::string_view key) {
    if (const char* v = std::getenv(var.c_str()); v != nullptr && *v != '\0') {
      out += std::string(key) + " = " + v + "\n";
    }
  };
  add("HSMCA_SHIM_MODULE", "module");
  add("HSMCA_SHIM_SEED", "seed");
  add("HSMCA_SHIM_MAX_SESSIONS", "max_sessions");
  for (auto scope : kFamilyScopes) {
    for (auto field : kFields) {
      std::string var = "HSMCA_SHIM_";
      for (char c : scope) var += static_cast<char>(c - 'a' + 'A');
      var += '_';
      for (char c : field) var += c == '_' ? '_' : static_cast<char>(c - 'a' + 'A');
      add(var, std::string(scope) + "." + std::string(field));
    }
  }
  return out;
}

Plans resolve(const Config& config) {
  auto scope = [&](std::string_view name) -> const FaultSettings* {
    auto it = config.scopes.find(name);
    return it == config.scopes.end() ? nullptr : &it->second;
  };
  Plans plans;
  for (std::size_t i = 0; i < kFunctionCount; ++i) {
    const FunctionInfo& f = kFunctions[i];
    FaultSettings merged;
    const FaultSettings* chain[] = {
        scope(f.name),
        family_scope(f.family).empty() ? nullptr : scope(family_scope(f.family)),
        f.family == Family::lifecycle ? nullptr : scope("all"),
    };
    for (const FaultSettings* s : chain) {
      if (s == nullptr) continue;
      take(merged.latency_ms, s->latency_ms);
      take(merged.jitter_ms, s->jitter_ms);
      take(merged.error_rate, s->error_rate);
      take(merged.error, s->error);
      take(merged.hang_file, s->hang_file);
      take(merged.hang_limit, s->hang_limit);
    }
    Plan& p = plans[i];
    p.latency_ms = merged.latency_ms.value_or(0);
    p.jitter_ms = merged.jitter_ms.value_or(0);
    p.error_rate = merged.error_rate.value_or(0);
    p.error = merged.error.value_or(CKR_DEVICE_ERROR);
    p.hang_file = merged.hang_file.value_or("");
    p.hang_limit = merged.hang_limit.value_or(0);
  }
  return plans;
}

}  // namespace hsmca::shim
