#pragma once
// The ACME validator's resolver: c-ares, asked directly (no search domains, no
// /etc/hosts), every lookup bounded by the validation's deadline.

#include <ares.h>

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace hsmca::appliance::acme::dns {

using Deadline = std::chrono::steady_clock::time_point;

enum class Outcome {
  found,   // at least one record of the type asked for
  absent,  // NXDOMAIN or NOERROR without such a record
  failed,  // SERVFAIL, REFUSED, timeout, no server reachable: nothing can be concluded
};

template <class T>
struct Answer {
  Outcome outcome = Outcome::failed;
  std::vector<T> records;
  std::string error;  // for `failed`: "SERVFAIL", "timeout", ...
};

struct CaaRecord {
  bool critical = false;
  std::string tag;  // as received; RFC 8659 §4.1 compares tags case-insensitively
  std::string value;
};

class Resolver {
 public:
  // `servers`: empty for /etc/resolv.conf, else "host:port,..." as
  // ares_set_servers_ports_csv takes it. Null with `error` set when the
  // channel cannot be made or the server list does not parse.
  static std::unique_ptr<Resolver> open(const std::string& servers, std::string& error);
  ~Resolver();
  Resolver(const Resolver&) = delete;  // the destructor destroys the channel; a copy would destroy it twice
  Resolver& operator=(const Resolver&) = delete;

  // AAAA and A, asked together; IPv6 addresses first.
  Answer<boost::asio::ip::address> addresses(const std::string& name, Deadline deadline);
  // One string per TXT record, its character-strings joined (RFC 7208 §3.3 style).
  Answer<std::string> txt(const std::string& name, Deadline deadline);
  Answer<CaaRecord> caa(const std::string& name, Deadline deadline);

 private:
  explicit Resolver(ares_channel channel) : channel_(channel) {}
  // Drives the channel until `pending` (counted down by the callbacks) is zero
  // or the deadline passes; then the queries are cancelled, their callbacks
  // run with ARES_ECANCELLED, and none is left to outlive its Reply.
  void wait(int& pending, Deadline deadline);

  ares_channel channel_;
};

}  // namespace hsmca::appliance::acme::dns
