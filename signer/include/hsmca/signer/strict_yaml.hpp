#pragma once
// Strict reading of declarative files: every key must be known, every value of
// the right shape, and errors name the path ("certificate.subject.country").
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace hsmca::signer {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A mapping whose keys are checked off as they are read; finish() refuses the rest.
class StrictMap {
 public:
  StrictMap(const YAML::Node& node, std::string path);

  bool has(const std::string& key) const;
  std::string path_of(const std::string& key) const;

  std::string required_string(const std::string& key);
  std::optional<std::string> optional_string(const std::string& key);
  // An optional http:// or https:// URL (what certificates point relying parties at).
  std::optional<std::string> optional_url(const std::string& key);
  std::optional<long long> optional_integer(const std::string& key, long long min, long long max);
  StrictMap required_map(const std::string& key);
  std::optional<StrictMap> optional_map(const std::string& key);
  std::vector<std::string> optional_string_list(const std::string& key);
  // A list of mappings, each read strictly as "path.key[i]"; empty when absent.
  std::vector<StrictMap> optional_map_list(const std::string& key);

  std::vector<std::string> keys() const;  // in file order
  const YAML::Node& node() const noexcept { return node_; }

  // Throws ConfigError for the first key that was never read.
  void finish() const;

 private:
  YAML::Node node_;
  std::string path_;
  std::set<std::string> seen_;
};

// Ceremony and CA files are a few kilobytes; parsing a huge one costs minutes
// and gigabytes (yaml-cpp keeps every node), so a larger file is refused
// before it is parsed.
inline constexpr std::size_t kMaxYamlFileBytes = 1024 * 1024;

// Loads a YAML file of at most kMaxYamlFileBytes whose top level must be a mapping.
YAML::Node load_yaml_file(const std::string& file);

}  // namespace hsmca::signer
