#include "hsmca/signer/strict_yaml.hpp"

#include <gtest/gtest.h>

#include <string>

#include "softhsm_env.hpp"

namespace hsmca::signer {
namespace {

using test::TempDir;

// The ConfigError's message, or a note that none was thrown.
std::string error_of(const std::string& file) {
  try {
    load_yaml_file(file);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

TEST(StrictYamlTest, RefusesAFileOverOneMebibyteBeforeParsingIt) {
  TempDir dir;
  const auto file = (dir / "ceremony.yaml").string();
  // Not YAML past its first line: a parser would report that, the size check comes first.
  test::write_file(file, "ceremony: root\n" + std::string(kMaxYamlFileBytes, '['));
  EXPECT_EQ(error_of(file), file + " is larger than 1048576 bytes (1 MiB), the limit for a ceremony or CA file");
}

TEST(StrictYamlTest, ReadsAFileOfExactlyTheLimit) {
  TempDir dir;
  const auto file = (dir / "ca.yaml").string();
  const std::string head = "comment: ";
  test::write_file(file, head + std::string(kMaxYamlFileBytes - head.size() - 1, 'x') + "\n");
  const auto root = load_yaml_file(file);
  EXPECT_EQ(root["comment"].as<std::string>().size(), kMaxYamlFileBytes - head.size() - 1);
}

TEST(StrictYamlTest, NamesTheLineOfASyntaxError) {
  TempDir dir;
  const auto file = (dir / "ca.yaml").string();
  test::write_file(file, "a: 1\nb: [\n");
  EXPECT_EQ(error_of(file).rfind(file + ": not valid YAML: line ", 0), 0u) << error_of(file);
}

TEST(StrictYamlTest, NamesAFileThatCannotBeRead) {
  TempDir dir;
  const auto file = (dir / "absent.yaml").string();
  EXPECT_EQ(error_of(file), "cannot read " + file);
}

}  // namespace
}  // namespace hsmca::signer
