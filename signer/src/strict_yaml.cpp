#include "hsmca/signer/strict_yaml.hpp"

#include <fstream>

namespace hsmca::signer {

StrictMap::StrictMap(const YAML::Node& node, std::string path) : node_(node), path_(std::move(path)) {
  if (!node_.IsMap()) {
    throw ConfigError((path_.empty() ? std::string("the file") : path_) + " must be a mapping of keys to values");
  }
  // yaml-cpp keeps the first of two equal keys; a ceremony file must not say two things.
  std::set<std::string> keys;
  for (const auto& kv : node_) {
    if (!keys.insert(kv.first.as<std::string>()).second) {
      throw ConfigError("duplicate key " + path_of(kv.first.as<std::string>()));
    }
  }
}

std::string StrictMap::path_of(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

bool StrictMap::has(const std::string& key) const { return node_[key].IsDefined() && !node_[key].IsNull(); }

std::optional<std::string> StrictMap::optional_string(const std::string& key) {
  seen_.insert(key);
  if (!has(key)) return std::nullopt;
  const YAML::Node v = node_[key];
  if (!v.IsScalar()) throw ConfigError(path_of(key) + " must be a single value");
  return v.as<std::string>();
}

std::optional<std::string> StrictMap::optional_url(const std::string& key) {
  auto v = optional_string(key);
  if (v && v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0) {
    throw ConfigError(path_of(key) + " must be an http:// or https:// URL");
  }
  return v;
}

std::string StrictMap::required_string(const std::string& key) {
  auto v = optional_string(key);
  if (!v || v->empty()) throw ConfigError("missing " + path_of(key));
  return *v;
}

std::optional<long long> StrictMap::optional_integer(const std::string& key, long long min, long long max) {
  auto text = optional_string(key);
  if (!text) return std::nullopt;
  long long value = 0;
  std::size_t used = 0;
  try {
    value = std::stoll(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text->size()) throw ConfigError(path_of(key) + " must be a whole number, not '" + *text + "'");
  if (value < min || value > max) {
    throw ConfigError(path_of(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return value;
}

std::optional<StrictMap> StrictMap::optional_map(const std::string& key) {
  seen_.insert(key);
  if (!has(key)) return std::nullopt;
  return StrictMap(node_[key], path_of(key));
}

StrictMap StrictMap::required_map(const std::string& key) {
  auto m = optional_map(key);
  if (!m) throw ConfigError("missing " + path_of(key));
  return *m;
}

std::vector<std::string> StrictMap::optional_string_list(const std::string& key) {
  seen_.insert(key);
  std::vector<std::string> out;
  if (!has(key)) return out;
  const YAML::Node v = node_[key];
  if (!v.IsSequence()) throw ConfigError(path_of(key) + " must be a list");
  for (const auto& item : v) {
    if (!item.IsScalar()) throw ConfigError(path_of(key) + " must be a list of single values");
    out.push_back(item.as<std::string>());
  }
  return out;
}

std::vector<StrictMap> StrictMap::optional_map_list(const std::string& key) {
  seen_.insert(key);
  std::vector<StrictMap> out;
  if (!has(key)) return out;
  const YAML::Node v = node_[key];
  if (!v.IsSequence()) throw ConfigError(path_of(key) + " must be a list");
  for (std::size_t i = 0; i < v.size(); ++i) {
    out.emplace_back(v[i], path_of(key) + "[" + std::to_string(i) + "]");
  }
  return out;
}

std::vector<std::string> StrictMap::keys() const {
  std::vector<std::string> out;
  for (const auto& kv : node_) out.push_back(kv.first.as<std::string>());
  return out;
}

void StrictMap::finish() const {
  for (const auto& kv : node_) {
    const auto key = kv.first.as<std::string>();
    if (!seen_.count(key)) throw ConfigError("unknown key " + path_of(key));
  }
}

YAML::Node load_yaml_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError("cannot read " + file);
  // Read with the limit, not measured first: what is parsed is what was read.
  std::string text(kMaxYamlFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) throw ConfigError("cannot read " + file);
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxYamlFileBytes) {
    throw ConfigError(file + " is larger than " + std::to_string(kMaxYamlFileBytes) +
                      " bytes (1 MiB), the limit for a ceremony or CA file");
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(file + ": not valid YAML: line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) throw ConfigError(file + ": expected a mapping at the top level");
  return root;
}

}  // namespace hsmca::signer
