#include "softhsm_env.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace hsmca::test {
namespace fs = std::filesystem;

namespace {
fs::path make_temp_dir(const char* prefix) {
  std::string templ = (fs::temp_directory_path() / (std::string(prefix) + "XXXXXX")).string();
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return templ;
}
}  // namespace

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path.string());
  out << content;
}

void write_secret_file(const fs::path& path, const std::string& content) {
  write_file(path, content);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
}

SoftHsmEnv& SoftHsmEnv::get() {
  static SoftHsmEnv env;
  return env;
}

SoftHsmEnv::SoftHsmEnv() : dir_(make_temp_dir("hsmca-softhsm-")) {
  fs::create_directories(dir_ / "tokens");
  std::string conf = read_file(fs::path(HSMCA_SOURCE_DIR) / "softhsm-config" / "softhsm2.conf.in");
  // Every occurrence: the template's comment names the marker too, and
  // replacing only the first left directories.tokendir unset (C_Initialize
  // then fails with CKR_GENERAL_ERROR).
  const std::string marker = "@TOKENDIR@";
  const std::string tokendir = (dir_ / "tokens").string();
  for (auto at = conf.find(marker); at != std::string::npos; at = conf.find(marker, at + tokendir.size())) {
    conf.replace(at, marker.size(), tokendir);
  }
  conf_ = dir_ / "softhsm2.conf";
  write_file(conf_, conf);
  setenv("SOFTHSM2_CONF", conf_.c_str(), 1);
}

SoftHsmEnv::~SoftHsmEnv() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::shared_ptr<token::Module> SoftHsmEnv::module() { return token::Module::load(kSoftHsmModule); }

token::TokenInfo SoftHsmEnv::init_token(const std::string& label) {
  auto m = module();
  return token::init_token(m, label, so_pin(), user_pin());
}

TempDir::TempDir() : path_(make_temp_dir("hsmca-test-")) {}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace hsmca::test
