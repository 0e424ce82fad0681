// The CA file reader (signer/src/ca_config.cpp over strict_yaml.cpp), and the
// appliance block read from it (appliance/src/config.cpp). The input is the
// file's text. A file that is not a CA file is a ConfigError naming what is
// wrong; any other exception, a crash or undefined behaviour is a finding.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "fuzz_support.hpp"
#include "hsmca/appliance/config.hpp"
#include "hsmca/signer/ca_config.hpp"
#include "hsmca/signer/strict_yaml.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = hsmca::fuzz::scratch_file("-ca.yaml");
  hsmca::fuzz::write_file(path, data, size);
  try {
    const auto ca = hsmca::signer::CaConfig::load(path);
    (void)ca.profile_names();
    try {
      (void)hsmca::appliance::ApplianceConfig::from(ca);
    } catch (const hsmca::signer::ConfigError&) {
    }
  } catch (const hsmca::signer::ConfigError&) {
  } catch (const std::exception& e) {
    hsmca::fuzz::finding("the CA file reader threw something else than ConfigError", e.what());
  }
  return 0;
}
