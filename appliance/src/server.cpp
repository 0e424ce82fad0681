#include "server.hpp"

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>
#include <iostream>
#include <optional>
#include <thread>

#include "framing.hpp"
#include "hsmca/appliance/connection_budget.hpp"
#include "hsmca/signer/strict_yaml.hpp"

namespace hsmca::appliance {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

struct Server::Shared {
  const ApplianceConfig& config;
  Service& service;
  ssl::context tls{ssl::context::tls_server};
  net::io_context ioc;
  // One budget per listener: idle sockets on the anonymous plain listener
  // never lock out enrollment and administration on HTTPS.
  ConnectionBudget https_connections;
  ConnectionBudget plain_connections;
  std::atomic<bool> stopping{false};

  Shared(const ApplianceConfig& c, Service& s)
      : config(c),
        service(s),
        ioc(static_cast<int>(c.io_threads)),
        https_connections(c.max_connections, c.max_connections_per_address),
        plain_connections(c.max_connections, c.max_connections_per_address) {}
};

namespace {

using Shared = Server::Shared;

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" + std::to_string(ep.port());
}

// Beast's advanced_server_flex shape: one session type per transport, the HTTP
// logic shared through CRTP. Every handler runs on the connection's strand.
template <class Derived>
class HttpSession {
 public:
  HttpSession(std::shared_ptr<Shared> shared, std::string remote, std::unique_ptr<ConnectionBudget::Slot> slot)
      : shared_(std::move(shared)), remote_(std::move(remote)), slot_(std::move(slot)) {}

 protected:
  Derived& derived() { return static_cast<Derived&>(*this); }

  void do_read() {
    parser_.emplace();
    limit_parser(*parser_, shared_->config);
    // The first request gets the read deadline; later ones the idle deadline,
    // which also bounds a slow client that never finishes its headers.
    beast::get_lowest_layer(derived().stream())
        .expires_after(requests_ == 0 ? shared_->config.read_timeout : shared_->config.idle_timeout);
    if (requests_ > 0) {
      // Waiting for a keep-alive request: a full listener may close this
      // connection to make room (on its own strand).
      // Cancelling the waiting read (rather than closing here) lets on_read
      // close with no read outstanding: a TLS shutdown started beside a
      // pending read would be a second read on the stream.
      slot_->idle([weak = derived().weak_from_this()] {
        if (auto self = weak.lock()) {
          net::post(self->stream().get_executor(), [self] { beast::get_lowest_layer(self->stream()).cancel(); });
        }
      });
    }
    http::async_read(derived().stream(), buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, derived().shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    slot_->busy();
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof) {
      return derived().do_close();
    }
    if (ec == http::error::body_limit) {
      return reply_and_close(http::status::payload_too_large, "body_too_large",
                             "the body exceeds " + std::to_string(shared_->config.body_limit) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return reply_and_close(http::status::request_header_fields_too_large, "headers_too_large",
                             "the headers exceed " + std::to_string(shared_->config.header_limit) + " bytes");
    }
    if (ec) {
      if (requests_ == 0 && buffer_.size() == 0 && !parser_->got_some()) return derived().do_close();
      return reply_and_close(http::status::bad_request, "malformed_http", ec.message());
    }
    if (framing_is_faulty(parser_->get())) {
      // What follows on the connection cannot be told apart from the body: answer and close.
      return reply_and_close(http::status::bad_request, "bad_transfer_encoding",
                             "Transfer-Encoding must be chunked alone (RFC 9112 6.1)");
    }
    ++requests_;
    RequestContext ctx;
    ctx.request = parser_->release();
    ctx.secure = Derived::kSecure;
    ctx.peer = peer_;
    ctx.peer_trusted = peer_trusted_;
    ctx.remote = remote_;
    ctx.started = std::chrono::steady_clock::now();
    keep_alive_ = ctx.request.keep_alive();
    // No read while the response is being made: one request at a time per
    // connection. The answer may come from a worker thread; hop back to the strand.
    shared_->service.handle(std::move(ctx), [self = derived().shared_from_this()](Response res) {
      auto executor = self->derived().stream().get_executor();
      net::post(executor, [self, res = std::move(res)]() mutable { self->send(std::move(res)); });
    });
  }

  void reply_and_close(http::status status, const std::string& code, const std::string& message) {
    Response res{status, 11};
    res.set(http::field::server, "hsmca-appliance");
    res.set(http::field::content_type, "application/json");
    res.body() = nlohmann::json{{"error", code}, {"message", message}}.dump();  // message may hold quotes
    keep_alive_ = false;
    linger_ = true;
    send(std::move(res));
  }

  void send(Response res) {
    const bool close = !keep_alive_ || shared_->stopping.load();
    res.keep_alive(!close);
    res.prepare_payload();
    auto msg = std::make_shared<Response>(std::move(res));
    beast::get_lowest_layer(derived().stream()).expires_after(shared_->config.write_timeout);
    http::async_write(derived().stream(), *msg,
                      [self = derived().shared_from_this(), msg, close](beast::error_code ec, std::size_t) {
                        if (!ec && self->linger_) {
                          beast::get_lowest_layer(self->derived().stream()).expires_after(kLingerTime);
                          return self->discard_rest();
                        }
                        if (ec || close) return self->derived().do_close();
                        self->do_read();
                      });
  }

  // A refusal sent before the request was read in full (an oversized body, a
  // bad header) is followed by a lingering close: what the client is still
  // sending is read and dropped, for a bounded time and amount, so closing
  // does not reset the connection before the client has read the answer.
  void discard_rest() {
    discarded_ += buffer_.size();
    buffer_.consume(buffer_.size());
    if (discarded_ > kLingerBytes) return derived().do_close();
    derived().stream().async_read_some(buffer_.prepare(16 * 1024),
                                       [self = derived().shared_from_this()](beast::error_code ec, std::size_t n) {
                                         self->buffer_.commit(n);
                                         if (ec) return self->derived().do_close();
                                         self->discard_rest();
                                       });
  }

  static constexpr std::chrono::seconds kLingerTime{2};
  static constexpr std::size_t kLingerBytes = 1024 * 1024;

  std::shared_ptr<Shared> shared_;
  std::string remote_;
  std::unique_ptr<ConnectionBudget::Slot> slot_;  // this connection's place in its listener's budget
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<X509> peer_;
  bool peer_trusted_ = false;
  bool keep_alive_ = true;
  bool linger_ = false;
  std::size_t discarded_ = 0;
  std::size_t requests_ = 0;
};

class PlainSession : public HttpSession<PlainSession>, public std::enable_shared_from_this<PlainSession> {
 public:
  static constexpr bool kSecure = false;
  PlainSession(tcp::socket socket, std::shared_ptr<Shared> shared, std::string remote,
               std::unique_ptr<ConnectionBudget::Slot> slot)
      : HttpSession(std::move(shared), std::move(remote), std::move(slot)), stream_(std::move(socket)) {}
  static ConnectionBudget& budget(Shared& shared) { return shared.plain_connections; }
  beast::tcp_stream& stream() { return stream_; }
  void run() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&PlainSession::do_read, shared_from_this()));
  }
  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

 private:
  friend class HttpSession<PlainSession>;
  beast::tcp_stream stream_;
};

class TlsSession : public HttpSession<TlsSession>, public std::enable_shared_from_this<TlsSession> {
 public:
  static constexpr bool kSecure = true;
  TlsSession(tcp::socket socket, std::shared_ptr<Shared> shared, std::string remote,
             std::unique_ptr<ConnectionBudget::Slot> slot)
      : HttpSession(shared, std::move(remote), std::move(slot)), stream_(std::move(socket), shared->tls) {}
  static ConnectionBudget& budget(Shared& shared) { return shared.https_connections; }
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      beast::get_lowest_layer(self->stream_).expires_after(self->shared_->config.handshake_timeout);
      self->stream_.async_handshake(ssl::stream_base::server,
                                    beast::bind_front_handler(&TlsSession::on_handshake, self));
    });
  }

  void do_close() {
    if (closing_) return;
    closing_ = true;
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
      beast::get_lowest_layer(self->stream_).close();
    });
  }

 private:
  friend class HttpSession<TlsSession>;

  void on_handshake(beast::error_code ec) {
    if (ec) {
      beast::get_lowest_layer(stream_).close();
      return;
    }
    SSL* ssl = stream_.native_handle();
    if (X509* peer = SSL_get1_peer_certificate(ssl)) {
      peer_.reset(peer, X509_free);
      // The handshake accepted any certificate (so a bad one gets a JSON 401,
      // not a TLS alert); whether it chained to client_ca is decided here.
      peer_trusted_ = !shared_->config.client_ca.empty() && SSL_get_verify_result(ssl) == X509_V_OK;
    }
    do_read();
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  bool closing_ = false;
};

template <class Session>
class Listener : public std::enable_shared_from_this<Listener<Session>> {
 public:
  Listener(std::shared_ptr<Shared> shared, const Endpoint& where)
      : shared_(std::move(shared)), acceptor_(net::make_strand(shared_->ioc)), backoff_(acceptor_.get_executor()) {
    beast::error_code ec;
    auto address = net::ip::make_address(where.host, ec);
    if (ec) throw signer::ConfigError("cannot listen on " + where.host + ": not an IP address");
    tcp::endpoint endpoint{address, where.port};
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) throw signer::ConfigError("cannot listen on " + endpoint_text(endpoint) + ": " + ec.message());
  }

  tcp::endpoint local() const { return acceptor_.local_endpoint(); }
  void start() { accept(); }
  void stop() {
    net::post(acceptor_.get_executor(), [self = this->shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
    });
  }

 private:
  void accept() {
    acceptor_.async_accept(net::make_strand(shared_->ioc),
                           beast::bind_front_handler(&Listener::on_accept, this->shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
        ec == boost::system::errc::too_many_files_open_in_system) {
      // Out of descriptors: accepting again at once would spin; the
      // connections already held finish meanwhile.
      backoff_.expires_after(std::chrono::milliseconds(50));
      backoff_.async_wait([self = this->shared_from_this()](beast::error_code) { self->accept(); });
      return;
    }
    if (!ec) {
      beast::error_code rec;
      const auto remote = socket.remote_endpoint(rec);
      auto slot = shared_->stopping.load() ? nullptr
                                           : Session::budget(*shared_).admit(rec ? "unknown" : remote.address().to_string());
      if (!slot) {
        beast::error_code ignored;
        socket.close(ignored);  // over a cap: refuse rather than queue
      } else {
        socket.set_option(tcp::no_delay(true), rec);
        std::make_shared<Session>(std::move(socket), shared_, rec ? "unknown" : endpoint_text(remote), std::move(slot))
            ->run();
      }
    }
    accept();
  }

  std::shared_ptr<Shared> shared_;
  tcp::acceptor acceptor_;
  net::steady_timer backoff_;  // a pause after running out of descriptors
};

// Any client certificate passes the handshake; Service decides what it is worth.
int accept_any_certificate(int, X509_STORE_CTX*) { return 1; }

void configure_tls(ssl::context& ctx, const ApplianceConfig& config) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  beast::error_code ec;
  ctx.use_certificate_chain_file(config.tls_certificate.string(), ec);
  if (ec) throw signer::ConfigError("appliance.tls.certificate " + config.tls_certificate.string() + ": " + ec.message());
  ctx.use_private_key_file(config.tls_key.string(), ssl::context::pem, ec);
  if (ec) throw signer::ConfigError("appliance.tls.key " + config.tls_key.string() + ": " + ec.message());
  SSL_CTX* native = ctx.native_handle();
  // OpenSSL's default TLS 1.2 list still offers CBC and RSA key transport.
  if (SSL_CTX_set_cipher_list(native, config.tls_ciphers.c_str()) != 1) {
    signer::drain_openssl_errors();
    throw signer::ConfigError("appliance.tls.ciphers: '" + config.tls_ciphers +
                              "' names no cipher suite OpenSSL offers (see `openssl ciphers -v LIST`)");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    throw signer::ConfigError("appliance.tls.key does not belong to appliance.tls.certificate");
  }
  if (!config.client_ca.empty()) {
    ctx.load_verify_file(config.client_ca.string(), ec);
    if (ec) throw signer::ConfigError("appliance.auth.client_ca " + config.client_ca.string() + ": " + ec.message());
    SSL_CTX_set_client_CA_list(native, SSL_load_client_CA_file(config.client_ca.c_str()));
  }
  // Ask for a client certificate, never require one: bearer tokens are the other way in.
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, accept_any_certificate);
  // Client certificates must survive session resumption.
  static const unsigned char kContext[] = "hsmca-appliance";
  SSL_CTX_set_session_id_context(native, kContext, sizeof kContext - 1);
}

}  // namespace

Server::Server(const ApplianceConfig& config, Service& service) : shared_(std::make_shared<Shared>(config, service)) {
  configure_tls(shared_->tls, config);
}

Server::~Server() = default;

void Server::run() {
  auto https = std::make_shared<Listener<TlsSession>>(shared_, shared_->config.listen);
  auto plain = std::make_shared<Listener<PlainSession>>(shared_, shared_->config.public_listen);
  std::cout << "listening https " << endpoint_text(https->local()) << "\n"
            << "listening http " << endpoint_text(plain->local()) << "\n"
            << std::flush;
  https->start();
  plain->start();

  net::signal_set signals(shared_->ioc, SIGINT, SIGTERM);
  net::steady_timer drain(shared_->ioc);
  std::chrono::steady_clock::time_point deadline;
  std::function<void()> wait_for_drain = [&] {
    if (shared_->service.in_flight() == 0 || std::chrono::steady_clock::now() >= deadline) {
      shared_->ioc.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(20));
    drain.async_wait([&](beast::error_code) { wait_for_drain(); });
  };
  signals.async_wait([&](beast::error_code, int) {
    // Stop accepting; let what is in flight finish within the grace period.
    shared_->stopping = true;
    https->stop();
    plain->stop();
    deadline = std::chrono::steady_clock::now() + shared_->config.shutdown_grace;
    wait_for_drain();
  });

  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < shared_->config.io_threads; ++i) threads.emplace_back([this] { shared_->ioc.run(); });
  shared_->ioc.run();
  for (auto& t : threads) t.join();
}

}  // namespace hsmca::appliance
