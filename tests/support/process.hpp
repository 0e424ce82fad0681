#pragma once
#include <map>
#include <string>
#include <vector>

namespace hsmca::test {

struct ProcessResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out;
  std::string err;
};

// Runs argv[0] (searched in PATH) with extra environment variables set (an
// empty value unsets the variable) and `input` on stdin; collects both outputs.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {},
                          const std::string& input = {});

// Path of a program built into build/bin.
std::string built_program(const std::string& name);

}  // namespace hsmca::test
