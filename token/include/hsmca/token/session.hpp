#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hsmca/token/module.hpp"
#include "hsmca/token/secret.hpp"

namespace hsmca::token {

using Bytes = std::vector<unsigned char>;

// One PKCS#11 session. One operation at a time: SoftHSM crashes when two
// threads drive the same session, so a Session is never shared between threads
// without a lease (see SessionPool).
class Session {
 public:
  // C_OpenSession
  static Session open(std::shared_ptr<Module> module, CK_SLOT_ID slot, bool read_write);
  ~Session();  // C_CloseSession; never throws
  Session(Session&& other) noexcept;
  Session& operator=(Session&& other) noexcept;
  // Not copyable: the destructor closes the session; a copy would close it twice.
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  CK_SESSION_HANDLE handle() const noexcept { return handle_; }
  CK_FUNCTION_LIST* fn() const noexcept { return module_->fn(); }

  // C_Login. Login state belongs to the application, so CKR_USER_ALREADY_LOGGED_IN
  // counts as success.
  void login(CK_USER_TYPE user, const Secret& pin);
  // C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal
  std::vector<CK_OBJECT_HANDLE> find(std::span<CK_ATTRIBUTE> tmpl, std::size_t max = 16);
  // C_GetAttributeValue for one attribute. Bytes are returned as stored.
  Bytes attribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  bool bool_attribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  CK_ULONG ulong_attribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  // C_DestroyObject
  void destroy(CK_OBJECT_HANDLE object);
  // Drops the handle without C_CloseSession: for a session the token already lost.
  void abandon() noexcept { handle_ = CK_INVALID_HANDLE; }

 private:
  Session(std::shared_ptr<Module> module, CK_SESSION_HANDLE handle);
  std::shared_ptr<Module> module_;
  CK_SESSION_HANDLE handle_;
};

}  // namespace hsmca::token
