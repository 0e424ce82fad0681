#pragma once
// What the shim is told to do: read from HSMCA_SHIM_* variables and from the
// file HSMCA_SHIM_CONFIG names (the file wins), resolved into one plan per
// PKCS#11 function.
//
// File format, one setting a line, '#' starts a comment:
//   module = /usr/lib/softhsm/libsofthsm2.so
//   seed = 42
//   max_sessions = 8
//   <scope>.<field> = value
// scope: all | sign | session | login | find | a function name (C_Sign)
// field: latency_ms, jitter_ms, error_rate (0..1), error (a CKR_ name or 0x
//        number), hang_file (calls block while this file exists),
//        hang_limit (at most this many calls held at once, the rest pass:
//        a token only partly stuck; 0, the default, holds every call)
// A function's plan takes each field from the narrowest scope that sets it:
// the function, then its family, then "all" (which leaves C_Initialize,
// C_Finalize and C_GetFunctionList alone).
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "functions.hpp"

namespace hsmca::shim {

// One scope's settings; unset fields fall through to the wider scope.
struct FaultSettings {
  std::optional<double> latency_ms;
  std::optional<double> jitter_ms;
  std::optional<double> error_rate;
  std::optional<CK_RV> error;
  std::optional<std::string> hang_file;
  std::optional<std::uint64_t> hang_limit;
};

struct Config {
  std::string module;
  std::optional<std::uint64_t> seed;
  std::optional<std::size_t> max_sessions;
  std::map<std::string, FaultSettings, std::less<>> scopes;  // "all", "sign", "C_Sign", ...
};

// What one function does, every field resolved.
struct Plan {
  double latency_ms = 0;
  double jitter_ms = 0;
  double error_rate = 0;
  CK_RV error = CKR_DEVICE_ERROR;
  std::string hang_file;
  std::uint64_t hang_limit = 0;
  bool faulty() const noexcept { return error_rate > 0; }
};

using Plans = std::array<Plan, kFunctionCount>;

// A setting the shim cannot use; what() names the line and the reason.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Applies the settings in `text` (file format) on top of `config`. `origin`
// prefixes error messages ("shim.conf:3").
void apply_settings(Config& config, std::string_view text, std::string_view origin);

// The settings the HSMCA_SHIM_* variables give, in file format:
// HSMCA_SHIM_MODULE, HSMCA_SHIM_SEED, HSMCA_SHIM_MAX_SESSIONS and
// HSMCA_SHIM_<SCOPE>_<FIELD> for SCOPE in ALL, SIGN, SESSION, LOGIN, FIND.
std::string settings_from_environment();

Plans resolve(const Config& config);

// "CKR_DEVICE_ERROR" -> 0x30; also "0x30". nullopt when unknown.
std::optional<CK_RV> parse_rv(std::string_view text);
std::string rv_name(CK_RV rv);

}  // namespace hsmca::shim
