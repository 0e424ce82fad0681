#pragma once
// Every entry of a PKCS#11 2.40 CK_FUNCTION_LIST, with what the shim needs to
// know to fault it faithfully:
//   family   which configuration scope below "all" covers it
//   ends     whether a successful call ends an operation (or the session):
//            such a call is forwarded and a fault replaces its result, so the
//            module is left as PKCS#11 says a failed call leaves it (operation
//            over). Any other call is simply not forwarded when faulted.
//   out      for an ending call, the argument that is NULL in a length query
//            (which does not end the operation); -1 when there is none
//   session  whether the first argument is a session handle
#include <array>
#include <cstddef>
#include <string_view>

#include <p11-kit/pkcs11.h>

namespace hsmca::shim {

// "lifecycle" is outside "all": the module can always be loaded and unloaded.
enum class Family { lifecycle, sign, session, login, find, other };

// X(name, family, ends, out, session)
#define HSMCA_SHIM_FUNCTIONS(X)                       \
  X(C_Initialize, lifecycle, false, -1, false)        \
  X(C_Finalize, lifecycle, false, -1, false)          \
  X(C_GetInfo, other, false, -1, false)               \
  X(C_GetFunctionList, lifecycle, false, -1, false)   \
  X(C_GetSlotList, other, false, -1, false)           \
  X(C_GetSlotInfo, other, false, -1, false)           \
  X(C_GetTokenInfo, other, false, -1, false)          \
  X(C_GetMechanismList, other, false, -1, false)      \
  X(C_GetMechanismInfo, other, false, -1, false)      \
  X(C_InitToken, other, false, -1, false)             \
  X(C_InitPIN, other, false, -1, true)                \
  X(C_SetPIN, other, false, -1, true)                 \
  X(C_OpenSession, session, false, -1, false)         \
  X(C_CloseSession, session, true, -1, true)          \
  X(C_CloseAllSessions, session, false, -1, false)    \
  X(C_GetSessionInfo, other, false, -1, true)         \
  X(C_GetOperationState, other, false, -1, true)      \
  X(C_SetOperationState, other, false, -1, true)      \
  X(C_Login, login, false, -1, true)                  \
  X(C_Logout, login, false, -1, true)                 \
  X(C_CreateObject, other, false, -1, true)           \
  X(C_CopyObject, other, false, -1, true)             \
  X(C_DestroyObject, other, false, -1, true)          \
  X(C_GetObjectSize, other, false, -1, true)          \
  X(C_GetAttributeValue, other, false, -1, true)      \
  X(C_SetAttributeValue, other, false, -1, true)      \
  X(C_FindObjectsInit, find, false, -1, true)         \
  X(C_FindObjects, find, false, -1, true)             \
  X(C_FindObjectsFinal, find, true, -1, true)         \
  X(C_EncryptInit, other, false, -1, true)            \
  X(C_Encrypt, other, true, 3, true)                  \
  X(C_EncryptUpdate, other, false, -1, true)          \
  X(C_EncryptFinal, other, true, 1, true)             \
  X(C_DecryptInit, other, false, -1, true)            \
  X(C_Decrypt, other, true, 3, true)                  \
  X(C_DecryptUpdate, other, false, -1, true)          \
  X(C_DecryptFinal, other, true, 1, true)             \
  X(C_DigestInit, other, false, -1, true)             \
  X(C_Digest, other, true, 3, true)                   \
  X(C_DigestUpdate, other, false, -1, true)           \
  X(C_DigestKey, other, false, -1, true)              \
  X(C_DigestFinal, other, true, 1, true)              \
  X(C_SignInit, sign, false, -1, true)                \
  X(C_Sign, sign, true, 3, true)                      \
  X(C_SignUpdate, sign, false, -1, true)              \
  X(C_SignFinal, sign, true, 1, true)                 \
  X(C_SignRecoverInit, sign, false, -1, true)         \
  X(C_SignRecover, sign, true, 3, true)               \
  X(C_VerifyInit, other, false, -1, true)             \
  X(C_Verify, other, true, -1, true)                  \
  X(C_VerifyUpdate, other, false, -1, true)           \
  X(C_VerifyFinal, other, true, -1, true)             \
  X(C_VerifyRecoverInit, other, false, -1, true)      \
  X(C_VerifyRecover, other, true, 3, true)            \
  X(C_DigestEncryptUpdate, other, false, -1, true)    \
  X(C_DecryptDigestUpdate, other, false, -1, true)    \
  X(C_SignEncryptUpdate, other, false, -1, true)      \
  X(C_DecryptVerifyUpdate, other, false, -1, true)    \
  X(C_GenerateKey, other, false, -1, true)            \
  X(C_GenerateKeyPair, other, false, -1, true)        \
  X(C_WrapKey, other, false, -1, true)                \
  X(C_UnwrapKey, other, false, -1, true)              \
  X(C_DeriveKey, other, false, -1, true)              \
  X(C_SeedRandom, other, false, -1, true)             \
  X(C_GenerateRandom, other, false, -1, true)         \
  X(C_GetFunctionStatus, other, false, -1, true)      \
  X(C_CancelFunction, other, false, -1, true)         \
  X(C_WaitForSlotEvent, other, false, -1, false)

enum class Fn : std::size_t {
#define HSMCA_SHIM_ENUM(name, family, ends, out, session) name,
  HSMCA_SHIM_FUNCTIONS(HSMCA_SHIM_ENUM)
#undef HSMCA_SHIM_ENUM
};

struct FunctionInfo {
  std::string_view name;
  Family family;
  bool ends;
  int out;
  bool session;
};

inline constexpr std::array kFunctions{
#define HSMCA_SHIM_INFO(name, family, ends, out, session) FunctionInfo{#name, Family::family, ends, out, session},
    HSMCA_SHIM_FUNCTIONS(HSMCA_SHIM_INFO)
#undef HSMCA_SHIM_INFO
};

inline constexpr std::size_t kFunctionCount = kFunctions.size();

constexpr const FunctionInfo& info(Fn fn) { return kFunctions[static_cast<std::size_t>(fn)]; }

}  // namespace hsmca::shim
