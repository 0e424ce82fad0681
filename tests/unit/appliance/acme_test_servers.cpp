#include "acme_test_servers.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <stdexcept>

namespace hsmca::test::acme {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

// Opens a connection and closes it, so that a blocking accept returns.
void poke(const tcp::endpoint& endpoint) {
  asio::io_context io;
  tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect(endpoint, ec);
}

}  // namespace

// ---- pebble-challtestsrv ----

ChallTestSrv::ChallTestSrv() : dns_port_(free_port()), management_port_(free_port()) {
  log_ = ::testing::TempDir() + "challtestsrv-" + std::to_string(management_port_) + ".log";
  const std::string dns = "127.0.0.1:" + std::to_string(dns_port_);
  const std::string management = "127.0.0.1:" + std::to_string(management_port_);
  process_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{"pebble-challtestsrv", "-dns01", dns, "-management", management, "-http01", "",
                               "-https01", "", "-tlsalpn01", "", "-defaultIPv4", "", "-defaultIPv6", ""},
      std::map<std::string, std::string>{}, log_);
  if (!wait_for_port(management_port_, 30) || !wait_for_port(dns_port_, 30)) {
    throw std::runtime_error("pebble-challtestsrv did not start; see " + log_);
  }
}

void ChallTestSrv::post(const std::string& path, const std::string& json) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(management_port_)));
  http::request<http::string_body> request{http::verb::post, path, 11};
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::content_type, "application/json");
  request.body() = json;
  request.prepare_payload();
  http::write(socket, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  if (response.result_int() != 200) {
    throw std::runtime_error("challtestsrv " + path + " answered " + std::to_string(response.result_int()));
  }
}

void ChallTestSrv::add_a(const std::string& host, const std::string& address) {
  post("/add-a", R"({"host":")" + host + R"(","addresses":[")" + address + R"("]})");
}

void ChallTestSrv::add_aaaa(const std::string& host, const std::string& address) {
  post("/add-aaaa", R"({"host":")" + host + R"(","addresses":[")" + address + R"("]})");
}

void ChallTestSrv::set_txt(const std::string& host, const std::string& value) {
  // TXT mocks are matched against the question's name as it is, fully
  // qualified; A, AAAA and CAA mocks are qualified by challtestsrv itself.
  post("/set-txt", R"({"host":")" + host + R"(.","value":")" + value + R"("})");
}

void ChallTestSrv::add_caa(const std::string& host,
                           const std::vector<std::pair<std::string, std::string>>& tag_values) {
  std::string policies;
  for (const auto& [tag, value] : tag_values) {
    policies += (policies.empty() ? "" : ",") + std::string(R"({"tag":")") + tag + R"(","value":")" + value + R"("})";
  }
  post("/add-caa", R"({"host":")" + host + R"(","policies":[)" + policies + "]}");
}

// ---- HTTP ----

HttpResponse text_response(unsigned status, std::string body) {
  HttpResponse response{static_cast<http::status>(status), 11};
  response.set(http::field::content_type, "text/plain");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

HttpResponse redirect_response(const std::string& location) {
  HttpResponse response = text_response(302, "");
  response.set(http::field::location, location);
  return response;
}

AcceptLoop::AcceptLoop(const std::string& bind_address)
    : acceptor_(io_, tcp::endpoint(asio::ip::make_address(bind_address), 0)), port_(acceptor_.local_endpoint().port()) {}

AcceptLoop::~AcceptLoop() { stop(); }

void AcceptLoop::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  poke(acceptor_.local_endpoint());
  thread_.join();
}

void AcceptLoop::start(Serve serve) {
  thread_ = std::thread([this, serve = std::move(serve)] {
    for (;;) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (stopping_) return;
      if (!ec) serve(std::move(socket));
    }
  });
}

TestHttpServer::TestHttpServer(HttpHandler handler, const std::string& bind_address)
    : handler_(std::move(handler)), loop_(bind_address) {
  loop_.start([this](tcp::socket socket) { serve(std::move(socket)); });
}

TestHttpServer::~TestHttpServer() {
  loop_.stop();
  held_.clear();  // before the loop's io_context they belong to
}

std::vector<std::pair<std::string, std::string>> TestHttpServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void TestHttpServer::serve(tcp::socket socket) {
  boost::system::error_code ec;
  beast::flat_buffer buffer;
  HttpRequest request;
  http::read(socket, buffer, request, ec);
  if (ec) return;
  {
    std::lock_guard lock(mutex_);
    requests_.emplace_back(std::string(request.method_string()) + " " + std::string(request.target()),
                           std::string(request[http::field::host]));
  }
  auto response = handler_(request);
  if (!response) {
    held_.push_back(std::move(socket));  // a stalled server: the connection stays open, silent
    return;
  }
  http::write(socket, *response, ec);
  socket.shutdown(tcp::socket::shutdown_send, ec);
}

// ---- certificates and TLS ----

KeyPtr make_key() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw std::runtime_error("EC key generation failed");
  return key;
}

CertPtr make_certificate(EVP_PKEY* key, const ChallengeCertificate& spec) {
  CertPtr certificate(X509_new());
  X509* x = certificate.get();
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("acme challenge"), -1,
                             -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, key);

  X509_EXTENSION* san = X509V3_EXT_nconf_nid(nullptr, nullptr, NID_subject_alt_name, spec.subject_alt_names.c_str());
  if (san == nullptr) throw std::runtime_error("bad subjectAltName " + spec.subject_alt_names);
  X509_add_ext(x, san, -1);
  X509_EXTENSION_free(san);

  if (spec.with_extension) {
    unsigned char digest[32];
    unsigned int size = 0;
    EVP_Digest(spec.key_authorization.data(), spec.key_authorization.size(), digest, &size, EVP_sha256(), nullptr);
    ASN1_OCTET_STRING* inner = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(inner, digest, 32);
    unsigned char* der = nullptr;
    const int der_size = i2d_ASN1_OCTET_STRING(inner, &der);
    ASN1_OCTET_STRING* value = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(value, der, der_size);
    ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    X509_EXTENSION* extension = X509_EXTENSION_create_by_OBJ(nullptr, oid, spec.critical ? 1 : 0, value);
    X509_add_ext(x, extension, -1);
    X509_EXTENSION_free(extension);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(value);
    OPENSSL_free(der);
    ASN1_OCTET_STRING_free(inner);
  }
  if (X509_sign(x, key, EVP_sha256()) == 0) throw std::runtime_error("certificate signing failed");
  return certificate;
}

namespace {

constexpr unsigned char kAcmeTls[] = {10, 'a', 'c', 'm', 'e', '-', 't', 'l', 's', '/', '1'};

}  // namespace

// Called by OpenSSL while it processes the ClientHello, on the server's thread.
int TestTlsServer::on_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_size, const unsigned char* in,
                           unsigned in_size, void* self) {
  auto* server = static_cast<TestTlsServer*>(self);
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  {
    std::lock_guard lock(server->mutex_);
    server->handshakes_.emplace_back(sni != nullptr ? sni : "",
                                     std::string(reinterpret_cast<const char*>(in), in_size));
  }
  if (!server->alpn_) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_size, kAcmeTls, sizeof kAcmeTls, in, in_size) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

TestTlsServer::TestTlsServer(const ChallengeCertificate& spec, bool alpn, std::optional<std::string> http_body)
    : alpn_(alpn),
      http_body_(std::move(http_body)),
      context_(asio::ssl::context::tls_server) {
  const KeyPtr key = make_key();
  const CertPtr certificate = make_certificate(key.get(), spec);
  SSL_CTX* ctx = context_.native_handle();
  if (SSL_CTX_use_certificate(ctx, certificate.get()) != 1 || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    throw std::runtime_error("cannot load the test certificate");
  }
  SSL_CTX_set_alpn_select_cb(ctx, on_alpn, this);
  // No TLS 1.3 tickets: the server's handshake would end writing them to a
  // client that, having what it came for, may already have closed.
  SSL_CTX_set_num_tickets(ctx, 0);
  loop_.start([this](tcp::socket socket) { serve(std::move(socket)); });
}

TestTlsServer::~TestTlsServer() = default;

std::vector<std::pair<std::string, std::string>> TestTlsServer::handshakes() const {
  std::lock_guard lock(mutex_);
  return handshakes_;
}

void TestTlsServer::serve(tcp::socket socket) {
  boost::system::error_code ec;
  asio::ssl::stream<tcp::socket> stream(std::move(socket), context_);
  const std::size_t seen = handshakes().size();
  stream.handshake(asio::ssl::stream_base::server, ec);
  if (ec) return;
  if (handshakes().size() == seen) {  // no ALPN offered, so no callback
    std::lock_guard lock(mutex_);
    const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    handshakes_.emplace_back(sni != nullptr ? sni : "", "");
  }
  if (http_body_) {
    beast::flat_buffer buffer;
    HttpRequest request;
    http::read(stream, buffer, request, ec);
    if (ec) return;
    auto response = text_response(200, *http_body_);
    http::write(stream, response, ec);
    stream.shutdown(ec);
  }
}

}  // namespace hsmca::test::acme
