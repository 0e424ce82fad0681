#include "hsmca/appliance/crl_publisher.hpp"

#include <fstream>
#include <iterator>
#include <span>
#include <stdexcept>

#include "hsmca/signer/revocation.hpp"
#include "hsmca/appliance/work_pool.hpp"
#include "log.hpp"

namespace hsmca::appliance {

CrlPublisher::CrlPublisher(ReadVersion read_version, Sign sign, RevocationWatcher& revocations, Submit submit,
                           const signer::Clock& clock)
    : read_version_(std::move(read_version)),
      sign_(std::move(sign)),
      revocations_(revocations),
      submit_(std::move(submit)),
      clock_(clock) {}

void CrlPublisher::get(Waiter waiter) {
  std::shared_ptr<const PublishedCrl> current;
  bool start = false;
  {
    std::lock_guard lock(mutex_);
    // A CRL past its nextUpdate, or one that may lack a revocation the
    // watcher has seen, is no answer: wait for the new one.
    if (crl_ && clock_.now() < crl_->next_update && at_least(crl_->version, revocations_.current())) current = crl_;
    const bool due = !current || clock_.steady() >= current->refresh_after;
    if (due && !refreshing_) {
      refreshing_ = true;
      start = true;
    }
    if (!current) waiters_.push_back(std::move(waiter));
  }
  if (start && !submit_([this] { refresh(); })) {
    {
      std::lock_guard lock(mutex_);
      refreshing_ = false;
    }
    if (!current) fail_waiters(std::make_exception_ptr(Busy()));
  }
  if (current) waiter(current, nullptr);
}

void CrlPublisher::fail_waiters(std::exception_ptr error) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(mutex_);
    if (refreshing_) return;  // a refresh started meanwhile answers them
    waiters.swap(waiters_);
  }
  for (const auto& w : waiters) w(nullptr, error);
}

void CrlPublisher::refresh() {
  for (;;) {
    std::shared_ptr<const PublishedCrl> fresh;
    std::exception_ptr failure;
    try {
      std::shared_ptr<const PublishedCrl> current;
      {
        std::lock_guard lock(mutex_);
        current = crl_;
      }
      // Read before the entries: a revocation landing in between makes the
      // next look re-sign once more, never miss it.
      const auto version = read_version_();
      revocations_.advance(version);
      if (current && current->version == version && clock_.steady() < current->refresh_after &&
          clock_.now() < current->next_update) {
        fresh = current;
      } else {
        fresh = std::make_shared<const PublishedCrl>(sign_(version));
      }
    } catch (...) {
      failure = std::current_exception();
    }
    std::vector<Waiter> waiters;
    {
      std::lock_guard lock(mutex_);
      if (fresh) crl_ = fresh;
      // Waiters join under this lock: one that came after the watcher saw a
      // revocation this CRL lacks waits for the next one, signed here.
      if (fresh && !at_least(fresh->version, revocations_.current())) continue;
      // A failed refresh is retried by the next request; a CRL that lists
      // every revocation and is still valid keeps being served meanwhile.
      refreshing_ = false;
      waiters.swap(waiters_);
    }
    for (const auto& w : waiters) w(fresh, fresh ? nullptr : failure);
    return;
  }
}

RootCrlFile::RootCrlFile(std::filesystem::path file, std::vector<X509*> chain, const signer::Clock& clock)
    : file_(std::move(file)), chain_(std::move(chain)), clock_(clock) {}

std::shared_ptr<const PublishedCrl> RootCrlFile::current() {
  std::lock_guard lock(mutex_);
  const auto now = clock_.steady();
  if (!looked_ || now - checked_ >= std::chrono::seconds(1)) {
    looked_ = true;
    checked_ = now;
    reload();
  }
  return crl_;
}

void RootCrlFile::reload() {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(file_, ec);
  const auto size = ec ? 0 : std::filesystem::file_size(file_, ec);
  if (ec || (mtime == mtime_ && size == size_)) return;  // read already, served or refused
  mtime_ = mtime;
  size_ = size;
  // The ceremony wrote it; whoever copied it here may have copied the wrong
  // file: it is served only once a certificate of the chain is its issuer.
  std::string problem = "no certificate of the chain issued it";
  std::ifstream in(file_, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::span<const unsigned char> data(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  for (X509* cert : chain_) {
    try {
      const auto crl = signer::read_crl(data, cert);
      auto made = std::make_shared<PublishedCrl>();
      made->der.assign(crl.der.begin(), crl.der.end());
      made->number = crl.number;
      made->this_update = std::chrono::system_clock::time_point{std::chrono::seconds{crl.this_update}};
      made->next_update = std::chrono::system_clock::time_point{std::chrono::seconds{crl.next_update}};
      crl_ = std::move(made);
      problem.clear();
      break;
    } catch (const std::invalid_argument& e) {
      problem = e.what();
    }
  }
  nlohmann::json line = {{"event", problem.empty() ? "root_crl_loaded" : "root_crl_refused"}, {"file", file_.string()}};
  if (problem.empty()) {
    line["crl_number"] = crl_->number;
  } else {
    line["problem"] = problem;  // the last one served stays
  }
  log_line(line);
}

}  // namespace hsmca::appliance
