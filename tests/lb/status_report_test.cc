#include "lbd/lb/status_report.h"

#include <gtest/gtest.h>

#include "lb_test_util.h"
#include "lbd/lb/metrics_server.h"

namespace lbd {
namespace {

StatusReport Sample() {
  StatusReport r;
  ServiceReport s;
  s.name = "shop";
  s.listen = ParseEndpoint("127.0.0.1:8080").value();
  s.scheduler = "wrr";
  s.forwarding = Forwarding::kNat;
  s.connections = 12;
  ServerReport a;
  a.address = ParseEndpoint("127.0.0.1:9001").value();
  a.weight = 3;
  a.active = 2;
  a.inactive = 1;
  ServerReport b;
  b.address = ParseEndpoint("127.0.0.1:9002").value();
  b.weight = 1;
  b.up = false;
  b.bytes_in = 77;
  s.servers = {a, b};
  r.services.push_back(s);
  ServiceReport p;
  p.name = "api \"v2\"";
  p.listen = ParseEndpoint("127.0.0.1:8081").value();
  p.scheduler = "sh";
  p.persistence_seconds = 300;
  r.services.push_back(p);
  r.process.emfile = 4;
  return r;
}

TEST(StatusText, LooksLikeIpvsadm) {
  std::string text = FormatStatusText(Sample());
  const char* expected =
      "IP Virtual Server version lbd-0.1.0 (size=0)\n"
      "Prot LocalAddress:Port Scheduler Flags\n"
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
      "TCP  127.0.0.1:8080 wrr (shop)\n"
      "  -> 127.0.0.1:9001               Masq    3      2          1          up\n"
      "  -> 127.0.0.1:9002               Masq    1      0          0          down\n"
      "TCP  127.0.0.1:8081 sh persistent 300 (api \"v2\")\n";
  EXPECT_EQ(text, expected);
}

TEST(StatusJson, ParsesAndCarriesEveryField) {
  auto j = lbtest::JsonParser::Parse(FormatStatusJson(Sample()));
  ASSERT_TRUE(j.has_value());
  const auto& services = (*j)["services"].array();
  ASSERT_EQ(services.size(), 2u);
  EXPECT_EQ(services[0]["name"].str(), "shop");
  EXPECT_EQ(services[0]["forwarding"].str(), "nat");
  EXPECT_EQ(services[1]["name"].str(), "api \"v2\"");
  const auto& servers = services[0]["servers"].array();
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[0]["address"].str(), "127.0.0.1:9001");
  EXPECT_EQ(servers[0]["weight"].number(), 3);
  EXPECT_EQ(servers[0]["active"].number(), 2);
  EXPECT_EQ(servers[0]["inactive"].number(), 1);
  EXPECT_TRUE(servers[0]["up"].boolean());
  EXPECT_FALSE(servers[1]["up"].boolean());
  EXPECT_EQ(servers[1]["bytes_in"].number(), 77);
}

TEST(StatsJson, AddsTotalsRatesAndCounters) {
  auto j = lbtest::JsonParser::Parse(FormatStatsJson(Sample()));
  ASSERT_TRUE(j.has_value());
  EXPECT_TRUE((*j)["totals"].is_object());
  EXPECT_TRUE((*j)["rates"].is_object());
  EXPECT_EQ((*j)["counters"]["emfile"].number(), 4);
  EXPECT_EQ((*j)["services"].array().size(), 2u);
}

TEST(Prometheus, OneSampleLinePerSeriesWithHelpAndType) {
  std::string text = FormatPrometheus(Sample());
  EXPECT_NE(text.find("# TYPE lbd_real_server_up gauge\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_real_server_up{service=\"shop\",server=\"127.0.0.1:9002\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("lbd_real_server_weight{service=\"shop\",server=\"127.0.0.1:9001\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("lbd_accept_emfile_total 4\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_service_connections_total{service=\"shop\"} 12\n"), std::string::npos);
  EXPECT_NE(text.find("service=\"api \\\"v2\\\"\""), std::string::npos);
}

TEST(MetricsHttp, RoutesAndRefusals) {
  std::string ok = MetricsHttpResponse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "body\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(ok.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_EQ(ok.substr(ok.size() - 5), "body\n");
  EXPECT_EQ(MetricsHttpResponse("GET /metrics?x=1 HTTP/1.0\r\n\r\n", "").rfind("HTTP/1.1 200", 0),
            0u);
  EXPECT_EQ(MetricsHttpResponse("GET / HTTP/1.1\r\n\r\n", "").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(MetricsHttpResponse("GET /metricsx HTTP/1.1\r\n\r\n", "").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(MetricsHttpResponse("POST /metrics HTTP/1.1\r\n\r\n", "").rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_EQ(MetricsHttpResponse("garbage\r\n\r\n", "").rfind("HTTP/1.1 400", 0), 0u);
}

}  // namespace
}  // namespace lbd
