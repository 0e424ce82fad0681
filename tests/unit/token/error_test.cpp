#include "hsmca/token/error.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hsmca::token {
namespace {

TEST(RvNameTest, NamesKnownReturnValues) {
  EXPECT_EQ(rv_name(CKR_OK), "CKR_OK");
  EXPECT_EQ(rv_name(CKR_DEVICE_ERROR), "CKR_DEVICE_ERROR");
  EXPECT_EQ(rv_name(0x30), "CKR_DEVICE_ERROR");
  EXPECT_EQ(rv_name(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
  EXPECT_EQ(rv_name(CKR_SESSION_HANDLE_INVALID), "CKR_SESSION_HANDLE_INVALID");
  EXPECT_EQ(rv_name(CKR_ATTRIBUTE_SENSITIVE), "CKR_ATTRIBUTE_SENSITIVE");
  EXPECT_EQ(rv_name(CKR_KEY_UNEXTRACTABLE), "CKR_KEY_UNEXTRACTABLE");
  EXPECT_EQ(rv_name(CKR_CRYPTOKI_NOT_INITIALIZED), "CKR_CRYPTOKI_NOT_INITIALIZED");
  EXPECT_EQ(rv_name(CKR_USER_ALREADY_LOGGED_IN), "CKR_USER_ALREADY_LOGGED_IN");
  EXPECT_EQ(rv_name(CKR_FUNCTION_REJECTED), "CKR_FUNCTION_REJECTED");
}

TEST(RvNameTest, NamesVendorCodesRelativeToVendorDefined) {
  EXPECT_EQ(rv_name(CKR_VENDOR_DEFINED), "CKR_VENDOR_DEFINED+0x0");
  EXPECT_EQ(rv_name(CKR_VENDOR_DEFINED + 0x42), "CKR_VENDOR_DEFINED+0x42");
  EXPECT_EQ(rv_name(CKR_VENDOR_DEFINED | 0x1abcUL), "CKR_VENDOR_DEFINED+0x1abc");
}

TEST(RvNameTest, ShowsUnknownCodesInHex) {
  EXPECT_EQ(rv_name(0x1234), "CKR_0x00001234");
  EXPECT_EQ(rv_name(0x00000002UL + 0x7000), "CKR_0x00007002");
}

TEST(ErrorTest, WhatNamesTheFunctionAndTheReturnValue) {
  Error e("C_Sign", CKR_DEVICE_ERROR);
  EXPECT_STREQ(e.what(), "C_Sign: CKR_DEVICE_ERROR");
  EXPECT_EQ(e.function(), "C_Sign");
  EXPECT_EQ(e.rv(), CKR_DEVICE_ERROR);
}

TEST(ErrorTest, WhatAppendsTheCallersContext) {
  Error e("C_Login", CKR_PIN_INCORRECT, "token 'Example Root'");
  EXPECT_STREQ(e.what(), "C_Login: CKR_PIN_INCORRECT: token 'Example Root'");
  EXPECT_EQ(e.rv(), CKR_PIN_INCORRECT);
}

TEST(ErrorTest, WhatNamesVendorCodes) {
  Error e("C_Sign", CKR_VENDOR_DEFINED + 7);
  EXPECT_STREQ(e.what(), "C_Sign: CKR_VENDOR_DEFINED+0x7");
}

TEST(ErrorTest, CheckThrowsOnlyOnFailure) {
  EXPECT_NO_THROW(check(CKR_OK, "C_Sign"));
  try {
    check(CKR_SESSION_CLOSED, "C_SignInit", "key 'root'");
    FAIL() << "check did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.rv(), CKR_SESSION_CLOSED);
    EXPECT_STREQ(e.what(), "C_SignInit: CKR_SESSION_CLOSED: key 'root'");
  }
}

TEST(IsSessionFaultTest, CountsLostSessionsLoginsLibrariesTokensAndHandlesAsFaults) {
  for (CK_RV rv : {CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_DEVICE_ERROR, CKR_DEVICE_REMOVED,
                   CKR_TOKEN_NOT_PRESENT, CKR_TOKEN_NOT_RECOGNIZED, CKR_CRYPTOKI_NOT_INITIALIZED,
                   CKR_USER_NOT_LOGGED_IN, CKR_KEY_HANDLE_INVALID, CKR_OBJECT_HANDLE_INVALID}) {
    EXPECT_TRUE(is_session_fault(rv)) << rv_name(rv);
  }
}

TEST(IsSessionFaultTest, LeavesCallerMistakesAndRefusalsToTheCaller) {
  // Retrying these on a fresh session would give the same answer, or, for a
  // wrong PIN, count one more failed login against a real HSM's lockout.
  for (CK_RV rv : {CKR_OK, CKR_PIN_INCORRECT, CKR_PIN_LOCKED, CKR_ARGUMENTS_BAD, CKR_MECHANISM_INVALID,
                   CKR_DATA_LEN_RANGE, CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_FUNCTION_NOT_PERMITTED,
                   CKR_ATTRIBUTE_SENSITIVE, CKR_OPERATION_ACTIVE, CKR_GENERAL_ERROR, CKR_HOST_MEMORY,
                   CKR_VENDOR_DEFINED + 1}) {
    EXPECT_FALSE(is_session_fault(rv)) << rv_name(rv);
  }
}

}  // namespace
}  // namespace hsmca::token
