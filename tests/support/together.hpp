#pragma once
// Races: `threads` threads that each call f(index), released at once (a
// latch), joined before it returns.
#include <latch>
#include <thread>
#include <vector>

namespace hsmca::test {

template <typename F>
void run_together(int threads, F f) {
  std::latch start(threads);
  std::vector<std::thread> running;
  running.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    running.emplace_back([&, i] {
      start.arrive_and_wait();
      f(i);
    });
  }
  for (auto& t : running) t.join();
}

}  // namespace hsmca::test
