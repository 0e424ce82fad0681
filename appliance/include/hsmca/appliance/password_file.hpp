#pragma once
// HTTP Basic users (RFC 7617) from an Apache htpasswd file, as nginx and
// Apache read them: "NAME:HASH" per line, made with `htpasswd -B` (Debian's
// apache2-utils). Only slow, salted hashes are taken — bcrypt ($2y$, $2b$),
// yescrypt ($y$), sha512-crypt ($6$) — and checked with the system's libcrypt.
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace hsmca::appliance {

class PasswordFile {
 public:
  // ConfigError naming FILE:LINE for a line that is not NAME:HASH, a
  // duplicate name, or a weak or unknown hash format (plain text, {SHA},
  // apr1 MD5, DES crypt, ...): re-create it with `htpasswd -B`. The hash is
  // never repeated in the message.
  static PasswordFile load(const std::filesystem::path& file);

  // Whether `password` is `user`'s. An unknown user costs one hash of the
  // file's first user's kind and cost, as a wrong password does, so the time
  // an answer takes does not tell whether the name exists.
  bool verify(std::string_view user, std::string_view password) const;
  bool empty() const noexcept { return hashes_.empty(); }

 private:
  std::map<std::string, std::string, std::less<>> hashes_;
  std::string decoy_;  // hashes no password: what an unknown user is checked against
};

// Whether `hash` is a format PasswordFile takes ("$2y$", "$2b$", "$y$", "$6$").
bool is_strong_password_hash(std::string_view hash) noexcept;

}  // namespace hsmca::appliance
