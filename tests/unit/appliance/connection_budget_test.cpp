#include "hsmca/appliance/connection_budget.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace hsmca::appliance {
namespace {

using Slots = std::vector<std::unique_ptr<ConnectionBudget::Slot>>;

Slots admitted(ConnectionBudget& budget, std::initializer_list<const char*> addresses) {
  Slots out;
  for (const char* a : addresses) out.push_back(budget.admit(a));
  return out;
}

TEST(ConnectionBudgetTest, AdmitsUpToTheCapAndGivesPlacesBack) {
  ConnectionBudget budget(3, 10);
  Slots slots;
  for (int i = 0; i < 3; ++i) slots.push_back(budget.admit("10.0.0." + std::to_string(i)));
  for (const auto& s : slots) ASSERT_NE(s, nullptr);
  EXPECT_EQ(budget.admit("10.0.0.9"), nullptr) << "full, and nobody idle";
  slots.pop_back();
  EXPECT_EQ(budget.size(), 2u);
  EXPECT_NE(budget.admit("10.0.0.9"), nullptr);
}

TEST(ConnectionBudgetTest, OneAddressGetsItsShareAndNoMore) {
  ConnectionBudget budget(100, 2);
  Slots mine = admitted(budget, {"192.0.2.1", "192.0.2.1"});
  EXPECT_EQ(budget.admit("192.0.2.1"), nullptr);
  EXPECT_NE(budget.admit("192.0.2.2"), nullptr) << "another address is not held back";
  mine.pop_back();
  EXPECT_NE(budget.admit("192.0.2.1"), nullptr);
}

TEST(ConnectionBudgetTest, AFullListenerClosesTheConnectionIdleLongestFirst) {
  ConnectionBudget budget(3, 10);
  Slots slots = admitted(budget, {"a", "b", "c"});
  std::vector<std::string> closed;
  slots[1]->idle([&] { closed.push_back("b"); });
  slots[0]->idle([&] { closed.push_back("a"); });
  slots[2]->idle([&] { closed.push_back("c"); });
  slots[2]->busy();  // a request arrived on c
  auto d = budget.admit("d");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(closed, std::vector<std::string>{"b"});
  EXPECT_EQ(budget.size(), 3u) << "b's place went to d";
  EXPECT_EQ(budget.from("b"), 0u);
  auto e = budget.admit("e");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(closed, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(budget.admit("f"), nullptr) << "c is busy, d and e never went idle";
  // The closed connections go away later; their places are not given back twice.
  slots[1].reset();
  slots[0].reset();
  EXPECT_EQ(budget.size(), 3u);
  EXPECT_EQ(budget.admit("f"), nullptr);
}

TEST(ConnectionBudgetTest, ARefusedAddressLeavesNothingBehind) {
  ConnectionBudget budget(1, 1);
  auto held = budget.admit("a");
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(budget.admit("2001:db8::" + std::to_string(i)), nullptr);
  EXPECT_EQ(budget.from("2001:db8::1"), 0u);
  EXPECT_EQ(budget.size(), 1u);
}

}  // namespace
}  // namespace hsmca::appliance
