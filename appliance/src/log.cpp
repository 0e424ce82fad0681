#include "log.hpp"

#include <chrono>
#include <iostream>
#include <mutex>

#include "hsmca/signer/clock.hpp"

namespace hsmca::appliance {

void log_line(const nlohmann::json& line) {
  static std::mutex mutex;
  nlohmann::json out = {{"time", signer::rfc3339(std::chrono::system_clock::now(), true)}};
  out.update(line);
  // A line that is not UTF-8 (a name a client chose) is logged with U+FFFD, never lost.
  const std::string text = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
  std::lock_guard lock(mutex);
  std::cout << text << std::flush;
}

}  // namespace hsmca::appliance
