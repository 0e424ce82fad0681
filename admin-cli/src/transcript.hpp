#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>

namespace hsmca::cli {

// The record of one ceremony: what was asked (the file's SHA-256), what the
// token and key were, what came out, and every step with its result, failures
// included. Steps are printed as they run so the room can follow along.
class CeremonyTranscript {
 public:
  CeremonyTranscript(const std::filesystem::path& ceremony_file, int planned_steps);

  // Runs `action`, printing "[n/N] title ... ok" (or "FAILED: why") and
  // recording the step. `action` returns a detail line for the record (may be
  // empty). Exceptions are recorded and rethrown.
  void step(const std::string& title, const std::function<std::string()>& action);

  nlohmann::ordered_json& operator[](const std::string& section) { return doc_[section]; }
  void set_kind(const std::string& kind) { doc_["ceremony"] = kind; }
  // The number of steps, once the file says what ceremony this is.
  void set_planned(int steps) { planned_ = steps; }
  void finish(bool ok, const std::string& error = {});

  // Writes the JSON to a new file (never over an existing one), synced to disk.
  void write(const std::filesystem::path& path) const;

 private:
  nlohmann::ordered_json doc_;
  int planned_;
  int done_ = 0;
};

// Creates `path` exclusively (O_EXCL), writes, fsyncs it and its directory.
// On any failure the partial file is removed and the error thrown.
void write_new_file(const std::filesystem::path& path, const std::string& content);

// Refuses (ConfigError) an output that exists or is a symbolic link, dangling
// or not: write_new_file would refuse it too, but only after what it was to
// hold had been signed, recorded or generated. `what` names it in the error
// ("a certificate", "a ceremony output").
void check_new_output(const std::filesystem::path& path, const std::string& what);

}  // namespace hsmca::cli
