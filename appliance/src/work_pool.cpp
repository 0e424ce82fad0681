#include "hsmca/appliance/work_pool.hpp"

namespace hsmca::appliance {

WorkPool::WorkPool(std::size_t threads, std::size_t queue_limit) : limit_(queue_limit) {
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

WorkPool::~WorkPool() { stop(std::chrono::milliseconds(0)); }

bool WorkPool::try_submit(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || jobs_.size() >= limit_) return false;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void WorkPool::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return !jobs_.empty() || stopping_; });
      if (jobs_.empty() || abandon_) {
        if (stopping_) return;
        continue;
      }
      job = std::move(jobs_.front());
      jobs_.pop_front();
      ++running_;
    }
    job();  // jobs catch their own exceptions: they answer a request
    {
      std::lock_guard lock(mutex_);
      --running_;
    }
    idle_.notify_all();
  }
}

std::size_t WorkPool::stop(std::chrono::milliseconds grace) {
  std::size_t dropped = 0;
  {
    std::unique_lock lock(mutex_);
    if (threads_.empty()) return 0;
    stopping_ = true;
    wake_.notify_all();
    idle_.wait_for(lock, grace, [&] { return jobs_.empty() && running_ == 0; });
    dropped = jobs_.size();
    jobs_.clear();
    abandon_ = true;
  }
  wake_.notify_all();
  // A job already running when the grace ran out is waited for: a signature
  // half made is never abandoned, or the ledger would keep a pending row.
  for (auto& t : threads_) t.join();
  threads_.clear();
  return dropped;
}

}  // namespace hsmca::appliance
