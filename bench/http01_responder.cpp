#include "http01_responder.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>

namespace hsmca::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";
constexpr auto kDeadline = std::chrono::seconds(5);

// One validator connection: one request, one answer, then close (the
// appliance's validator sends Connection: close).
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(tcp::socket socket, Http01Responder& responder) : stream_(std::move(socket)), responder_(responder) {}

  void start() {
    parser_.body_limit(1024);
    parser_.header_limit(8 * 1024);
    stream_.expires_after(kDeadline);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->answer(ec); });
  }

 private:
  void answer(beast::error_code ec) {
    if (ec) return;
    const auto& request = parser_.get();
    const std::string_view target(request.target().data(), request.target().size());
    std::optional<std::string> found;
    if (request.method() == http::verb::get && target.starts_with(kPrefix)) {
      found = responder_.key_authorization(target.substr(kPrefix.size()));
    }
    responder_.count(found.has_value());
    response_.version(request.version());
    response_.result(found ? http::status::ok : http::status::not_found);
    response_.set(http::field::content_type, "text/plain");
    response_.body() = found ? std::move(*found) : "no such token\n";
    response_.keep_alive(false);
    response_.prepare_payload();
    stream_.expires_after(kDeadline);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  Http01Responder& responder_;
  beast::flat_buffer buffer_;
  http::request_parser<http::empty_body> parser_;
  http::response<http::string_body> response_;
};

}  // namespace

Http01Responder::Http01Responder(const std::string& address, std::uint16_t port)
    : acceptor_(io_, tcp::endpoint(asio::ip::make_address(address), port)) {
  accept();
  thread_ = std::thread([this] { io_.run(); });
}

Http01Responder::~Http01Responder() {
  io_.stop();
  thread_.join();
}

void Http01Responder::accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (!ec) std::make_shared<Exchange>(std::move(socket), *this)->start();
    if (ec != asio::error::operation_aborted) accept();
  });
}

void Http01Responder::publish(const std::string& token, std::string key_authorization) {
  std::lock_guard lock(mutex_);
  published_[token] = std::move(key_authorization);
}

void Http01Responder::withdraw(const std::string& token) {
  std::lock_guard lock(mutex_);
  published_.erase(token);
}

std::optional<std::string> Http01Responder::key_authorization(std::string_view token) const {
  std::lock_guard lock(mutex_);
  const auto it = published_.find(std::string(token));
  if (it == published_.end()) return std::nullopt;
  return it->second;
}

}  // namespace hsmca::bench
