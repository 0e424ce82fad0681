// hsmca revoke / crl: the seeds' `openssl ca -revoke` and `openssl ca -gencrl`
// with the ledger as the index and the CRL signed by the key in the token.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <system_error>
#include <vector>

#include "commands.hpp"
#include "hsmca/signer/certificate_authority.hpp"
#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/revocation.hpp"
#include "hsmca/signer/serial.hpp"
#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::cli {

using signer::ConfigError;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// A CRL is re-issued on a schedule and read by web servers and relying
// parties while that happens: they must see the old CRL or the new one, never
// half of one. So the bytes go to a temporary file beside `path`, are synced,
// and replace it with rename(2), which is atomic within a filesystem.
void replace_file_atomically(const fs::path& path, const std::string& content) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string temp = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  const int fd = mkstemp(temp.data());
  if (fd < 0) fail_errno("creating a temporary file in " + dir.string());
  try {
    // A CRL is public; mkstemp makes the file owner-only.
    if (fchmod(fd, 0644) != 0) fail_errno("chmod " + temp);
    for (std::size_t done = 0; done < content.size();) {
      const ssize_t n = write(fd, content.data() + done, content.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail_errno("writing " + temp);
      }
      done += static_cast<std::size_t>(n);
    }
    if (fsync(fd) != 0) fail_errno("fsync " + temp);
    if (close(fd) != 0) {
      unlink(temp.c_str());
      fail_errno("closing " + temp);
    }
  } catch (...) {
    close(fd);
    unlink(temp.c_str());
    throw;
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    unlink(temp.c_str());
    errno = saved;
    fail_errno("renaming " + temp + " to " + path.string());
  }
  // The rename itself is durable once the directory is synced.
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
}

}  // namespace

int revoke(const std::string& config_file, const std::string& serial_arg, const std::string& reason) {
  const auto parsed_reason = signer::parse_revocation_reason(reason);
  if (!parsed_reason) {
    throw ConfigError("unknown revocation reason '" + reason + "' (reasons: " + signer::revocation_reason_names() +
                      ")");
  }
  const auto parsed = signer::parse_serial(serial_arg);
  if (!parsed) throw ConfigError("--serial '" + serial_arg + "' is not a serial number in hex");
  const std::string& serial = *parsed;

  const auto config = signer::CaConfig::load(config_file);
  auto ledger = signer::open_sqlite_ledger(config.ledger);
  const auto outcome =
      ledger->revoke(issuer_id_of(config), serial, *parsed_reason, signer::unix_seconds(std::chrono::system_clock::now()));
  using Result = signer::RevokeOutcome::Result;
  switch (outcome.result) {
    case Result::revoked:
      std::cout << "revoked " << serial << " (" << signer::reason_name(outcome.reason) << ") at " << signer::rfc3339(outcome.revoked_at)
                << "\n";
      return 0;
    case Result::already_revoked:
      std::cout << serial << " was already revoked at " << signer::rfc3339(outcome.revoked_at) << " ("
                << signer::reason_name(outcome.reason) << "); nothing changed\n";
      return 0;
    case Result::not_issued:
      throw ConfigError("certificate " + serial + " is " + std::string(signer::status_name(outcome.status)) +
                        ", not issued: there is nothing to revoke");
    case Result::not_found:
      break;
  }
  throw ConfigError("no certificate with serial " + serial + " from this CA in the ledger " + config.ledger.string());
}

int crl(const std::string& config_file, const std::string& out, bool der) {
  const auto config = signer::CaConfig::load(config_file);
  const fs::path out_path(out);
  const fs::path out_dir = out_path.has_parent_path() ? out_path.parent_path() : fs::path(".");
  if (!fs::is_directory(out_dir)) throw ConfigError("--out " + out + ": directory " + out_dir.string() + " does not exist");
  if (fs::is_directory(out_path)) throw ConfigError("--out " + out + " is a directory");

  auto issuing = signer::IssuingCa::open(config);
  const auto signed_crl = issuing->ca().issue_crl(std::chrono::hours{config.revocation.crl_validity_hours});

  replace_file_atomically(out_path, der ? std::string(signed_crl.der.begin(), signed_crl.der.end()) : signed_crl.pem());
  std::cout << out << "  CRL number " << signed_crl.number << "  " << signed_crl.entries << " revoked  next update "
            << signer::rfc3339(signed_crl.next_update) << "\n";
  return 0;
}

}  // namespace hsmca::cli
