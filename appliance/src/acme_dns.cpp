#include "acme_dns.hpp"

#include <poll.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <mutex>

namespace hsmca::appliance::acme::dns {
namespace {

constexpr int kClassIn = 1;
constexpr int kTypeA = 1;
constexpr int kTypeTxt = 16;
constexpr int kTypeAaaa = 28;
constexpr int kTypeCaa = 257;
// More addresses than any validation tries; the rest of an RRset is ignored.
constexpr int kMaxAddresses = 16;

// One query's outcome, written by c-ares' callback.
struct Reply {
  int* pending = nullptr;
  int status = ARES_ECANCELLED;
  std::vector<unsigned char> message;
};

// Called by c-ares (from ares_process_fd, ares_cancel or ares_destroy); must not throw.
void on_reply(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) noexcept {
  auto* reply = static_cast<Reply*>(arg);
  reply->status = status;
  try {
    if (status == ARES_SUCCESS && abuf != nullptr && alen > 0) reply->message.assign(abuf, abuf + alen);
  } catch (...) {
    reply->status = ARES_ENOMEM;
  }
  --*reply->pending;
}

std::string describe(int status) {
  switch (status) {
    case ARES_ESERVFAIL: return "SERVFAIL";
    case ARES_EREFUSED: return "REFUSED";
    case ARES_EFORMERR: return "FORMERR";
    case ARES_ENOTIMP: return "NOTIMP";
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION: return "timeout";
    case ARES_ECONNREFUSED: return "connection refused";
    case ARES_EBADRESP: return "malformed response";
    case ARES_EBADNAME: return "not a valid name";
    default: return ares_strerror(status);
  }
}

// Classifies a finished query; `found` means there is a message to parse.
template <class T>
bool settle(const Reply& reply, Answer<T>& answer) {
  if (reply.status == ARES_SUCCESS) return true;
  if (reply.status == ARES_ENOTFOUND || reply.status == ARES_ENODATA) {
    answer.outcome = Outcome::absent;
  } else {
    answer.outcome = Outcome::failed;
    answer.error = describe(reply.status);
  }
  return false;
}

// After a parser: ARES_ENODATA is an answer without records of the type
// (a lone CNAME, say); anything else but success is a message we cannot read.
template <class T>
void conclude(int parse_status, Answer<T>& answer) {
  if (parse_status == ARES_SUCCESS && !answer.records.empty()) {
    answer.outcome = Outcome::found;
  } else if (parse_status == ARES_SUCCESS || parse_status == ARES_ENODATA) {
    answer.outcome = Outcome::absent;
  } else {
    answer.outcome = Outcome::failed;
    answer.error = describe(ARES_EBADRESP);
  }
}

void parse_a(const Reply& reply, Answer<boost::asio::ip::address>& answer) {
  std::array<ares_addrttl, kMaxAddresses> ttls{};
  int count = kMaxAddresses;
  const int rc = ares_parse_a_reply(reply.message.data(), static_cast<int>(reply.message.size()), nullptr,
                                    ttls.data(), &count);
  for (int i = 0; rc == ARES_SUCCESS && i < count; ++i) {
    boost::asio::ip::address_v4::bytes_type bytes;
    std::copy_n(reinterpret_cast<const unsigned char*>(&ttls[static_cast<std::size_t>(i)].ipaddr), 4, bytes.begin());
    answer.records.emplace_back(boost::asio::ip::address_v4(bytes));
  }
  conclude(rc, answer);
}

void parse_aaaa(const Reply& reply, Answer<boost::asio::ip::address>& answer) {
  std::array<ares_addr6ttl, kMaxAddresses> ttls{};
  int count = kMaxAddresses;
  const int rc = ares_parse_aaaa_reply(reply.message.data(), static_cast<int>(reply.message.size()), nullptr,
                                       ttls.data(), &count);
  for (int i = 0; rc == ARES_SUCCESS && i < count; ++i) {
    boost::asio::ip::address_v6::bytes_type bytes;
    std::copy_n(reinterpret_cast<const unsigned char*>(&ttls[static_cast<std::size_t>(i)].ip6addr), 16,
                bytes.begin());
    answer.records.emplace_back(boost::asio::ip::address_v6(bytes));
  }
  conclude(rc, answer);
}

}  // namespace

std::unique_ptr<Resolver> Resolver::open(const std::string& servers, std::string& error) {
  static std::once_flag init_once;
  static int init_status = ARES_SUCCESS;
  std::call_once(init_once, [] { init_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (init_status != ARES_SUCCESS) {
    error = std::string("c-ares initialisation failed: ") + ares_strerror(init_status);
    return nullptr;
  }
  ares_options options{};
  // Names are asked as given: no search list, no HOSTALIASES.
  options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
  // Per try; the validation's deadline bounds the total.
  options.timeout = 2000;
  options.tries = 3;
  ares_channel channel = nullptr;
  int rc = ares_init_options(&channel, &options, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
  if (rc != ARES_SUCCESS) {
    error = std::string("cannot set up the resolver: ") + ares_strerror(rc);
    return nullptr;
  }
  if (!servers.empty()) {
    rc = ares_set_servers_ports_csv(channel, servers.c_str());
    if (rc != ARES_SUCCESS) {
      ares_destroy(channel);
      error = "DNS server setting \"" + servers + "\" is not host:port: " + ares_strerror(rc);
      return nullptr;
    }
  }
  return std::unique_ptr<Resolver>(new Resolver(channel));
}

Resolver::~Resolver() { ares_destroy(channel_); }

void Resolver::wait(int& pending, Deadline deadline) {
  while (pending > 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      ares_cancel(channel_);  // runs every pending callback with ARES_ECANCELLED
      return;
    }
    std::array<ares_socket_t, ARES_GETSOCK_MAXNUM> sockets{};
    const int bits = ares_getsock(channel_, sockets.data(), ARES_GETSOCK_MAXNUM);
    std::array<pollfd, ARES_GETSOCK_MAXNUM> fds{};
    nfds_t count = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
      if (events != 0) fds[count++] = pollfd{sockets[static_cast<std::size_t>(i)], events, 0};
    }
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now).count();
    timeval max_wait{static_cast<time_t>(left / 1000000), static_cast<suseconds_t>(left % 1000000)};
    timeval buffer{};
    const timeval* wait_for = ares_timeout(channel_, &max_wait, &buffer);
    const int ms = static_cast<int>(wait_for->tv_sec * 1000 + (wait_for->tv_usec + 999) / 1000);
    const int ready = poll(fds.data(), count, ms);
    if (ready < 0 && errno != EINTR) {
      ares_cancel(channel_);
      return;
    }
    if (ready <= 0) {
      ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // retries and per-try timeouts
      continue;
    }
    for (nfds_t i = 0; i < count; ++i) {
      const short got = fds[i].revents;
      if (got == 0) continue;
      ares_process_fd(channel_, (got & (POLLIN | POLLERR | POLLHUP)) != 0 ? fds[i].fd : ARES_SOCKET_BAD,
                      (got & POLLOUT) != 0 ? fds[i].fd : ARES_SOCKET_BAD);
    }
  }
}

Answer<boost::asio::ip::address> Resolver::addresses(const std::string& name, Deadline deadline) {
  int pending = 2;
  Reply v6{&pending, ARES_ECANCELLED, {}};
  Reply v4{&pending, ARES_ECANCELLED, {}};
  ares_query(channel_, name.c_str(), kClassIn, kTypeAaaa, on_reply, &v6);
  ares_query(channel_, name.c_str(), kClassIn, kTypeA, on_reply, &v4);
  wait(pending, deadline);

  Answer<boost::asio::ip::address> aaaa, a;
  if (settle(v6, aaaa)) parse_aaaa(v6, aaaa);
  if (settle(v4, a)) parse_a(v4, a);
  Answer<boost::asio::ip::address> both;
  both.records = std::move(aaaa.records);
  both.records.insert(both.records.end(), a.records.begin(), a.records.end());
  if (!both.records.empty()) {
    both.outcome = Outcome::found;  // one family suffices, even if the other's lookup failed
  } else if (aaaa.outcome == Outcome::failed || a.outcome == Outcome::failed) {
    both.outcome = Outcome::failed;
    both.error = a.outcome == Outcome::failed ? a.error : aaaa.error;
  } else {
    both.outcome = Outcome::absent;
  }
  return both;
}

Answer<std::string> Resolver::txt(const std::string& name, Deadline deadline) {
  int pending = 1;
  Reply reply{&pending, ARES_ECANCELLED, {}};
  ares_query(channel_, name.c_str(), kClassIn, kTypeTxt, on_reply, &reply);
  wait(pending, deadline);
  Answer<std::string> answer;
  if (!settle(reply, answer)) return answer;
  ares_txt_ext* list = nullptr;
  const int rc = ares_parse_txt_reply_ext(reply.message.data(), static_cast<int>(reply.message.size()), &list);
  for (const ares_txt_ext* p = list; rc == ARES_SUCCESS && p != nullptr; p = p->next) {
    // A record of several character-strings arrives as chunks; only the first has record_start.
    if (p->record_start != 0 || answer.records.empty()) answer.records.emplace_back();
    answer.records.back().append(reinterpret_cast<const char*>(p->txt), p->length);
  }
  if (list != nullptr) ares_free_data(list);
  conclude(rc, answer);
  return answer;
}

Answer<CaaRecord> Resolver::caa(const std::string& name, Deadline deadline) {
  int pending = 1;
  Reply reply{&pending, ARES_ECANCELLED, {}};
  ares_query(channel_, name.c_str(), kClassIn, kTypeCaa, on_reply, &reply);
  wait(pending, deadline);
  Answer<CaaRecord> answer;
  if (!settle(reply, answer)) return answer;
  ares_caa_reply* list = nullptr;
  const int rc = ares_parse_caa_reply(reply.message.data(), static_cast<int>(reply.message.size()), &list);
  for (const ares_caa_reply* p = list; rc == ARES_SUCCESS && p != nullptr; p = p->next) {
    answer.records.push_back(CaaRecord{(p->critical & 0x80) != 0,
                                       std::string(reinterpret_cast<const char*>(p->property), p->plength),
                                       std::string(reinterpret_cast<const char*>(p->value), p->length)});
  }
  if (list != nullptr) ares_free_data(list);
  conclude(rc, answer);
  return answer;
}

}  // namespace hsmca::appliance::acme::dns
