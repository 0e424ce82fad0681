#include "hsmca/signer/pin.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <map>
#include <mutex>
#include <vector>

#include "hsmca/signer/secret_file.hpp"
#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::signer {

namespace {

const char* role_name(PinRole role) { return role == PinRole::user ? "user PIN" : "SO PIN"; }

token::Secret from_file(const std::string& path, PinRole role) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ConfigError(std::string("cannot read the ") + role_name(role) + " file " + path);
  try {
    check_secret_file(fd, path, std::string("the ") + role_name(role) + " file");
  } catch (...) {
    close(fd);
    throw;
  }
  token::Secret pin;
  char c;
  ssize_t n;
  // Byte by byte into the locked buffer, so no stdio buffer keeps a copy.
  while ((n = read(fd, &c, 1)) == 1) {
    if (c == '\n' || c == '\r') break;
    pin.push_back(c);
  }
  c = 0;
  close(fd);
  return pin;
}

// Moves a PIN out of the environment: /proc/PID/environ shows the block the
// process was started with, whatever unsetenv does to `environ`, so the
// "NAME=VALUE" strings are wiped in place once the pointers are gone.
// The process's initial environment block, [env_start, env_end) of
// /proc/self/stat (fields 50 and 51): what /proc/PID/environ shows. Strings
// elsewhere (setenv's copies, a caller's putenv buffer) are not ours to wipe.
bool in_initial_environment(const char* p) {
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(stat.substr(close + 2));  // from field 3 (state) on
  std::string field;
  unsigned long long start = 0, end = 0;
  for (int number = 3; fields >> field; ++number) {
    if (number == 50) start = std::stoull(field);
    if (number == 51) {
      end = std::stoull(field);
      break;
    }
  }
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  return start != 0 && at >= start && at < end;
}

token::Secret take_from_environment(const std::string& name) {
  std::vector<char*> entries;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, name.c_str(), name.size()) == 0 && (*e)[name.size()] == '=') entries.push_back(*e);
  }
  if (entries.empty()) return {};
  auto wipe = [&] {
    std::vector<char*> initial;
    for (char* entry : entries) {
      if (in_initial_environment(entry)) initial.push_back(entry);
    }
    unsetenv(name.c_str());
    for (char* entry : initial) explicit_bzero(entry, std::strlen(entry));
  };
  token::Secret pin;
  try {
    pin.assign(entries.front() + name.size() + 1);
  } catch (...) {
    wipe();  // a PIN too long to hold leaves the environment all the same
    throw;
  }
  wipe();
  return pin;
}

// A PIN read from the environment once, kept in locked memory for the next
// login with the same variable (a ceremony logs in to two tokens with HSMCA_PIN).
token::Secret from_env(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, token::Secret> taken;
  std::lock_guard lock(mutex);
  auto it = taken.find(name);
  if (it == taken.end()) {
    token::Secret pin = take_from_environment(name);
    if (pin.empty()) return pin;
    it = taken.emplace(name, std::move(pin)).first;
  }
  return token::Secret(it->second.view());
}

token::Secret prompt(PinRole role, const std::string& token_label) {
  int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty < 0) return {};
  std::string question = std::string("Enter ") + role_name(role) + " for token '" + token_label + "': ";
  if (write(tty, question.data(), question.size()) < 0) {
    close(tty);
    return {};
  }
  termios saved{};
  bool restore = tcgetattr(tty, &saved) == 0;
  if (restore) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  token::Secret pin;
  char c;
  while (read(tty, &c, 1) == 1 && c != '\n' && c != '\r') pin.push_back(c);
  c = 0;
  if (restore) tcsetattr(tty, TCSAFLUSH, &saved);
  if (write(tty, "\n", 1) < 0) {
    // Nothing to do: the newline is cosmetic.
  }
  close(tty);
  return pin;
}

}  // namespace

void make_process_undumpable() { prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

void forget_environment_secret(const std::string& name) { take_from_environment(name); }

token::Secret read_pin(PinRole role, const std::string& source, const std::string& token_label) {
  make_process_undumpable();
  token::Secret pin;
  if (source.rfind("file:", 0) == 0) {
    pin = from_file(source.substr(5), role);
  } else if (source.rfind("env:", 0) == 0) {
    pin = from_env(source.substr(4));
    if (pin.empty()) throw ConfigError("pin source " + source + " names an unset or empty variable");
  } else if (!source.empty()) {
    // Not repeated: a PIN typed where its source belongs would end up in logs.
    throw ConfigError(std::string("the ") + role_name(role) + " source must be env:NAME or file:PATH (the value given "
                      "is not shown: it may be the PIN itself)");
  } else {
    pin = from_env(role == PinRole::user ? "HSMCA_PIN" : "HSMCA_SO_PIN");
    if (pin.empty() && isatty(STDIN_FILENO)) pin = prompt(role, token_label);
  }
  if (pin.empty()) {
    throw ConfigError(std::string("no ") + role_name(role) + " for token '" + token_label + "': set " +
                      (role == PinRole::user ? "HSMCA_PIN" : "HSMCA_SO_PIN") +
                      ", use pin-source=file:PATH, or run on a terminal to be asked");
  }
  return pin;
}

}  // namespace hsmca::signer
