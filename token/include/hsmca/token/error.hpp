#pragma once
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "hsmca/token/pkcs11.hpp"

namespace hsmca::token {

// "CKR_DEVICE_ERROR" for 0x30; "CKR_VENDOR_DEFINED+0x..." or "CKR_0x..." when unknown.
std::string rv_name(CK_RV rv);

// A PKCS#11 call failed. what() reads "C_Sign: CKR_DEVICE_ERROR", followed by
// ": context" when the caller knows more (which token, which key).
class Error : public std::runtime_error {
 public:
  Error(std::string function, CK_RV rv, std::string_view context = {});
  const std::string& function() const noexcept { return function_; }
  CK_RV rv() const noexcept { return rv_; }

 protected:
  struct Text {
    std::string what;
  };
  Error(std::string function, CK_RV rv, Text text);

 private:
  std::string function_;
  CK_RV rv_;
};

// The token did not answer within the pool's call timeout, or no session was
// free in that time. The call may still be running inside the token; its
// result, when it comes, is thrown away. what(): "C_Sign: no answer from the
// token within 5000 ms". rv() is CKR_FUNCTION_FAILED.
class Timeout : public Error {
 public:
  Timeout(std::string function, std::chrono::milliseconds bound, std::string_view context = {},
          bool inside_token = false);
  // The token was being asked when the bound passed (rather than the caller
  // waiting for a free session or a repair): what counts as the token's fault.
  bool inside_token() const noexcept { return inside_token_; }

 private:
  bool inside_token_;
};

// The pool's circuit breaker is open: the token was not called at all.
// what() names the fault that opened it; retry_after() is when the next
// probe may find it back, in whole seconds.
class Outage : public Error {
 public:
  Outage(CK_RV cause_rv, const std::string& cause, std::int64_t retry_after);
  std::int64_t retry_after() const noexcept { return retry_after_; }

 private:
  std::int64_t retry_after_;
};

// A look-up found nothing, or more than one: no token with that label, no key
// with that label, two keys with one label, no PKCS#11 module at that path.
class LookupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The name asked for is taken: a token or key label that already exists.
// Nothing was created.
class AlreadyExists : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Faults after which the session (or the whole library state) is gone and must
// be rebuilt: reopen, log in again, find the key again.
bool is_session_fault(CK_RV rv) noexcept;

// Throws Error(function, rv) unless rv is CKR_OK.
inline void check(CK_RV rv, const char* function, std::string_view context = {}) {
  if (rv != CKR_OK) throw Error(function, rv, context);
}

}  // namespace hsmca::token
