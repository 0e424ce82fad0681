#include "hsmca/token/slot.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "hsmca/token/error.hpp"
#include "hsmca/token/session.hpp"
#include "softhsm_env.hpp"
#include "token_fixture.hpp"

namespace hsmca::token {
namespace {

using ::testing::HasSubstr;
using test::SoftHsmEnv;

// The message of the `E` that `f` throws.
template <typename E = LookupError>
std::string lookup_failure(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "not the error expected";
  return {};
}

TEST(SlotTest, InitTokenReturnsTheLabelAndASerialOfAReadyToken) {
  auto module = SoftHsmEnv::get().module();
  TokenInfo info = SoftHsmEnv::get().init_token("Example Root");
  EXPECT_EQ(info.label, "Example Root");
  EXPECT_FALSE(info.serial.empty());
  EXPECT_TRUE(info.initialized);
  EXPECT_TRUE(info.user_pin_initialized);
  EXPECT_EQ(info.manufacturer, "SoftHSM project");
}

TEST(SlotTest, InitTokenSetsTheUserPinItWasGiven) {
  auto t = test::make_token("pins");
  auto session = Session::open(t.module, find_token(*t.module, t.selector()).slot, false);
  try {
    session.login(CKU_USER, test::so_pin());
    FAIL() << "the SO PIN logged in as the user";
  } catch (const Error& e) {
    EXPECT_EQ(e.rv(), CKR_PIN_INCORRECT);
  }
  EXPECT_NO_THROW(session.login(CKU_USER, test::user_pin()));
}

TEST(SlotTest, InitTokenKeepsAFullLengthLabelExactly) {
  const std::string label(32, 'L');
  auto t = test::make_token(label);
  EXPECT_EQ(t.info.label, label);
  EXPECT_EQ(find_token(*t.module, {label, ""}).serial, t.info.serial);
}

TEST(SlotTest, InitTokenRefusesALabelAnotherTokenAlreadyHas) {
  auto t = test::make_token("Example Root");
  auto why = lookup_failure<AlreadyExists>([&] { SoftHsmEnv::get().init_token("Example Root"); });
  EXPECT_THAT(why, HasSubstr("'Example Root'"));
  EXPECT_THAT(why, HasSubstr(t.info.serial));
  auto tokens = list_tokens(*t.module);
  EXPECT_EQ(std::count_if(tokens.begin(), tokens.end(), [](const TokenInfo& i) { return i.label == "Example Root"; }),
            1);
}

TEST(SlotTest, InitTokenRefusesEmptyAndOverlongLabels) {
  auto module = SoftHsmEnv::get().module();
  EXPECT_THROW(SoftHsmEnv::get().init_token(""), std::invalid_argument);
  EXPECT_THROW(SoftHsmEnv::get().init_token(std::string(33, 'L')), std::invalid_argument);
  for (const auto& t : list_tokens(*module)) EXPECT_FALSE(t.initialized) << t.label;
}

TEST(SlotTest, FindTokenFindsByLabelBySerialAndByBoth) {
  auto a = test::make_token("Root A");
  auto b = test::make_token("Root B");
  ASSERT_NE(a.info.serial, b.info.serial);

  EXPECT_EQ(find_token(*a.module, {"Root A", ""}).serial, a.info.serial);
  EXPECT_EQ(find_token(*a.module, {"Root B", ""}).serial, b.info.serial);
  EXPECT_EQ(find_token(*a.module, {"", b.info.serial}).label, "Root B");
  EXPECT_EQ(find_token(*a.module, {"Root A", a.info.serial}).label, "Root A");
}

TEST(SlotTest, FindTokenRefusesAnUnknownLabelNamingIt) {
  auto t = test::make_token("Root A");
  EXPECT_THAT(lookup_failure([&] { find_token(*t.module, {"Root Z", ""}); }), HasSubstr("'Root Z'"));
}

TEST(SlotTest, FindTokenRefusesAnUnknownSerialNamingIt) {
  auto t = test::make_token("Root A");
  EXPECT_THAT(lookup_failure([&] { find_token(*t.module, {"", "0000000000000000"}); }),
              HasSubstr("0000000000000000"));
}

TEST(SlotTest, FindTokenRefusesALabelWhoseSerialDoesNotMatch) {
  auto a = test::make_token("Root A");
  auto b = test::make_token("Root B");
  EXPECT_THROW(find_token(*a.module, {"Root A", b.info.serial}), LookupError);
}

TEST(SlotTest, FindTokenRefusesAnEmptySelector) {
  auto t = test::make_token("Root A");
  EXPECT_THROW(find_token(*t.module, {}), LookupError);
}

TEST(SlotTest, ListTokensIncludesTheFreeSlotBesideInitializedTokens) {
  auto t = test::make_token("Root A");
  auto tokens = list_tokens(*t.module);
  auto initialized = std::count_if(tokens.begin(), tokens.end(), [](const TokenInfo& i) { return i.initialized; });
  auto free_slots = std::count_if(tokens.begin(), tokens.end(), [](const TokenInfo& i) { return !i.initialized; });
  EXPECT_EQ(initialized, 1);
  EXPECT_GE(free_slots, 1);
  auto it = std::find_if(tokens.begin(), tokens.end(), [](const TokenInfo& i) { return i.initialized; });
  ASSERT_NE(it, tokens.end());
  EXPECT_EQ(it->label, "Root A");
  EXPECT_EQ(it->serial, t.info.serial);
}

TEST(SlotTest, ASecondTokenCanBeInitializedInTheNextFreeSlot) {
  auto a = test::make_token("Root A");
  auto b = test::make_token("Root B");
  auto tokens = list_tokens(*a.module);
  auto initialized = std::count_if(tokens.begin(), tokens.end(), [](const TokenInfo& i) { return i.initialized; });
  EXPECT_EQ(initialized, 2);
  EXPECT_NE(a.info.serial, b.info.serial);
}

}  // namespace
}  // namespace hsmca::token
