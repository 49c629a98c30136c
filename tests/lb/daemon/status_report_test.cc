#include "lbd/daemon/status_report.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "lb_test_util.h"
#include "lbd/daemon/metrics_server.h"

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
  r.process.maxconn = 6000;
  r.process.maxconn_reached = 2;
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

TEST(StatusText, DisabledAndDrainingMarksComeAfterEveryIpvsadmColumn) {
  StatusReport r = Sample();
  r.services[0].servers[0].draining = true;
  r.services[0].servers[0].weight = 0;
  r.services[0].servers[1].disabled = true;
  std::string text = FormatStatusText(r);
  EXPECT_NE(text.find("  -> 127.0.0.1:9001               Masq    0      2          1          "
                      "up draining\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  -> 127.0.0.1:9002               Masq    1      0          0          "
                      "down disabled\n"),
            std::string::npos)
      << text;
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
  EXPECT_EQ((*j)["counters"]["maxconn"].number(), 6000);
  EXPECT_EQ((*j)["counters"]["maxconn_reached"].number(), 2);
  EXPECT_EQ((*j)["services"].array().size(), 2u);
}

TEST(Stats, ResetsByTheSideThatFailedFollowTheUnchangedCounters) {
  StatusReport r = Sample();
  r.process.resets = 5;
  r.process.client_resets = 3;
  r.process.server_resets = 2;
  r.process.idle_timeouts = 1;
  const std::string text = FormatStatsText(r);
  EXPECT_NE(text.find("  Sorry 0  Resets 5  IdleTimeouts 1  ClientResets 3  ServerResets 2\n"),
            std::string::npos)
      << text;
  auto j = lbtest::JsonParser::Parse(FormatStatsJson(r));
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ((*j)["counters"]["resets"].number(), 5);
  EXPECT_EQ((*j)["counters"]["client_resets"].number(), 3);
  EXPECT_EQ((*j)["counters"]["server_resets"].number(), 2);
  const std::string prom = FormatPrometheus(r);
  EXPECT_NE(prom.find("\nlbd_resets_total 5\n"), std::string::npos);
  EXPECT_NE(prom.find("# TYPE lbd_resets_by_side_total counter\n"
                      "lbd_resets_by_side_total{side=\"client\"} 3\n"
                      "lbd_resets_by_side_total{side=\"server\"} 2\n"),
            std::string::npos)
      << prom;
}

TEST(Prometheus, OneSampleLinePerSeriesWithHelpAndType) {
  std::string text = FormatPrometheus(Sample());
  EXPECT_NE(text.find("# TYPE lbd_real_server_up gauge\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_real_server_up{service=\"shop\",server=\"127.0.0.1:9002\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("lbd_real_server_weight{service=\"shop\",server=\"127.0.0.1:9001\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("lbd_accept_emfile_total 4\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_maxconn 6000\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_maxconn_reached_total 2\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_service_connections_total{service=\"shop\"} 12\n"), std::string::npos);
  EXPECT_NE(text.find("service=\"api \\\"v2\\\"\""), std::string::npos);
}

StatusReport SampleWithVrrp() {
  StatusReport r = Sample();
  VrrpReport v;
  v.name = "VI_1";
  v.interface = "eth0";
  v.vrid = 51;
  v.state = "MASTER";
  v.priority = 150;
  v.effective_priority = 90;
  v.master_ip = "10.0.0.1";
  v.primary_ip = "10.0.0.1";
  v.virtual_ips = {"10.0.0.100/24"};
  v.interface_up = true;
  v.adverts_sent = 12;
  v.adverts_received = 3;
  v.dropped = {{"checksum", 2}, {"vrid", 5}};
  r.vrrp.push_back(v);
  VrrpReport b;
  b.name = "VI_2";
  b.interface = "eth1";
  b.vrid = 52;
  b.state = "BACKUP";
  b.priority = b.effective_priority = 100;
  r.vrrp.push_back(b);
  return r;
}

TEST(StatusText, VrrpLinesFollowTheUnchangedTable) {
  std::string plain = FormatStatusText(Sample());
  std::string text = FormatStatusText(SampleWithVrrp());
  ASSERT_EQ(text.rfind(plain, 0), 0u);
  EXPECT_EQ(text.substr(plain.size()),
            "VRRP VI_1 eth0 vrid 51 MASTER prio 90/150 master 10.0.0.1 adverts tx 12 rx 3 "
            "drops 7\n"
            "VRRP VI_2 eth1 vrid 52 BACKUP prio 100/100 master - adverts tx 0 rx 0 drops 0\n");
}

TEST(StatusJson, VrrpInstancesWithCountersAndDropsByKind) {
  auto empty = lbtest::JsonParser::Parse(FormatStatusJson(Sample()));
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE((*empty)["vrrp"].is_array());
  EXPECT_TRUE((*empty)["vrrp"].array().empty());
  for (const std::string& doc :
       {FormatStatusJson(SampleWithVrrp()), FormatStatsJson(SampleWithVrrp())}) {
    auto j = lbtest::JsonParser::Parse(doc);
    ASSERT_TRUE(j.has_value()) << doc;
    const auto& vrrp = (*j)["vrrp"].array();
    ASSERT_EQ(vrrp.size(), 2u);
    EXPECT_EQ(vrrp[0]["name"].str(), "VI_1");
    EXPECT_EQ(vrrp[0]["state"].str(), "MASTER");
    EXPECT_EQ(vrrp[0]["vrid"].number(), 51);
    EXPECT_EQ(vrrp[0]["priority"].number(), 150);
    EXPECT_EQ(vrrp[0]["effective_priority"].number(), 90);
    EXPECT_EQ(vrrp[0]["master"].str(), "10.0.0.1");
    EXPECT_EQ(vrrp[0]["virtual_ips"].array().size(), 1u);
    EXPECT_EQ(vrrp[0]["counters"]["adverts_sent"].number(), 12);
    EXPECT_EQ(vrrp[0]["counters"]["adverts_received"].number(), 3);
    EXPECT_EQ(vrrp[0]["counters"]["dropped"].number(), 7);
    EXPECT_EQ(vrrp[0]["dropped"]["vrid"].number(), 5);
    EXPECT_EQ(vrrp[1]["master"].str(), "");
  }
}

PacketReport SamplePacket() {
  PacketReport p;
  p.name = "shop";
  p.tun = "lbd0";
  p.flows = 6;
  p.packets_read = 72;
  p.packets_forwarded = 70;
  p.drops = 2;
  p.drops_by_kind = {{"no_flow", 1}, {"fragment", 1}, {"too_big", 0}};
  PacketServerReport a;
  a.address = ParseEndpoint("10.0.1.2:80").value();
  a.active = 1;
  a.inactive = 2;
  a.flows = 5;
  a.packets_in = 40;
  a.bytes_in = 4000;
  a.packets_out = 30;
  a.bytes_out = 90000;
  p.servers = {a};
  return p;
}

TEST(StatusText, PacketLinesFollowTheTable) {
  StatusReport r = Sample();
  const std::string plain = FormatStatusText(r);
  r.packet.push_back(SamplePacket());
  const std::string text = FormatStatusText(r);
  ASSERT_EQ(text.rfind(plain, 0), 0u);
  EXPECT_EQ(text.substr(plain.size()),
            "PACKET shop lbd0 flows 6 packets in 72 forwarded 70 drops 2\n"
            "PACKET shop 10.0.1.2:80 active 1 inactive 2 flows 5 packets in 40 out 30 bytes in "
            "4000 out 90000\n");
  const std::string stats = FormatStatsText(r);
  EXPECT_NE(
      stats.find("PACKET shop 10.0.1.2:80 active 1 inactive 2 flows 5 packets in 40 out 30 "
                 "bytes in 4000 out 90000\nPACKET shop drops no_flow 1 fragment 1 too_big 0\n"),
      std::string::npos)
      << stats;
  for (const std::string& json : {FormatStatusJson(r), FormatStatsJson(r)}) {
    auto j = lbtest::JsonParser::Parse(json);
    ASSERT_TRUE(j.has_value()) << json;
    ASSERT_EQ((*j)["packet"].array().size(), 1u);
    const auto& p = (*j)["packet"].array()[0];
    EXPECT_EQ(p["tun"].str(), "lbd0");
    EXPECT_EQ(p["packets_forwarded"].number(), 70);
    EXPECT_EQ(p["drops"].number(), 2);
    EXPECT_EQ(p["drops_by_kind"]["fragment"].number(), 1);
    ASSERT_EQ(p["servers"].array().size(), 1u);
    const auto& s = p["servers"].array()[0];
    EXPECT_EQ(s["address"].str(), "10.0.1.2:80");
    EXPECT_EQ(s["active"].number(), 1);
    EXPECT_EQ(s["inactive"].number(), 2);
    EXPECT_EQ(s["flows"].number(), 5);
    EXPECT_EQ(s["packets_in"].number(), 40);
    EXPECT_EQ(s["bytes_in"].number(), 4000);
    EXPECT_EQ(s["packets_out"].number(), 30);
    EXPECT_EQ(s["bytes_out"].number(), 90000);
  }
}

TEST(Flows, LikeIpvsadmLnc) {
  PacketReport p = SamplePacket();
  FlowReport f;
  f.protocol = "TCP";
  f.client = ParseEndpoint("10.0.0.2:45678").value();
  f.virtual_address = ParseEndpoint("10.0.0.100:80").value();
  f.server = ParseEndpoint("10.0.1.2:80").value();
  f.state = "ESTABLISHED";
  f.expires_seconds = 899;
  FlowReport u = f;
  u.protocol = "UDP";
  u.state = "UDP";
  u.expires_seconds = 65;
  p.flow_list = {f, u};
  EXPECT_EQ(FormatFlowsText({p}, 2),
            "IPVS connection entries\n"
            "pro expire state       source             virtual            destination\n"
            "TCP 14:59  ESTABLISHED 10.0.0.2:45678     10.0.0.100:80      10.0.1.2:80\n"
            "UDP 01:05  UDP         10.0.0.2:45678     10.0.0.100:80      10.0.1.2:80\n"
            "(4 more flows not listed; --max 2)\n");
  p.flows = 2;
  EXPECT_EQ(FormatFlowsText({p}, 2).find("more flows"), std::string::npos);
  EXPECT_EQ(FormatFlowsText({}, 10),
            "IPVS connection entries\n"
            "pro expire state       source             virtual            destination\n");
  auto j = lbtest::JsonParser::Parse(FormatFlowsJson({p}));
  ASSERT_TRUE(j.has_value());
  ASSERT_EQ((*j)["flows"].array().size(), 2u);
  const auto& first = (*j)["flows"].array()[0];
  EXPECT_EQ(first["service"].str(), "shop");
  EXPECT_EQ(first["protocol"].str(), "TCP");
  EXPECT_EQ(first["client"].str(), "10.0.0.2:45678");
  EXPECT_EQ(first["virtual"].str(), "10.0.0.100:80");
  EXPECT_EQ(first["server"].str(), "10.0.1.2:80");
  EXPECT_EQ(first["state"].str(), "ESTABLISHED");
  EXPECT_EQ(first["expires"].number(), 899);
  EXPECT_EQ((*j)["total"].number(), 2);
  EXPECT_EQ((*j)["listed"].number(), 2);
}

TEST(Prometheus, PacketSeriesOnlyWithPacketServices) {
  EXPECT_EQ(FormatPrometheus(Sample()).find("lbd_packet"), std::string::npos);
  StatusReport r = Sample();
  r.packet.push_back(SamplePacket());
  const std::string text = FormatPrometheus(r);
  for (const char* line : {
           "# TYPE lbd_packet_packets_read_total counter\n",
           "lbd_packet_packets_read_total{service=\"shop\"} 72\n",
           "lbd_packet_packets_forwarded_total{service=\"shop\"} 70\n",
           "# TYPE lbd_packet_flows gauge\n",
           "lbd_packet_flows{service=\"shop\"} 6\n",
           "# HELP lbd_packet_drops_total ",
           "lbd_packet_drops_total{service=\"shop\",reason=\"fragment\"} 1\n",
           "lbd_packet_drops_total{service=\"shop\",reason=\"too_big\"} 0\n",
           "lbd_packet_real_server_active_flows{service=\"shop\",server=\"10.0.1.2:80\"} 1\n",
           "lbd_packet_real_server_inactive_flows{service=\"shop\",server=\"10.0.1.2:80\"} 2\n",
           "lbd_packet_real_server_flows_total{service=\"shop\",server=\"10.0.1.2:80\"} 5\n",
           "lbd_packet_real_server_packets_in_total{service=\"shop\",server=\"10.0.1.2:80\"} 40\n",
           "lbd_packet_real_server_bytes_in_total{service=\"shop\",server=\"10.0.1.2:80\"} 4000\n",
           "lbd_packet_real_server_packets_out_total{service=\"shop\",server=\"10.0.1.2:80\"} 30\n",
           "lbd_packet_real_server_bytes_out_total{service=\"shop\",server=\"10.0.1.2:80\"} "
           "90000\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

TEST(Prometheus, VrrpSeriesOnlyWithInstances) {
  EXPECT_EQ(FormatPrometheus(Sample()).find("lbd_vrrp"), std::string::npos);
  std::string text = FormatPrometheus(SampleWithVrrp());
  const std::string labels = "{instance=\"VI_1\",interface=\"eth0\",vrid=\"51\"}";
  EXPECT_NE(text.find("# TYPE lbd_vrrp_state gauge\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_vrrp_state" + labels + " 2\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_vrrp_effective_priority" + labels + " 90\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_vrrp_adverts_sent_total" + labels + " 12\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_vrrp_dropped_total{instance=\"VI_1\",interface=\"eth0\",vrid=\"51\","
                      "reason=\"vrid\"} 5\n"),
            std::string::npos);
  EXPECT_NE(text.find("lbd_vrrp_state{instance=\"VI_2\",interface=\"eth1\",vrid=\"52\"} 1\n"),
            std::string::npos);
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

StatusReport SampleWithHealth() {
  StatusReport r = Sample();
  ServiceReport& s = r.services[0];
  s.quorum = {.up = false,
              .up_weight = 3,
              .quorum = 5,
              .hysteresis = 1,
              .sorry_server = true,
              .shown = true};
  HealthCheckReport c;
  c.type = "http";
  c.up = true;
  c.checks = 12;
  c.failures = 2;
  c.transitions = 1;
  c.last_change = 1700000000.5;
  c.since_seconds = 4.25;
  c.has_result = true;
  c.success = true;
  c.latency_seconds = 0.000214;
  c.message = "status 200";
  s.servers[0].check = c;
  HealthCheckReport d;
  d.type = "tcp";
  d.up = false;
  s.servers[1].check = d;
  s.servers[1].in_table = false;
  return r;
}

TEST(StatusText, QuorumAndHealthLinesFollowTheUnchangedTable) {
  StatusReport plain_report = SampleWithHealth();
  for (auto& s : plain_report.services) {
    s.quorum.shown = false;
    for (auto& rs : s.servers) rs.check.reset();
  }
  const std::string plain = FormatStatusText(plain_report);
  EXPECT_EQ(plain, FormatStatusText(Sample()));  // in_table does not show in the table
  const std::string text = FormatStatusText(SampleWithHealth());
  ASSERT_EQ(text.rfind(plain, 0), 0u) << text;
  // The service without checks or quorum settings has no line.
  EXPECT_EQ(text.substr(plain.size()),
            "QUORUM shop lost weight 3 quorum 5 hysteresis 1 sorry in-use\n"
            "HEALTH shop 127.0.0.1:9001 http up last ok latency 0.214ms checks 12 failures 2 "
            "transitions 1 since 4.2s table in msg status 200\n"
            "HEALTH shop 127.0.0.1:9002 tcp down last none latency 0.000ms checks 0 failures 0 "
            "transitions 0 since 0.0s table out msg -\n");
}

TEST(StatusJson, CheckInTableAndQuorum) {
  auto j = lbtest::JsonParser::Parse(FormatStatusJson(SampleWithHealth()));
  ASSERT_TRUE(j.has_value());
  const auto& shop = (*j)["services"].array().at(0);
  EXPECT_FALSE(shop["quorum"]["up"].boolean());
  EXPECT_EQ(shop["quorum"]["up_weight"].number(), 3);
  EXPECT_EQ(shop["quorum"]["quorum"].number(), 5);
  EXPECT_EQ(shop["quorum"]["hysteresis"].number(), 1);
  EXPECT_TRUE(shop["quorum"]["sorry_in_use"].boolean());
  const auto& a = shop["servers"].array().at(0);
  EXPECT_TRUE(a["in_table"].boolean());
  EXPECT_EQ(a["check"]["type"].str(), "http");
  EXPECT_EQ(a["check"]["checks"].number(), 12);
  EXPECT_EQ(a["check"]["failures"].number(), 2);
  EXPECT_EQ(a["check"]["since"].number(), 4.25);
  EXPECT_TRUE(a["check"]["last"]["success"].boolean());
  EXPECT_EQ(a["check"]["last"]["latency"].number(), 0.000214);
  EXPECT_EQ(a["check"]["last"]["message"].str(), "status 200");
  const auto& b = shop["servers"].array().at(1);
  EXPECT_FALSE(b["in_table"].boolean());
  EXPECT_TRUE(std::holds_alternative<std::nullptr_t>(b["check"]["last"].v));
  const auto& api = (*j)["services"].array().at(1);
  EXPECT_TRUE(api["quorum"]["up"].boolean());
  auto stats = lbtest::JsonParser::Parse(FormatStatsJson(SampleWithHealth()));
  ASSERT_TRUE(stats.has_value());
}

TEST(Prometheus, QuorumAndCheckSeries) {
  const std::string text = FormatPrometheus(SampleWithHealth());
  const std::string a = "{service=\"shop\",server=\"127.0.0.1:9001\"}";
  const std::string b = "{service=\"shop\",server=\"127.0.0.1:9002\"}";
  EXPECT_NE(text.find("lbd_service_quorum{service=\"shop\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_service_quorum{service=\"api \\\"v2\\\"\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_service_quorum_up_weight{service=\"shop\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_service_sorry_in_use{service=\"shop\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_real_server_in_table" + b + " 0\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE lbd_healthcheck_checks_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_healthcheck_checks_total" + a + " 12\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_healthcheck_failures_total" + a + " 2\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_healthcheck_latency_seconds" + a + " 0.000214"), std::string::npos);
  EXPECT_NE(text.find("lbd_healthcheck_last_success" + a + " 1\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_healthcheck_up" + b + " 0\n"), std::string::npos);
  EXPECT_NE(text.find("lbd_healthcheck_last_change_timestamp_seconds" + a + " 1700000000.5\n"),
            std::string::npos);
  // No check series for servers without a check.
  EXPECT_EQ(FormatPrometheus(Sample()).find("lbd_healthcheck_up{"), std::string::npos);
}

// FlowsWriter makes the same bytes as the Format functions, part by part,
// each part at most kFlowsPerPart flows.
TEST(Flows, WriterMakesTheSameListingInBoundedParts) {
  std::vector<PacketReport> packet(2);
  for (size_t k = 0; k < packet.size(); ++k) {
    packet[k].name = k == 0 ? "web" : "dns";
    const size_t n = k == 0 ? 2 * FlowsWriter::kFlowsPerPart + 7 : 5;
    for (size_t i = 0; i < n; ++i) {
      FlowReport f;
      f.protocol = k == 0 ? "TCP" : "UDP";
      f.client = Endpoint{0x0a000002u + static_cast<uint32_t>(i), static_cast<uint16_t>(1024 + i)};
      f.virtual_address = ParseEndpoint("10.0.0.100:80").value();
      f.server = ParseEndpoint("10.0.1.2:80").value();
      f.state = k == 0 ? "ESTABLISHED" : "UDP";
      f.expires_seconds = static_cast<int64_t>(i % 900);
      packet[k].flow_list.push_back(f);
    }
    packet[k].flows = packet[k].flow_list.size() + 10;  // some not listed
  }
  for (bool json : {false, true}) {
    FlowsWriter w(packet, json, 42);
    std::string all;
    size_t parts = 0;
    for (bool more = true; more;) {
      std::string part;
      more = w.Next(part);
      ASSERT_FALSE(part.empty());
      const size_t lines = static_cast<size_t>(std::count(part.begin(), part.end(), '\n'));
      EXPECT_LE(lines, FlowsWriter::kFlowsPerPart + 1);
      all += part;
      ASSERT_LT(++parts, 100u);
    }
    EXPECT_GE(parts, 4u);  // header, 3 parts of flows, the end
    EXPECT_EQ(all, json ? FormatFlowsJson(packet) : FormatFlowsText(packet, 42));
  }
  EXPECT_NE(FormatFlowsText(packet, 42).find("\n(20 more flows not listed; --max 42)\n"),
            std::string::npos);
  auto j = lbtest::JsonParser::Parse(FormatFlowsJson(packet));
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ((*j)["flows"].array().size(), 2 * FlowsWriter::kFlowsPerPart + 12);
  EXPECT_EQ((*j)["total"].number(), 2 * FlowsWriter::kFlowsPerPart + 32);
}

TEST(StatusJson, LatencyOfProxyServersOnlyAndNotInTheTable) {
  StatusReport r = Sample();
  r.services[0].servers[0].latency_seconds = 0.0123456;
  r.services[0].servers[1].latency_seconds = 0.0;
  auto j = lbtest::JsonParser::Parse(FormatStatusJson(r));
  ASSERT_TRUE(j);
  const auto& servers = (*j)["services"].array().at(0)["servers"].array();
  EXPECT_EQ(servers.at(0)["latency_ms"].number(), 12.346);
  EXPECT_EQ(servers.at(1)["latency_ms"].number(), 0);
  // No signal (nat/dr/tun): null.
  auto plain = lbtest::JsonParser::Parse(FormatStatusJson(Sample()));
  ASSERT_TRUE(plain);
  EXPECT_TRUE(std::holds_alternative<std::nullptr_t>(
      (*plain)["services"].array().at(0)["servers"].array().at(0)["latency_ms"].v));
  EXPECT_EQ(FormatStatusText(r), FormatStatusText(Sample()));
  std::string m = FormatPrometheus(r);
  EXPECT_NE(m.find("# TYPE lbd_real_server_latency_seconds gauge\n"
                   "lbd_real_server_latency_seconds{service=\"shop\",server=\"127.0.0.1:9001\"} "
                   "0.0123456\n"
                   "lbd_real_server_latency_seconds{service=\"shop\",server=\"127.0.0.1:9002\"} 0\n"
                   "# HELP"),
            std::string::npos)
      << m;
  EXPECT_EQ(FormatPrometheus(Sample()).find("lbd_real_server_latency_seconds{"), std::string::npos);
}

}  // namespace
}  // namespace lbd
