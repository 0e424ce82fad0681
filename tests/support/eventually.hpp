#pragma once
// Waiting, in tests, for another thread to make something true.
#include <chrono>
#include <thread>

namespace hsmca::test {

// Asks `done` every 5 ms for up to `limit`; whether it became true.
template <typename F>
bool eventually(F done, std::chrono::milliseconds limit = std::chrono::seconds(2)) {
  for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

}  // namespace hsmca::test
