#include "transcript.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>

#include "hsmca/signer/clock.hpp"
#include "hsmca/signer/openssl.hpp"
#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::cli {

using signer::ConfigError;
using signer::StrictMap;
namespace fs = std::filesystem;

namespace {

std::string now_rfc3339() { return signer::rfc3339(std::chrono::system_clock::now(), true); }

}  // namespace

void write_new_file(const fs::path& path, const std::string& content) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw ConfigError("cannot create " + path.string() + ": " + std::strerror(errno) +
                      (errno == EEXIST ? " (hsmca never overwrites an output)" : ""));
  }
  std::size_t written = 0;
  bool ok = true;
  while (ok && written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n > 0) written += static_cast<std::size_t>(n);
    else if (n < 0 && errno != EINTR) ok = false;
  }
  int err = errno;
  if (ok && fsync(fd) != 0) {
    ok = false;
    err = errno;
  }
  close(fd);
  if (!ok) {
    unlink(path.c_str());
    throw ConfigError("cannot write " + path.string() + ": " + std::strerror(err));
  }
  // The new directory entry must survive a crash too.
  int dir = open(fs::absolute(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
}

void check_new_output(const fs::path& path, const std::string& what) {
  std::error_code ec;
  const auto status = fs::symlink_status(path, ec);  // the link itself, not what it points at
  if (status.type() == fs::file_type::none) throw ConfigError("cannot examine " + path.string() + ": " + ec.message());
  if (fs::is_symlink(status)) {
    throw ConfigError(path.string() + " is a symbolic link; hsmca writes " + what +
                      " only to a new file, never through a link");
  }
  if (fs::exists(status)) throw ConfigError(path.string() + " already exists; hsmca never overwrites " + what);
}

CeremonyTranscript::CeremonyTranscript(const fs::path& ceremony_file, int planned_steps) : planned_(planned_steps) {
  doc_["hsmca_version"] = HSMCA_VERSION;
  doc_["ceremony"] = nullptr;
  std::string sha;
  std::ifstream in(ceremony_file, std::ios::binary);
  if (in) {
    // No further than a ceremony file may reach: a larger one is refused unparsed, and its hash says nothing.
    std::string s(signer::kMaxYamlFileBytes + 1, '\0');
    in.read(s.data(), static_cast<std::streamsize>(s.size()));
    s.resize(static_cast<std::size_t>(in.gcount()));
    if (s.size() <= signer::kMaxYamlFileBytes) {
      sha = signer::sha256_hex({reinterpret_cast<const unsigned char*>(s.data()), s.size()});
    }
  }
  doc_["ceremony_file"] = {{"path", fs::absolute(ceremony_file).string()}, {"sha256", sha}};
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const passwd* pw = getpwuid(geteuid());
  doc_["operator"] = {{"user", pw != nullptr ? pw->pw_name : std::to_string(geteuid())}, {"host", host}};
  doc_["started_at"] = now_rfc3339();
  doc_["finished_at"] = nullptr;
  doc_["result"] = "running";
  doc_["steps"] = nlohmann::ordered_json::array();
}

void CeremonyTranscript::step(const std::string& title, const std::function<std::string()>& action) {
  ++done_;
  std::cout << "[" << done_;
  if (planned_ > 0) std::cout << "/" << planned_;
  std::cout << "] " << title << " ... " << std::flush;
  nlohmann::ordered_json record = {{"step", done_}, {"title", title}, {"started_at", now_rfc3339()}};
  try {
    std::string detail = action();
    record["finished_at"] = now_rfc3339();
    record["result"] = "ok";
    if (!detail.empty()) record["detail"] = detail;
    doc_["steps"].push_back(std::move(record));
    std::cout << "ok" << (detail.empty() ? "" : " (" + detail + ")") << "\n";
  } catch (const std::exception& e) {
    record["finished_at"] = now_rfc3339();
    record["result"] = "failed";
    record["error"] = e.what();
    doc_["steps"].push_back(std::move(record));
    std::cout << "FAILED\n";
    throw;
  }
}

void CeremonyTranscript::finish(bool ok, const std::string& error) {
  doc_["finished_at"] = now_rfc3339();
  doc_["result"] = ok ? "success" : "failed";
  if (!ok) doc_["error"] = error;
}

void CeremonyTranscript::write(const fs::path& path) const { write_new_file(path, doc_.dump(2) + "\n"); }

}  // namespace hsmca::cli
