#pragma once
#include <nlohmann/json.hpp>

namespace hsmca::appliance {

// One JSON line per request or event on stdout: machine-readable, never a
// PIN, token or key. `line` gets the time added. Safe from any thread.
void log_line(const nlohmann::json& line);

}  // namespace hsmca::appliance
