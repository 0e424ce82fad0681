// The ceremony file reader (admin-cli/src/ceremony_file.cpp over
// signer/src/strict_yaml.cpp). The input is the file's text. A file that is
// not a ceremony is a ConfigError naming what is wrong; peek_ceremony never
// throws; any other exception, a crash or undefined behaviour is a finding.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>

#include "ceremony_file.hpp"
#include "fuzz_support.hpp"
#include "hsmca/signer/strict_yaml.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = hsmca::fuzz::scratch_file("-ceremony.yaml");
  hsmca::fuzz::write_file(path, data, size);
  // A fixed "now": validity_days and the CRL's times are read against it.
  const auto now = std::chrono::system_clock::time_point{std::chrono::seconds{1'780'000'000}};
  (void)hsmca::cli::peek_ceremony(path);  // noexcept: a throw would terminate
  try {
    const auto spec = hsmca::cli::parse_ceremony(path, now);
    (void)spec.outputs();
  } catch (const hsmca::signer::ConfigError&) {
  } catch (const std::exception& e) {
    hsmca::fuzz::finding("the ceremony file reader threw something else than ConfigError", e.what());
  }
  return 0;
}
