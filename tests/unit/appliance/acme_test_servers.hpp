#pragma once
// The far side of ACME challenge validation, for real on loopback: a DNS
// server (pebble-challtestsrv, driven through its management API), an HTTP
// server and a TLS server answering acme-tls/1 with certificates made here.

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "process.hpp"

namespace hsmca::test::acme {

// pebble-challtestsrv on free loopback ports, answering only what the test
// added (no default A/AAAA answers), stopped when the object goes.
class ChallTestSrv {
 public:
  ChallTestSrv();
  ChallTestSrv(const ChallTestSrv&) = delete;  // owns the process
  ChallTestSrv& operator=(const ChallTestSrv&) = delete;

  std::string server() const { return "127.0.0.1:" + std::to_string(dns_port_); }

  void add_a(const std::string& host, const std::string& address);
  void add_aaaa(const std::string& host, const std::string& address);
  void set_txt(const std::string& host, const std::string& value);  // adds to the host's TXT records
  void add_caa(const std::string& host, const std::vector<std::pair<std::string, std::string>>& tag_values);

 private:
  void post(const std::string& path, const std::string& json);

  int dns_port_;
  int management_port_;
  std::string log_;
  std::unique_ptr<BackgroundProcess> process_;
};

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
// What the server answers; nullopt: it holds the connection and never answers.
using HttpHandler = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

HttpResponse text_response(unsigned status, std::string body);
HttpResponse redirect_response(const std::string& location);

// Accepts one connection at a time on 127.0.0.1 (or `bind_address`), on a
// thread of its own, and hands each to `serve`; the destructor stops and
// joins it. Both test servers below are one of these and what they do with
// a connection.
class AcceptLoop {
 public:
  using Serve = std::function<void(boost::asio::ip::tcp::socket)>;
  explicit AcceptLoop(const std::string& bind_address = "127.0.0.1");
  ~AcceptLoop();
  AcceptLoop(const AcceptLoop&) = delete;  // the destructor joins the thread
  AcceptLoop& operator=(const AcceptLoop&) = delete;

  // Starts the thread; call once the owner is ready for connections.
  void start(Serve serve);
  // Stops and joins the thread (the destructor does too); sockets it accepted stay usable until this is gone.
  void stop();
  std::uint16_t port() const { return port_; }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// One connection at a time on its own thread; enough for a validator that
// makes one request at a time.
class TestHttpServer {
 public:
  explicit TestHttpServer(HttpHandler handler, const std::string& bind_address = "127.0.0.1");
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;  // the destructor joins the thread
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  std::uint16_t port() const { return loop_.port(); }
  // "GET /path" and the Host header of every request, in order.
  std::vector<std::pair<std::string, std::string>> requests() const;

 private:
  void serve(boost::asio::ip::tcp::socket socket);

  HttpHandler handler_;
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> requests_;
  std::vector<boost::asio::ip::tcp::socket> held_;
  AcceptLoop loop_;  // last: its thread stops first
};

struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using CertPtr = std::unique_ptr<X509, X509Free>;

// What goes into a tls-alpn-01 certificate (RFC 8737 §3), and how it may be wrong.
struct ChallengeCertificate {
  std::string subject_alt_names;  // OpenSSL config syntax: "DNS:a.test,IP:127.0.0.1"
  std::string key_authorization;  // the extension holds its SHA-256
  bool with_extension = true;
  bool critical = true;
};

KeyPtr make_key();
CertPtr make_certificate(EVP_PKEY* key, const ChallengeCertificate& spec);

// A TLS server with one certificate. With `alpn`, it selects acme-tls/1 when
// offered; without, it negotiates no protocol. With `http_body`, it then
// answers one HTTP request with 200 and that body (an https redirect target).
class TestTlsServer {
 public:
  TestTlsServer(const ChallengeCertificate& spec, bool alpn, std::optional<std::string> http_body = std::nullopt);
  ~TestTlsServer();
  TestTlsServer(const TestTlsServer&) = delete;  // the destructor joins the thread
  TestTlsServer& operator=(const TestTlsServer&) = delete;

  std::uint16_t port() const { return loop_.port(); }
  // The SNI and the ALPN list (wire format) of every ClientHello. Recorded
  // while the ClientHello is processed when ALPN is offered, so before the
  // client can have finished; otherwise once the handshake is done.
  std::vector<std::pair<std::string, std::string>> handshakes() const;

 private:
  void serve(boost::asio::ip::tcp::socket socket);
  static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_size, const unsigned char* in,
                     unsigned in_size, void* self);

  bool alpn_;
  std::optional<std::string> http_body_;
  boost::asio::ssl::context context_;
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> handshakes_;
  AcceptLoop loop_;  // last: its thread stops first
};

}  // namespace hsmca::test::acme
