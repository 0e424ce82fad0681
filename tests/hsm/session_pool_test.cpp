#include "hsmca/token/session_pool.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <latch>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hsmca/token/error.hpp"
#include "hsmca/token/key.hpp"
#include "softhsm_env.hpp"
#include "token_fixture.hpp"

namespace hsmca::token {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// A token with one P-256 key, and its public key for verifying.
struct SigningToken {
  test::TestToken token;
  Bytes spki;
};

SigningToken signing_token(const std::string& key_label = "issuing", KeyType type = KeyType::ec_p256) {
  SigningToken st{test::make_token("pool"), {}};
  auto s = test::user_session(st.token);
  st.spki = describe_key(s, generate_key_pair(s, key_label, type)).spki_der;
  return st;
}

std::unique_ptr<SessionPool> open_pool(const SigningToken& st, std::size_t sessions = 4, PoolOptions options = {}) {
  options.sessions = sessions;
  return SessionPool::open(st.token.module, st.token.selector(), test::user_pin(), std::move(options));
}

TEST(SessionPoolTest, OpensEverySessionLoggedIn) {
  auto st = signing_token();
  auto pool = open_pool(st, 4);
  PoolStats stats = pool->stats();
  EXPECT_EQ(stats.total, 4u);
  EXPECT_EQ(stats.busy, 0u);
  EXPECT_EQ(stats.healthy, 4u);
  EXPECT_EQ(stats.recoveries, 0u);
  EXPECT_EQ(pool->token().label, "pool");
  EXPECT_EQ(pool->token().serial, st.token.info.serial);
  pool->with_session([](Session& s) {
    CK_SESSION_INFO info{};
    check(s.fn()->C_GetSessionInfo(s.handle(), &info), "C_GetSessionInfo");
    EXPECT_EQ(info.state, CKS_RO_USER_FUNCTIONS);
  });
}

TEST(SessionPoolTest, SignsWithAKeyFoundByLabel) {
  auto st = signing_token();
  auto pool = open_pool(st, 1);
  const std::string message = "to be signed";
  Bytes sig = pool->sign("issuing", SignatureScheme::ecdsa_sha256, test::bytes_of(message));
  EXPECT_TRUE(test::openssl_verifies(st.spki, SignatureScheme::ecdsa_sha256, test::bytes_of(message), sig));
}

TEST(SessionPoolTest, ManyThreadsSignAtOnceAndEverySignatureVerifies) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  auto st = signing_token();
  auto pool = open_pool(st, 4);

  std::vector<std::vector<Bytes>> sigs(kThreads, std::vector<Bytes>(kPerThread));
  std::atomic<int> failures{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        std::string message = "cert " + std::to_string(t) + "/" + std::to_string(i);
        try {
          sigs[t][i] = pool->sign("issuing", SignatureScheme::ecdsa_sha256, test::bytes_of(message));
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  EXPECT_EQ(failures.load(), 0);
  int verified = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      std::string message = "cert " + std::to_string(t) + "/" + std::to_string(i);
      if (test::openssl_verifies(st.spki, SignatureScheme::ecdsa_sha256, test::bytes_of(message), sigs[t][i])) {
        ++verified;
      }
    }
  }
  EXPECT_EQ(verified, kThreads * kPerThread);
  PoolStats after = pool->stats();
  EXPECT_EQ(after.busy, 0u);
  EXPECT_EQ(after.total, 4u);
  EXPECT_EQ(after.healthy, 4u);
  EXPECT_EQ(after.recoveries, 0u);
}

TEST(SessionPoolTest, LendsEachSessionToOneThreadAtATimeAndQueuesTheNext) {
  auto st = signing_token();
  auto pool = open_pool(st, 4);
  std::barrier all_held(5);  // four holders and the test thread
  std::latch release(1);
  std::vector<CK_SESSION_HANDLE> handles(4);
  std::vector<std::thread> holders;
  for (int i = 0; i < 4; ++i) {
    holders.emplace_back([&, i] {
      pool->with_session([&](Session& s) {
        handles[i] = s.handle();
        all_held.arrive_and_wait();
        release.wait();
      });
    });
  }
  all_held.arrive_and_wait();
  EXPECT_EQ(pool->stats().busy, 4u);
  EXPECT_EQ(std::set<CK_SESSION_HANDLE>(handles.begin(), handles.end()).size(), 4u)
      << "two threads were given the same session";

  std::atomic<bool> fifth_ran{false};
  std::thread fifth([&] { pool->with_session([&](Session&) { fifth_ran = true; }); });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(fifth_ran.load()) << "a fifth caller got a session while all four were lent out";
  release.count_down();
  for (auto& h : holders) h.join();
  fifth.join();
  EXPECT_TRUE(fifth_ran.load());
  EXPECT_EQ(pool->stats().busy, 0u);
}

TEST(SessionPoolTest, WithSessionReturnsTheResultAndReleasesTheSessionOnException) {
  auto st = signing_token();
  auto pool = open_pool(st, 1);
  EXPECT_TRUE(pool->with_session([](Session& s) { return key_label_exists(s, "issuing"); }));
  EXPECT_THROW(pool->with_session([](Session&) -> int { throw std::runtime_error("caller's own failure"); }),
               std::runtime_error);
  EXPECT_EQ(pool->stats().busy, 0u);
  // The single session is free again: this would block forever otherwise.
  EXPECT_FALSE(pool->with_session([](Session& s) { return key_label_exists(s, "absent"); }));
}

TEST(SessionPoolTest, WrongPinFailsWithPinIncorrect) {
  auto st = signing_token();
  try {
    SessionPool::open(st.token.module, st.token.selector(), Secret("not-the-pin"), {});
    FAIL() << "a pool opened with the wrong PIN";
  } catch (const Error& e) {
    EXPECT_EQ(e.rv(), CKR_PIN_INCORRECT);
    EXPECT_THAT(e.what(), HasSubstr("C_Login: CKR_PIN_INCORRECT"));
  }
}

TEST(SessionPoolTest, UnknownTokenLabelIsALookupErrorNamingTheLabel) {
  auto st = signing_token();
  try {
    SessionPool::open(st.token.module, {"No Such Root", ""}, test::user_pin(), {});
    FAIL() << "a pool opened on a token that does not exist";
  } catch (const LookupError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'No Such Root'"));
  }
}

TEST(SessionPoolTest, MissingModulePathIsALookupErrorNamingThePath) {
  const std::string path = "/nonexistent/hsmca/libno-such-pkcs11.so";
  try {
    Module::load(path);
    FAIL() << "a module that does not exist loaded";
  } catch (const LookupError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
  }
}

TEST(SessionPoolTest, UnknownKeyLabelIsALookupErrorAndTheSessionStaysUsable) {
  auto st = signing_token();
  auto pool = open_pool(st, 1);
  const std::string message = "m";
  try {
    pool->sign("no such key", SignatureScheme::ecdsa_sha256, test::bytes_of(message));
    FAIL() << "signed with a key that does not exist";
  } catch (const LookupError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'no such key'"));
  }
  EXPECT_EQ(pool->stats().busy, 0u);
  Bytes sig = pool->sign("issuing", SignatureScheme::ecdsa_sha256, test::bytes_of(message));
  EXPECT_TRUE(test::openssl_verifies(st.spki, SignatureScheme::ecdsa_sha256, test::bytes_of(message), sig));
  EXPECT_EQ(pool->stats().recoveries, 0u);
}

TEST(SessionPoolTest, PassesATokenRefusalToTheCallerWithoutRecovering) {
  auto st = signing_token();
  std::vector<CK_RV> faults;
  PoolOptions options;
  options.on_fault = [&](const Error& e) { faults.push_back(e.rv()); };
  auto pool = open_pool(st, 1, options);
  const std::string message = "m";
  // An RSA mechanism on an EC key: the token says no, and a new session would say the same.
  try {
    pool->sign("issuing", SignatureScheme::rsa_pkcs1_sha256, test::bytes_of(message));
    FAIL() << "an EC key signed with RSA";
  } catch (const Error& e) {
    EXPECT_FALSE(is_session_fault(e.rv())) << e.what();
    EXPECT_EQ(faults, std::vector<CK_RV>{e.rv()});
  }
  PoolStats stats = pool->stats();
  EXPECT_EQ(stats.recoveries, 0u);
  EXPECT_EQ(stats.healthy, 1u);
  EXPECT_EQ(stats.busy, 0u);
}

TEST(SessionPoolTest, ReadOnlyPoolCannotCreateKeys) {
  auto st = signing_token();
  auto pool = open_pool(st, 1);
  try {
    pool->with_session([](Session& s) { return generate_key_pair(s, "sneaky", KeyType::ec_p256); });
    FAIL() << "a read-only session generated a token key";
  } catch (const Error& e) {
    EXPECT_EQ(e.rv(), CKR_SESSION_READ_ONLY) << e.what();
  }
  PoolOptions rw;
  rw.read_write = true;
  auto rw_pool = open_pool(st, 1, rw);
  EXPECT_NO_THROW(rw_pool->with_session([](Session& s) { return generate_key_pair(s, "made", KeyType::ec_p256); }));
}

TEST(SessionPoolTest, RefusesAPoolOfNoSessions) {
  auto st = signing_token();
  EXPECT_THROW(open_pool(st, 0), std::invalid_argument);
}

}  // namespace
}  // namespace hsmca::token
