#include "hsmca/appliance/metrics.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>
#include <vector>

namespace hsmca::appliance {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

// The value of the sample line that starts with `series` + " ".
std::string value_of(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return line.substr(series.size() + 1);
  }
  return "(absent)";
}

TEST(MetricsTest, RendersHelpAndTypeForEveryFamily) {
  const Metrics m;
  const auto text = m.render({});
  for (const auto& [name, type] : std::vector<std::pair<std::string, std::string>>{
           {"hsmca_issuances_total", "counter"},
           {"hsmca_token_sign_seconds", "histogram"},
           {"hsmca_token_errors_total", "counter"},
           {"hsmca_http_requests_total", "counter"},
           {"hsmca_http_requests_in_flight", "gauge"},
           {"hsmca_token_sessions_total", "gauge"},
           {"hsmca_token_sessions_busy", "gauge"},
           {"hsmca_token_sessions_healthy", "gauge"},
           {"hsmca_token_recoveries_total", "counter"}}) {
    EXPECT_NE(text.find("# HELP " + name + " "), std::string::npos) << name;
    EXPECT_TRUE(contains(text, "# TYPE " + name + " " + type)) << name;
  }
  EXPECT_EQ(text.back(), '\n');
}

TEST(MetricsTest, CountsByLabels) {
  Metrics m;
  m.count_issuance("server", "issued");
  m.count_issuance("server", "issued");
  m.count_issuance("server", "rejected");
  m.count_issuance("client", "error");
  m.count_token_error("CKR_DEVICE_REMOVED");
  m.count_http("/.well-known/est/simpleenroll", 200);
  m.count_http("/.well-known/est/simpleenroll", 200);
  m.count_http("/.well-known/est/simpleenroll", 403);
  m.request_started();
  m.request_started();
  m.request_finished();
  const auto text = m.render({.total = 4, .busy = 1, .healthy = 3, .recoveries = 7});
  EXPECT_TRUE(contains(text, R"(hsmca_issuances_total{profile="server",result="issued"} 2)")) << text;
  EXPECT_TRUE(contains(text, R"(hsmca_issuances_total{profile="server",result="rejected"} 1)"));
  EXPECT_TRUE(contains(text, R"(hsmca_issuances_total{profile="client",result="error"} 1)"));
  EXPECT_TRUE(contains(text, R"(hsmca_token_errors_total{rv="CKR_DEVICE_REMOVED"} 1)"));
  EXPECT_TRUE(contains(text, R"(hsmca_http_requests_total{route="/.well-known/est/simpleenroll",status="200"} 2)"));
  EXPECT_TRUE(contains(text, R"(hsmca_http_requests_total{route="/.well-known/est/simpleenroll",status="403"} 1)"));
  EXPECT_TRUE(contains(text, "hsmca_http_requests_in_flight 1"));
  EXPECT_TRUE(contains(text, "hsmca_token_sessions_total 4"));
  EXPECT_TRUE(contains(text, "hsmca_token_sessions_busy 1"));
  EXPECT_TRUE(contains(text, "hsmca_token_sessions_healthy 3"));
  EXPECT_TRUE(contains(text, "hsmca_token_recoveries_total 7"));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndCountEqualsObservations) {
  Metrics m;
  const std::vector<std::chrono::nanoseconds> observations = {10us, 50us, 51us, 700us, 3ms, 3ms, 80ms, 1s, 2s, -5ns};
  for (auto d : observations) m.observe_token_sign(d);
  const auto text = m.render({});

  const std::vector<std::pair<std::string, std::string>> expected = {
      {"0.00005", "3"}, {"0.0001", "4"}, {"0.00025", "4"}, {"0.0005", "4"}, {"0.001", "5"},
      {"0.0025", "5"},  {"0.005", "7"},  {"0.01", "7"},    {"0.025", "7"},  {"0.05", "7"},
      {"0.1", "8"},     {"0.25", "8"},   {"0.5", "8"},     {"1", "9"},      {"+Inf", "10"}};
  unsigned long previous = 0;
  for (const auto& [le, count] : expected) {
    const auto value = value_of(text, "hsmca_token_sign_seconds_bucket{le=\"" + le + "\"}");
    EXPECT_EQ(value, count) << le;
    EXPECT_GE(std::stoul(value), previous);
    previous = std::stoul(value);
  }
  EXPECT_EQ(value_of(text, "hsmca_token_sign_seconds_count"), std::to_string(observations.size()));
  // 10+50+51+700+3000+3000+80000 us + 3 s, the negative one counted as 0.
  EXPECT_EQ(value_of(text, "hsmca_token_sign_seconds_sum"), "3.086811");
}

TEST(MetricsTest, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value(R"(a"b\c)"), R"(a\"b\\c)");
  EXPECT_EQ(escape_label_value("line\nbreak"), "line\\nbreak");
  EXPECT_EQ(escape_label_value("plain-value_1"), "plain-value_1");

  Metrics m;
  m.count_issuance("we\"ird\\pro\nfile", "issued");
  EXPECT_TRUE(contains(m.render({}), R"(hsmca_issuances_total{profile="we\"ird\\pro\nfile",result="issued"} 1)"));
}

TEST(MetricsTest, FoldsLabelCombinationsBeyondTheCapIntoOther) {
  Metrics m;
  const std::size_t cap = detail::LabelledCounter<2>::kMaxSeries;
  for (std::size_t i = 0; i < cap + 10; ++i) m.count_issuance("profile-" + std::to_string(i), "rejected");
  m.count_issuance("profile-0", "rejected");  // an existing series still counts as itself
  const auto text = m.render({});
  EXPECT_TRUE(contains(text, R"(hsmca_issuances_total{profile="other",result="other"} 10)"));
  EXPECT_TRUE(contains(text, R"(hsmca_issuances_total{profile="profile-0",result="rejected"} 2)"));
}

TEST(MetricsTest, ConcurrentUpdatesFromEightThreadsAllCount) {
  Metrics m;
  constexpr int kThreads = 8;
  constexpr int kEach = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < kEach; ++i) {
        m.request_started();
        m.count_issuance(i % 2 == 0 ? "server" : "client", "issued");
        m.count_http("/route-" + std::to_string(i % 3), 200);
        m.count_token_error(t % 2 == 0 ? "CKR_DEVICE_ERROR" : "CKR_SESSION_HANDLE_INVALID");
        m.observe_token_sign(std::chrono::microseconds(i % 2000));
        m.request_finished();
      }
    });
  }
  for (auto& th : threads) th.join();
  const auto text = m.render({});
  const auto total = kThreads * kEach;
  EXPECT_EQ(value_of(text, R"(hsmca_issuances_total{profile="server",result="issued"})"), std::to_string(total / 2));
  EXPECT_EQ(value_of(text, R"(hsmca_issuances_total{profile="client",result="issued"})"), std::to_string(total / 2));
  unsigned long http = 0;
  for (int r = 0; r < 3; ++r) {
    http += std::stoul(value_of(text, "hsmca_http_requests_total{route=\"/route-" + std::to_string(r) + "\",status=\"200\"}"));
  }
  EXPECT_EQ(http, static_cast<unsigned long>(total));
  EXPECT_EQ(value_of(text, R"(hsmca_token_errors_total{rv="CKR_DEVICE_ERROR"})"), std::to_string(total / 2));
  EXPECT_EQ(value_of(text, "hsmca_token_sign_seconds_count"), std::to_string(total));
  EXPECT_EQ(value_of(text, "hsmca_token_sign_seconds_bucket{le=\"+Inf\"}"), std::to_string(total));
  EXPECT_EQ(value_of(text, "hsmca_http_requests_in_flight"), "0");
}

}  // namespace
}  // namespace hsmca::appliance
