#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "hsmca/signer/outcome.hpp"

namespace hsmca::appliance {

// No worker could take the job: the queue is full (503, retry shortly).
class Busy : public signer::Unavailable {
 public:
  Busy() : signer::Unavailable("the signing queue is full; retry shortly") {}
};

// Blocking work (the token, the ledger's commits) runs here, never on the I/O
// threads. The queue is bounded: when it is full the caller answers 503 with
// Retry-After instead of queueing without end.
class WorkPool {
 public:
  WorkPool(std::size_t threads, std::size_t queue_limit);
  ~WorkPool();  // stop(0)
  WorkPool(const WorkPool&) = delete;  // owns threads
  WorkPool& operator=(const WorkPool&) = delete;

  // false when the queue is full or the pool is stopping.
  bool try_submit(std::function<void()> job);
  // Refuses new work, lets queued and running jobs finish for up to `grace`,
  // then joins. Jobs still queued after the grace are dropped. Returns the
  // number dropped.
  std::size_t stop(std::chrono::milliseconds grace);

 private:
  void run();

  std::size_t limit_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> jobs_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  bool abandon_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace hsmca::appliance
