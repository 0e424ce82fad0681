#include "hsmca/token/secret.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace hsmca::token {
namespace {

// The whole fixed buffer is ours to inspect: Secret never reallocates it.
bool zero_from(const Secret& s, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i) {
    if (s.data()[i] != 0) return false;
  }
  return true;
}

TEST(SecretTest, StartsEmpty) {
  Secret s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.view(), "");
}

TEST(SecretTest, HoldsTheValueItWasGiven) {
  Secret s("1234-user");
  EXPECT_FALSE(s.empty());
  EXPECT_EQ(s.size(), 9u);
  EXPECT_EQ(s.view(), "1234-user");
}

TEST(SecretTest, AssignReplacesAndWipesTheLongerOldValue) {
  Secret s("a-much-longer-old-pin");
  const char* buffer = s.data();
  s.assign("new");
  EXPECT_EQ(s.view(), "new");
  EXPECT_EQ(s.data(), buffer) << "assign must reuse the locked buffer, not reallocate";
  EXPECT_TRUE(zero_from(s, 3, 21)) << "the tail of the old PIN is still in memory";
}

TEST(SecretTest, PushBackAndPopBackEditAPinAsItIsTyped) {
  Secret s;
  for (char c : std::string("12345")) s.push_back(c);
  s.pop_back();
  s.push_back('9');
  EXPECT_EQ(s.view(), "12349");
  s.pop_back();
  EXPECT_EQ(s.view(), "1234");
  EXPECT_TRUE(zero_from(s, 4, 5)) << "pop_back left the removed character behind";
}

TEST(SecretTest, PopBackOnEmptyDoesNothing) {
  Secret s;
  s.pop_back();
  EXPECT_TRUE(s.empty());
}

TEST(SecretTest, WipeEmptiesAndZeroesTheBuffer) {
  Secret s("5678-so");
  s.wipe();
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(zero_from(s, 0, Secret::kCapacity));
  s.assign("again");
  EXPECT_EQ(s.view(), "again");
}

TEST(SecretTest, MoveConstructionTransfersTheBufferAndEmptiesTheSource) {
  Secret a("1234-user");
  const char* buffer = a.data();
  Secret b(std::move(a));
  EXPECT_EQ(b.view(), "1234-user");
  EXPECT_EQ(b.data(), buffer) << "a move must not copy the PIN to a new buffer";
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  EXPECT_EQ(a.view(), "");
}

TEST(SecretTest, MoveAssignmentReplacesTheTargetAndEmptiesTheSource) {
  Secret a("first");
  Secret b("second");
  b = std::move(a);
  EXPECT_EQ(b.view(), "first");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SecretTest, MovedFromSecretCanBeFilledAgain) {
  Secret a("old");
  Secret b(std::move(a));
  a.assign("fresh");  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.view(), "fresh");
  Secret c(std::move(a));
  a.push_back('x');
  EXPECT_EQ(a.view(), "x");
  EXPECT_EQ(b.view(), "old");
  EXPECT_EQ(c.view(), "fresh");
}

TEST(SecretTest, AcceptsExactlyCapacityBytes) {
  std::string full(Secret::kCapacity, 'p');
  Secret s(full);
  EXPECT_EQ(s.size(), Secret::kCapacity);
  EXPECT_EQ(s.view(), full);
}

TEST(SecretTest, AssignBeyondCapacityThrowsAndKeepsTheOldValue) {
  Secret s("keep");
  EXPECT_THROW(s.assign(std::string(Secret::kCapacity + 1, 'p')), std::length_error);
  EXPECT_EQ(s.view(), "keep");
  EXPECT_THROW(Secret(std::string(Secret::kCapacity + 1, 'p')), std::length_error);
}

TEST(SecretTest, PushBackBeyondCapacityThrowsAndKeepsTheFullValue) {
  Secret s;
  for (std::size_t i = 0; i < Secret::kCapacity; ++i) s.push_back('p');
  EXPECT_THROW(s.push_back('q'), std::length_error);
  EXPECT_EQ(s.view(), std::string(Secret::kCapacity, 'p'));
}

// The kernel's flags for the mapping that holds `p` (/proc/self/smaps
// "VmFlags:"), e.g. "rd wr mr mw me lo ac dd"; empty when none holds it.
std::string mapping_flags(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long low = 0, high = 0;
    char dash = 0;
    // A mapping starts with "LOW-HIGH perms ..."; its fields are "Name: value".
    if (std::sscanf(line.c_str(), "%lx%c%lx", &low, &dash, &high) == 3 && dash == '-') {
      inside = low <= address && address < high;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line.substr(8) + " ";
    }
  }
  return "";
}

TEST(SecretTest, KeepsThePinInAPageLeftOutOfCoreDumps) {
  Secret s("1234-user");
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(s.data()) % page, 0u) << "madvise works on whole pages";
  const std::string flags = mapping_flags(s.data());
  ASSERT_FALSE(flags.empty()) << "no mapping holds the buffer";
  EXPECT_NE(flags.find(" dd "), std::string::npos) << "not MADV_DONTDUMP:" << flags;
  Secret moved(std::move(s));
  EXPECT_NE(mapping_flags(moved.data()).find(" dd "), std::string::npos);
  Secret refilled;
  refilled.push_back('x');
  EXPECT_NE(mapping_flags(refilled.data()).find(" dd "), std::string::npos);
}

}  // namespace
}  // namespace hsmca::token
