// One client cannot lock everyone out: each listener has its own connection
// cap, each client address its share, and a full listener closes the
// connection idle longest. Tried as the attacker would, with raw sockets
// held open, and checked with curl as the locked-out user would be.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "appliance_fixture.hpp"

namespace hsmca::test {
namespace {

// A TCP connection to 127.0.0.1:port held open by the test; closed when it goes.
class Socket {
 public:
  explicit Socket(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("connect");
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;  // the destructor closes the descriptor
  Socket& operator=(const Socket&) = delete;

  void send(const std::string& bytes) { ASSERT_EQ(::write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size())); }
  // What arrives within `ms`; empty when nothing did, "(closed)" when the peer closed.
  std::string receive(int ms = 2000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return "";
    char buffer[4096];
    const ssize_t n = ::read(fd_, buffer, sizeof buffer);
    return n <= 0 ? "(closed)" : std::string(buffer, static_cast<std::size_t>(n));
  }

 private:
  int fd_;
};

class ApplianceConnectionsTest : public ApplianceFixture {
 protected:
  static std::string read_file_if(const fs::path& file) { return fs::exists(file) ? read_file(file) : ""; }

  // The sockets the appliance holds open: listeners and connections.
  int appliance_sockets() {
    int count = 0;
    for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(appliance_->pid()) + "/fd")) {
      std::error_code ec;
      if (fs::read_symlink(fd.path(), ec).string().rfind("socket:", 0) == 0) ++count;
    }
    return count;
  }

  // The appliance again, with these limits (and a read deadline long enough
  // that idle sockets stay for the whole test).
  void restart_with_limits(const std::string& limits) {
    std::string yaml = read_file(dir_ / "ca.yaml");
    const auto at = yaml.find("  limits: ");
    yaml.replace(at, yaml.find('\n', at) - at,
                 "  limits: {read_timeout_ms: 30000, idle_timeout_ms: 30000, shutdown_grace_ms: 5000, " + limits + "}");
    write_file(dir_ / "ca.yaml", yaml);
    appliance_.reset();
    start();
  }

  static std::vector<std::unique_ptr<Socket>> hold(int port, int count) {
    std::vector<std::unique_ptr<Socket>> sockets;
    for (int i = 0; i < count; ++i) sockets.push_back(std::make_unique<Socket>(port));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // accepted (or refused) by now
    return sockets;
  }

  // An EST enrollment with the enroll token, from `source` (a loopback address), answering within 2 s.
  int enroll_within_two_seconds(const std::string& source = "127.0.0.1") {
    openssl_csr(dir_.path(), "web", "/CN=web.example.test", "DNS:web.example.test");
    return curl({"--max-time", "2", "--interface", source, "-X", "POST", "-H", "Content-Type: application/pkcs10", "-H",
                 std::string("Authorization: Bearer ") + kEnrollToken, "--data-binary", "@" + est_body("web").string(),
                 url("/.well-known/est/simpleenroll")})
        .status;
  }
};

TEST_F(ApplianceConnectionsTest, IdleSocketsOnThePlainListenerDoNotLockOutEnrollment) {
  restart_with_limits("max_connections: 64, max_connections_per_address: 1000");
  auto idle = hold(http_port_, 70);
  EXPECT_EQ(enroll_within_two_seconds(), 200) << "the HTTPS listener has its own cap";
}

TEST_F(ApplianceConnectionsTest, OneAddressHoldsOnlyItsShareOfAListener) {
  restart_with_limits("max_connections: 64, max_connections_per_address: 16");
  auto idle = hold(https_port_, 70);  // from 127.0.0.1, without a handshake
  EXPECT_EQ(enroll_within_two_seconds("127.0.0.2"), 200) << "another address still gets in";
  EXPECT_EQ(enroll_within_two_seconds("127.0.0.1"), 0) << "the holder's 17th connection is refused";
}

TEST_F(ApplianceConnectionsTest, AFullListenerClosesTheConnectionIdleLongestToMakeRoom) {
  restart_with_limits("max_connections: 8, max_connections_per_address: 1000");
  std::vector<std::unique_ptr<Socket>> kept;
  for (int i = 0; i < 8; ++i) {
    kept.push_back(std::make_unique<Socket>(http_port_));
    kept.back()->send("GET /ca/chain.pem HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_NE(kept.back()->receive().find("200 OK"), std::string::npos);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // an order of idleness
  }
  // All eight wait for a next request that never comes: the listener is full.
  auto r = run_process({"curl", "-sS", "--max-time", "2", "-o", "/dev/null", "-w", "%{http_code}", plain_url("/healthz")});
  EXPECT_EQ(r.out, "200") << r.err;
  EXPECT_EQ(kept.front()->receive(), "(closed)") << "the connection idle longest made room";
  EXPECT_EQ(kept.back()->receive(200), "") << "the others stay";
}

// The same over TLS: the connection closed for room is closed at once (its
// pending read cancelled), not left open until its idle deadline.
TEST_F(ApplianceConnectionsTest, AFullHttpsListenerClosesTheIdleConnectionForRoomAtOnce) {
  restart_with_limits("max_connections: 4, max_connections_per_address: 1000");
  write_file(dir_ / "hold.py",
             "import socket, ssl, sys, time\n"
             "ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
             "held = []\n"
             "for i in range(4):\n"
             "    s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname='ca.example.test')\n"
             "    s.sendall(b'GET /ca/chain.pem HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n"
             "    s.recv(65536)\n"
             "    held.append(s)\n"
             "    time.sleep(0.05)\n"
             "print('held', flush=True)\n"
             "held[0].settimeout(10)\n"
             "try:\n"
             "    print('first closed' if held[0].recv(1) == b'' else 'first got data', flush=True)\n"
             "except Exception as e:\n"
             "    print('first still open', e, flush=True)\n"
             "time.sleep(30)\n");
  const int before = appliance_sockets();
  BackgroundProcess holder({"python3", (dir_ / "hold.py").string(), std::to_string(https_port_), (dir_ / "root.crt").string()},
                           {}, (dir_ / "hold.log").string());
  for (int i = 0; i < 100 && read_file_if(dir_ / "hold.log").find("held") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(read_file_if(dir_ / "hold.log").find("held"), std::string::npos) << read_file_if(dir_ / "hold.log");
  EXPECT_EQ(curl({"--max-time", "2", url("/healthz")}).status, 200);
  const auto asked = std::chrono::steady_clock::now();
  while (read_file_if(dir_ / "hold.log").find("first") == std::string::npos &&
         std::chrono::steady_clock::now() - asked < std::chrono::seconds(8)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(read_file_if(dir_ / "hold.log").find("first closed"), std::string::npos) << read_file_if(dir_ / "hold.log");
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(3)) << "closed at once, not at its deadline";
  EXPECT_TRUE(healthy()) << "the appliance keeps serving";
  // Its socket too: the three connections still held, nothing more.
  int now = appliance_sockets();
  for (int i = 0; i < 40 && now != before + 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    now = appliance_sockets();
  }
  EXPECT_EQ(now, before + 3) << "within 4 s";
}

}  // namespace
}  // namespace hsmca::test
