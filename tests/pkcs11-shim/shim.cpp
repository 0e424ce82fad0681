// libhsmca-pkcs11-shim.so: a PKCS#11 module that forwards every call to
// another module (SoftHSM by default) and, as configured (fault_config.hpp),
// delays calls, fails a fraction of them, holds them while a file exists, and
// caps the number of open sessions. A test and benchmark tool: it lets the
// token layer and the appliance meet a misbehaving HSM without one.
#include <dlfcn.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <tuple>

#include "fault_config.hpp"
#include "functions.hpp"

#define HSMCA_SHIM_EXPORT extern "C" __attribute__((visibility("default")))

namespace hsmca::shim {
namespace {

using namespace std::chrono_literals;

// Identifies one version of the config file; a new one is read when it changes.
// Writers should write a temporary file and rename it over the old one, so a
// half-written file is never read.
struct FileStamp {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp stamp_of(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return {};
  return {true, st.st_dev, st.st_ino, st.st_size,
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string read_all(const std::string& path) {
  std::string out;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  std::fclose(f);
  return out;
}

// splitmix64: the n-th draw of function `fn` depends only on the seed, the
// function and n, so a seeded run faults the same calls of each function
// whatever the other functions or threads do.
double uniform(std::uint64_t seed, std::size_t fn, std::uint64_t n, std::uint64_t stream) {
  std::uint64_t z = seed ^ ((fn + 1) * 0x9E3779B97F4A7C15ULL) ^ (n * 0xBF58476D1CE4E5B9ULL) ^ (stream << 62);
  for (int i = 0; i < 2; ++i) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
  }
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

// Faults after which a real token has lost the session: the shim closes it in
// the module underneath, so the fault is real, not just a return value.
bool loses_session(CK_RV rv) {
  return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_DEVICE_REMOVED;
}

struct Snapshot {
  Config config;
  Plans plans;
  std::uint64_t seed = 0;
};

class Shim {
 public:
  // Never destroyed: a consumer may call C_Finalize from its own static
  // destructors after ours would have run.
  static Shim& get() {
    static Shim* shim = new Shim;
    return *shim;
  }

  CK_FUNCTION_LIST* list() noexcept { return &list_; }

  template <Fn F, auto Member, typename... A>
  CK_RV call(A... args);

  std::size_t held() const noexcept { return held_.load(); }
  std::uint64_t injected(std::size_t fn) const noexcept { return injected_[fn].load(); }
  std::uint64_t calls(std::size_t fn) const noexcept { return calls_[fn].load(); }

 private:
  Shim();
  CK_RV start();
  std::shared_ptr<const Snapshot> snapshot();
  // Under config_mutex_. Throws ConfigError.
  void reload(const FileStamp& stamp);
  void hold_while_exists(const std::string& path, std::uint64_t limit);
  void lose_session(CK_FUNCTION_LIST* target, CK_SESSION_HANDLE session);

  CK_FUNCTION_LIST list_{};

  std::mutex config_mutex_;
  std::string config_path_;  // HSMCA_SHIM_CONFIG
  std::string env_settings_;
  FileStamp stamp_;
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<Snapshot>();

  std::array<std::atomic<std::uint64_t>, kFunctionCount> draws_{};
  std::array<std::atomic<std::uint64_t>, kFunctionCount> calls_{};
  std::array<std::atomic<std::uint64_t>, kFunctionCount> injected_{};
  std::atomic<std::size_t> held_{0};

  std::mutex target_mutex_;
  void* target_handle_ = nullptr;  // never closed, as the shim itself is never torn down
  std::atomic<CK_FUNCTION_LIST*> target_{nullptr};

  std::mutex sessions_mutex_;
  std::map<CK_SESSION_HANDLE, CK_SLOT_ID> open_;  // opened through the shim, not yet closed
  std::size_t opening_ = 0;                       // C_OpenSession calls under way
};

// Turns a CK_FUNCTION_LIST member's type into a C function with the same
// signature that goes through Shim::call.
template <typename MemberPointer>
struct Entry;
template <typename... A>
struct Entry<CK_RV (*CK_FUNCTION_LIST::*)(A...)> {
  template <Fn F, CK_RV (*CK_FUNCTION_LIST::*Member)(A...)>
  static CK_RV call(A... args) {
    return Shim::get().call<F, Member>(args...);
  }
};

CK_RV shim_get_function_list(CK_FUNCTION_LIST** list) {
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  *list = Shim::get().list();
  return CKR_OK;
}

Shim::Shim() {
  list_.version = {2, 40};
#define HSMCA_SHIM_ENTRY(name, family, ends, out, session) \
  list_.name = &Entry<decltype(&CK_FUNCTION_LIST::name)>::call<Fn::name, &CK_FUNCTION_LIST::name>;
  HSMCA_SHIM_FUNCTIONS(HSMCA_SHIM_ENTRY)
#undef HSMCA_SHIM_ENTRY
  list_.C_GetFunctionList = &shim_get_function_list;
}

void Shim::reload(const FileStamp& stamp) {
  auto next = std::make_shared<Snapshot>();
  apply_settings(next->config, env_settings_, "environment");
  if (stamp.exists) apply_settings(next->config, read_all(config_path_), config_path_);
  next->plans = resolve(next->config);
  // A seed restarts every function's sequence of draws, so a test that writes
  // a seeded config sees the same faults on every run.
  if (next->config.seed) {
    next->seed = *next->config.seed;
    for (auto& d : draws_) d = 0;
  } else {
    next->seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  }
  // The counters tests read describe the settings in force.
  for (auto& c : calls_) c = 0;
  for (auto& c : injected_) c = 0;
  stamp_ = stamp;
  snapshot_ = std::move(next);
}

std::shared_ptr<const Snapshot> Shim::snapshot() {
  std::lock_guard lock(config_mutex_);
  if (!config_path_.empty()) {
    const FileStamp now = stamp_of(config_path_);
    if (!(now == stamp_)) {
      try {
        reload(now);
      } catch (const ConfigError& e) {
        // Keep faulting as before; say why once per version of the file.
        std::fprintf(stderr, "hsmca-pkcs11-shim: %s (keeping the previous settings)\n", e.what());
        stamp_ = now;
      }
    }
  }
  return snapshot_;
}

// C_Initialize: the settings are read afresh (a test may have changed the
// environment since the last C_Finalize) and the target module is loaded once.
CK_RV Shim::start() {
  std::shared_ptr<const Snapshot> snap;
  {
    std::lock_guard lock(config_mutex_);
    const char* path = std::getenv("HSMCA_SHIM_CONFIG");
    std::string config_path = path != nullptr ? path : "";
    std::string env_settings = settings_from_environment();
    const FileStamp now = stamp_of(config_path);
    if (config_path != config_path_ || env_settings != env_settings_ || !(now == stamp_) ||
        target_.load() == nullptr) {
      config_path_ = std::move(config_path);
      env_settings_ = std::move(env_settings);
      try {
        reload(now);
      } catch (const ConfigError& e) {
        std::fprintf(stderr, "hsmca-pkcs11-shim: %s\n", e.what());
        return CKR_ARGUMENTS_BAD;
      }
    }
    snap = snapshot_;
  }

  std::lock_guard lock(target_mutex_);
  if (target_.load() != nullptr) return CKR_OK;
  const std::string module = snap->config.module.empty() ? HSMCA_SHIM_DEFAULT_MODULE : snap->config.module;
  void* handle = dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    std::fprintf(stderr, "hsmca-pkcs11-shim: cannot load %s: %s\n", module.c_str(), why ? why : "dlopen failed");
    return CKR_GENERAL_ERROR;
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST* target = nullptr;
  if (get_list == nullptr || get_list(&target) != CKR_OK || target == nullptr) {
    std::fprintf(stderr, "hsmca-pkcs11-shim: %s is not a PKCS#11 module\n", module.c_str());
    dlclose(handle);
    return CKR_GENERAL_ERROR;
  }
  target_handle_ = handle;
  target_.store(target);
  return CKR_OK;
}

void Shim::hold_while_exists(const std::string& path, std::uint64_t limit) {
  if (!exists(path)) return;
  if (limit == 0) {
    ++held_;
  } else {
    std::size_t held = held_.load();
    do {
      if (held >= limit) return;  // enough calls are stuck already: this one passes
    } while (!held_.compare_exchange_weak(held, held + 1));
  }
  while (exists(path)) std::this_thread::sleep_for(5ms);
  --held_;
}

void Shim::lose_session(CK_FUNCTION_LIST* target, CK_SESSION_HANDLE session) {
  target->C_CloseSession(session);
  std::lock_guard lock(sessions_mutex_);
  open_.erase(session);
}

template <Fn F, auto Member, typename... A>
CK_RV Shim::call(A... args) {
  constexpr FunctionInfo fi = info(F);
  constexpr std::size_t index = static_cast<std::size_t>(F);
  if constexpr (F == Fn::C_Initialize) {
    if (CK_RV rv = start(); rv != CKR_OK) return rv;
  }
  CK_FUNCTION_LIST* target = target_.load();
  if (target == nullptr) return CKR_CRYPTOKI_NOT_INITIALIZED;

  const std::shared_ptr<const Snapshot> snap = snapshot();
  const Plan& plan = snap->plans[index];
  ++calls_[index];
  if (!plan.hang_file.empty()) hold_while_exists(plan.hang_file, plan.hang_limit);
  const std::uint64_t n = draws_[index]++;
  if (plan.latency_ms > 0 || plan.jitter_ms > 0) {
    const double ms = plan.latency_ms + plan.jitter_ms * uniform(snap->seed, index, n, 1);
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(ms));
  }
  const bool inject = plan.faulty() && uniform(snap->seed, index, n, 0) < plan.error_rate;

  [[maybe_unused]] CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  if constexpr (fi.session) session = std::get<0>(std::forward_as_tuple(args...));

  if constexpr (!fi.ends) {
    if (inject) {
      ++injected_[index];
      if constexpr (fi.session) {
        if (loses_session(plan.error)) lose_session(target, session);
      }
      return plan.error;
    }
  }

  if constexpr (F == Fn::C_OpenSession) {
    std::lock_guard lock(sessions_mutex_);
    const auto cap = snap->config.max_sessions;
    if (cap && open_.size() + opening_ >= *cap) return CKR_SESSION_COUNT;
    ++opening_;
  }

  const CK_RV rv = (target->*Member)(args...);

  if constexpr (F == Fn::C_OpenSession) {
    std::lock_guard lock(sessions_mutex_);
    --opening_;
    if (rv == CKR_OK) open_[*std::get<4>(std::forward_as_tuple(args...))] = std::get<0>(std::forward_as_tuple(args...));
  } else if constexpr (F == Fn::C_CloseSession) {
    if (rv == CKR_OK || rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED) {
      std::lock_guard lock(sessions_mutex_);
      open_.erase(session);
    }
  } else if constexpr (F == Fn::C_CloseAllSessions) {
    if (rv == CKR_OK) {
      const CK_SLOT_ID slot = std::get<0>(std::forward_as_tuple(args...));
      std::lock_guard lock(sessions_mutex_);
      std::erase_if(open_, [&](const auto& entry) { return entry.second == slot; });
    }
  } else if constexpr (F == Fn::C_Finalize) {
    if (rv == CKR_OK) {
      std::lock_guard lock(sessions_mutex_);
      open_.clear();
    }
  }

  if constexpr (fi.ends) {
    // Only a call that really ended its operation is faulted: a length query
    // or CKR_BUFFER_TOO_SMALL leaves it active, and the caller will call again.
    bool ended = rv == CKR_OK;
    if constexpr (fi.out >= 0) ended = ended && std::get<fi.out>(std::forward_as_tuple(args...)) != nullptr;
    if (inject && ended) {
      ++injected_[index];
      if constexpr (F != Fn::C_CloseSession) {
        if (loses_session(plan.error)) lose_session(target, session);
      }
      return plan.error;
    }
  }
  return rv;
}

std::size_t function_index(const char* name) {
  for (std::size_t i = 0; i < kFunctionCount; ++i) {
    if (name != nullptr && kFunctions[i].name == name) return i;
  }
  return kFunctionCount;
}

}  // namespace
}  // namespace hsmca::shim

HSMCA_SHIM_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST** list) { return hsmca::shim::shim_get_function_list(list); }

// For tests in the same process (find them with dlsym): how many calls are held
// by a hang_file right now, and how many calls of a function the shim has seen
// and faulted since its settings last changed (a new config file, or
// C_Initialize with different HSMCA_SHIM_* variables).
HSMCA_SHIM_EXPORT unsigned long hsmca_shim_held_calls() { return hsmca::shim::Shim::get().held(); }

HSMCA_SHIM_EXPORT unsigned long long hsmca_shim_calls(const char* function) {
  const std::size_t i = hsmca::shim::function_index(function);
  return i < hsmca::shim::kFunctionCount ? hsmca::shim::Shim::get().calls(i) : 0;
}

HSMCA_SHIM_EXPORT unsigned long long hsmca_shim_injected_faults(const char* function) {
  const std::size_t i = hsmca::shim::function_index(function);
  return i < hsmca::shim::kFunctionCount ? hsmca::shim::Shim::get().injected(i) : 0;
}
