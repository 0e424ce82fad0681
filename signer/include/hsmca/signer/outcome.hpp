#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace hsmca::signer {

// A request refused for a reason its sender can fix: an expected business
// outcome, so a value rather than an exception. `code` is stable and machine
// readable ("bad_signature", "key_policy", "name_policy", ...); `message` is one
// line for a human, naming the problem.
struct Rejection {
  std::string code;
  std::string message;
};

// An operation failed for a reason that may pass (the token or the ledger is
// away): the front ends answer "try again later" (HTTP 503, Retry-After).
class Unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The token did not sign or answer. Signer turns the token layer's errors
// into this, so front ends never include token headers.
class TokenUnavailable : public Unavailable {
 public:
  explicit TokenUnavailable(const std::string& what, std::int64_t retry_after = 1)
      : Unavailable(what), retry_after_(retry_after) {}
  // Whole seconds until the token is worth asking again (Retry-After).
  std::int64_t retry_after() const noexcept { return retry_after_; }

 private:
  std::int64_t retry_after_;
};

// Either a value or the Rejection that stands in its place.
template <typename T>
class Outcome {
 public:
  Outcome(T value) : v_(std::move(value)) {}                // NOLINT: implicit by design
  Outcome(Rejection rejection) : v_(std::move(rejection)) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return std::holds_alternative<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const Rejection& rejection() const { return std::get<Rejection>(v_); }

 private:
  std::variant<T, Rejection> v_;
};

}  // namespace hsmca::signer
