#pragma once
// http-01's far side for hsmca-bench-acme: one plain HTTP server for every
// worker, answering GET /.well-known/acme-challenge/TOKEN with the key
// authorization a worker published for TOKEN (RFC 8555 8.3), 404 otherwise.
// One thread runs it; each connection is a session on that thread, with a
// deadline on its read and write, so a stalled validator holds nothing.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace hsmca::bench {

class Http01Responder {
 public:
  // Binds address:port at once (throws boost::system::system_error when taken).
  Http01Responder(const std::string& address, std::uint16_t port);
  ~Http01Responder();
  Http01Responder(const Http01Responder&) = delete;  // the destructor joins the serving thread
  Http01Responder& operator=(const Http01Responder&) = delete;

  void publish(const std::string& token, std::string key_authorization);
  void withdraw(const std::string& token);
  std::optional<std::string> key_authorization(std::string_view token) const;

  // GETs answered with a key authorization, and requests answered 404.
  std::uint64_t served() const { return served_; }
  std::uint64_t missed() const { return missed_; }
  void count(bool found) { ++(found ? served_ : missed_); }

 private:
  void accept();

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::string> published_;  // token -> key authorization
  std::atomic<std::uint64_t> served_{0}, missed_{0};
  std::thread thread_;
};

}  // namespace hsmca::bench
