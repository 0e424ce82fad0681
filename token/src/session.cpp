#include "hsmca/token/session.hpp"

#include <utility>

#include "hsmca/token/error.hpp"

namespace hsmca::token {

Session::Session(std::shared_ptr<Module> module, CK_SESSION_HANDLE handle)
    : module_(std::move(module)), handle_(handle) {}

Session Session::open(std::shared_ptr<Module> module, CK_SLOT_ID slot, bool read_write) {
  CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  check(module->fn()->C_OpenSession(slot, flags, nullptr, nullptr, &handle), "C_OpenSession");
  return Session(std::move(module), handle);
}

Session::~Session() {
  if (handle_ != CK_INVALID_HANDLE) module_->fn()->C_CloseSession(handle_);
}

Session::Session(Session&& other) noexcept
    : module_(std::move(other.module_)), handle_(std::exchange(other.handle_, CK_INVALID_HANDLE)) {}

Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    if (handle_ != CK_INVALID_HANDLE) module_->fn()->C_CloseSession(handle_);
    module_ = std::move(other.module_);
    handle_ = std::exchange(other.handle_, CK_INVALID_HANDLE);
  }
  return *this;
}

void Session::login(CK_USER_TYPE user, const Secret& pin) {
  CK_RV rv = fn()->C_Login(handle_, user, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data())),
                           pin.size());
  if (rv == CKR_USER_ALREADY_LOGGED_IN) return;
  if (rv == CKR_PIN_INCORRECT) throw Error("C_Login", rv, "wrong PIN");
  if (rv == CKR_PIN_LOCKED) throw Error("C_Login", rv, "the PIN is locked; the security officer must reset it");
  check(rv, "C_Login");
}

std::vector<CK_OBJECT_HANDLE> Session::find(std::span<CK_ATTRIBUTE> tmpl, std::size_t max) {
  check(fn()->C_FindObjectsInit(handle_, tmpl.data(), tmpl.size()), "C_FindObjectsInit");
  std::vector<CK_OBJECT_HANDLE> found(max);
  CK_ULONG count = 0;
  CK_RV rv = fn()->C_FindObjects(handle_, found.data(), max, &count);
  // Always end the search, or the session refuses every later operation.
  CK_RV final_rv = fn()->C_FindObjectsFinal(handle_);
  check(rv, "C_FindObjects");
  check(final_rv, "C_FindObjectsFinal");
  found.resize(count);
  return found;
}

Bytes Session::attribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE attr{type, nullptr, 0};
  check(fn()->C_GetAttributeValue(handle_, object, &attr, 1), "C_GetAttributeValue");
  if (attr.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    throw Error("C_GetAttributeValue", CKR_ATTRIBUTE_TYPE_INVALID);
  }
  Bytes value(attr.ulValueLen);
  attr.pValue = value.data();
  check(fn()->C_GetAttributeValue(handle_, object, &attr, 1), "C_GetAttributeValue");
  value.resize(attr.ulValueLen);
  return value;
}

bool Session::bool_attribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  CK_BBOOL value = CK_FALSE;
  CK_ATTRIBUTE attr{type, &value, sizeof value};
  check(fn()->C_GetAttributeValue(handle_, object, &attr, 1), "C_GetAttributeValue");
  return value == CK_TRUE;
}

CK_ULONG Session::ulong_attribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  CK_ULONG value = 0;
  CK_ATTRIBUTE attr{type, &value, sizeof value};
  check(fn()->C_GetAttributeValue(handle_, object, &attr, 1), "C_GetAttributeValue");
  return value;
}

void Session::destroy(CK_OBJECT_HANDLE object) { check(fn()->C_DestroyObject(handle_, object), "C_DestroyObject"); }

}  // namespace hsmca::token
