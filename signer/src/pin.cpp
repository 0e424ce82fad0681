#include "hsmca/signer/pin.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::signer {

namespace {

const char* role_name(PinRole role) { return role == PinRole::user ? "user PIN" : "SO PIN"; }

token::Secret from_file(const std::string& path, PinRole role) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ConfigError(std::string("cannot read the ") + role_name(role) + " file " + path);
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

token::Secret from_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return token::Secret(value ? value : "");
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

token::Secret read_pin(PinRole role, const std::string& source, const std::string& token_label) {
  token::Secret pin;
  if (source.rfind("file:", 0) == 0) {
    pin = from_file(source.substr(5), role);
  } else if (source.rfind("env:", 0) == 0) {
    pin = from_env(source.substr(4));
    if (pin.empty()) throw ConfigError("pin source " + source + " names an unset or empty variable");
  } else if (!source.empty()) {
    throw ConfigError("unknown pin source '" + source + "' (use env:NAME or file:PATH)");
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
