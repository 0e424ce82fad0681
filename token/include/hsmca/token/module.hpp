#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hsmca/token/pkcs11.hpp"

namespace hsmca::token {

// A loaded and initialized PKCS#11 library. One instance per path per process:
// C_Initialize and C_Finalize are process-wide, so load() hands out the same
// shared instance to every caller of the same path.
class Module {
 public:
  // dlopen + C_GetFunctionList + C_Initialize(CKF_OS_LOCKING_OK).
  static std::shared_ptr<Module> load(const std::string& path);
  ~Module();  // C_Finalize + dlclose; never throws
  // Not copyable: the destructor finalizes the library; a copy would finalize it twice.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST* fn() const noexcept { return fn_; }
  const std::string& path() const noexcept { return path_; }

  // C_GetInfo
  CK_INFO info() const;
  // C_GetSlotList
  std::vector<CK_SLOT_ID> slots(bool token_present) const;
  // C_Initialize again after the library was finalized underneath us
  // (CKR_CRYPTOKI_NOT_INITIALIZED). Safe to call from several threads at once.
  void reinitialize();
  // C_Finalize then C_Initialize: the last resort after faults a new session
  // does not cure (SoftHSM reloads a token it lost only this way). Every
  // session of every user of this module is gone afterwards.
  void restart();

 private:
  Module(std::string path, void* handle, CK_FUNCTION_LIST* fn);

  std::string path_;
  void* handle_;
  CK_FUNCTION_LIST* fn_;
  std::mutex init_mutex_;
};

}  // namespace hsmca::token
