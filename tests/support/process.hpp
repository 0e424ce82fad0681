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

// A program running beside the test (a TLS server, the appliance), stopped
// with SIGTERM when the object goes. Its output goes to `log_file`.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                    const std::string& log_file);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;  // the destructor stops the process
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  int pid() const noexcept { return pid_; }
  // SIGTERM, then waits; returns the exit code (128+N when killed by signal N).
  int stop();

 private:
  int pid_ = -1;
  int status_ = -1;
};

// A TCP port on 127.0.0.1 that nothing listens on right now.
int free_port();
// Waits until something accepts on 127.0.0.1:port; false after `seconds`.
bool wait_for_port(int port, double seconds);

// Path of a program built into build/bin.
std::string built_program(const std::string& name);

}  // namespace hsmca::test
