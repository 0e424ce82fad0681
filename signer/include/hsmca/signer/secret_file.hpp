#pragma once
#include <filesystem>
#include <string>

namespace hsmca::signer {

// A file that holds a secret — a PIN, the API token list, the appliance's TLS
// key — must not be readable by others nor writable by group or others:
// anyone who can read it holds the secret, anyone who can write it chooses
// it. Group read is allowed (a key shared with a service group). Throws
// ConfigError, one line: "WHAT: PATH is readable by others: chmod 600 PATH";
// `what` says where the path came from ("appliance.tls.key", "user PIN file").
void check_secret_file(const std::filesystem::path& path, const std::string& what);

// The same for a file already open (fstat), so what is checked is what is read.
void check_secret_file(int fd, const std::filesystem::path& path, const std::string& what);

}  // namespace hsmca::signer
