#include "hsmca/token/module.hpp"

#include <dlfcn.h>
#include <openssl/err.h>

#include <map>

#include "hsmca/token/error.hpp"

namespace hsmca::token {
namespace {

CK_RV initialize(CK_FUNCTION_LIST* fn) {
  // Without CKF_OS_LOCKING_OK SoftHSM turns its own mutexes off, and the
  // session pool calls in from many threads.
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = fn->C_Initialize(&args);
  // SoftHSM shares libcrypto with us and leaves entries on OpenSSL's error
  // queue; they would be blamed on our next OpenSSL call.
  ERR_clear_error();
  return rv;
}

std::mutex registry_mutex;
std::map<std::string, std::weak_ptr<Module>>& registry() {
  static std::map<std::string, std::weak_ptr<Module>> modules;
  return modules;
}

}  // namespace

Module::Module(std::string path, void* handle, CK_FUNCTION_LIST* fn)
    : path_(std::move(path)), handle_(handle), fn_(fn) {}

std::shared_ptr<Module> Module::load(const std::string& path) {
  std::lock_guard lock(registry_mutex);
  if (auto existing = registry()[path].lock()) return existing;

  // RTLD_LOCAL keeps the module's symbols from clashing with ours or another module's.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw LookupError("cannot load PKCS#11 module " + path + ": " + (why ? why : "dlopen failed"));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  if (get_list == nullptr) {
    dlclose(handle);
    throw LookupError(path + " is not a PKCS#11 module (no C_GetFunctionList)");
  }
  CK_FUNCTION_LIST* fn = nullptr;
  CK_RV rv = get_list(&fn);
  if (rv != CKR_OK || fn == nullptr) {
    dlclose(handle);
    throw Error("C_GetFunctionList", rv, path);
  }
  rv = initialize(fn);
  // Another component of this process (libp11, say) may have initialized it first.
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    dlclose(handle);
    throw Error("C_Initialize", rv, path);
  }
  std::shared_ptr<Module> module(new Module(path, handle, fn));
  registry()[path] = module;
  return module;
}

Module::~Module() {
  fn_->C_Finalize(nullptr);
  ERR_clear_error();
  dlclose(handle_);
}

CK_INFO Module::info() const {
  CK_INFO info{};
  check(fn_->C_GetInfo(&info), "C_GetInfo", path_);
  return info;
}

std::vector<CK_SLOT_ID> Module::slots(bool token_present) const {
  CK_BBOOL present = token_present ? CK_TRUE : CK_FALSE;
  for (;;) {
    CK_ULONG count = 0;
    check(fn_->C_GetSlotList(present, nullptr, &count), "C_GetSlotList");
    std::vector<CK_SLOT_ID> ids(count);
    CK_RV rv = fn_->C_GetSlotList(present, ids.data(), &count);
    // The slot set may grow between the two calls (a token inserted).
    if (rv == CKR_BUFFER_TOO_SMALL) continue;
    check(rv, "C_GetSlotList");
    ids.resize(count);
    return ids;
  }
}

void Module::reinitialize() {
  std::lock_guard lock(init_mutex_);
  CK_RV rv = initialize(fn_);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) throw Error("C_Initialize", rv, path_);
}

void Module::restart() {
  std::lock_guard lock(init_mutex_);
  fn_->C_Finalize(nullptr);  // CKR_CRYPTOKI_NOT_INITIALIZED after a failed restart is fine
  ERR_clear_error();
  CK_RV rv = initialize(fn_);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) throw Error("C_Initialize", rv, path_);
}

}  // namespace hsmca::token
