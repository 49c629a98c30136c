// lbd (not lbd-packet) serving `forwarding: nat|dr|tun` services in the packet
// tests' topology (tests/netns/topology.sh: client | director | real servers,
// all in namespaces named lbdq-<pid>-<mode letter>-*), with python http
// servers (tests/packet/http_server.py) as real servers and, for tun,
// lbd-tunnel on each of them.
//
// Every process is started by this test and stopped by its PID; the topology
// (netns::ScriptTopology) is removed by `topology.sh down` in TearDown (which
// runs also after a failed assertion). Needs root; skipped otherwise.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <sstream>

#include "lb_test_util.h"
#include "lbd_process.h"
#include "netns.h"
#include "skip.h"

namespace lbtest {
namespace {

constexpr char kVip[] = "10.201.100.1";

using netns::Shell;

std::string Server(int i, int port) {
  return "10.201.0.1" + std::to_string(i) + ":" + std::to_string(port);
}

class PacketDaemon : public ::testing::Test {
 protected:
  void SetUp() override { LBD_SKIP_UNLESS(geteuid() == 0, "needs root (network namespaces, tun)"); }

  // The topology for `mode` with `n` real servers (3 answer on `port_`; the
  // topology may hold more than the config names at first).
  void Up(const std::string& mode, int n) {
    mode_ = mode;
    port_ = mode == "nat" ? 8080 : 80;  // dr and tun cannot rewrite the port
    topo_.emplace(TOPOLOGY_SCRIPT,
                  "lbdq-" + std::to_string(getpid()) + "-" + mode.substr(0, 1) + "-", mode, n,
                  dir_.path(), 5000ms);
    ASSERT_TRUE(topo_->ok()) << "topology.sh up failed";
    for (int i = 1; i <= n; ++i) {
      const std::string node = "r" + std::to_string(i);
      http_[i] = Spawn(node,
                       {"python3", std::string(PACKET_TEST_DIR) + "/http_server.py", "--port",
                        std::to_string(port_), "--name", "rs" + std::to_string(i)},
                       "http" + std::to_string(i) + ".log");
      if (mode == "tun") {
        Spawn(node, {LBD_TUNNEL_PATH, "--vip", kVip}, "tunnel" + std::to_string(i) + ".log");
      }
    }
    for (int i = 1; i <= n; ++i) {
      const std::string name = "rs" + std::to_string(i);
      ASSERT_TRUE(WaitFor(
          [&] {
            return Trim(Exec("d", "curl -s --max-time 1 http://" + Server(i, port_) + "/")) == name;
          },
          10000ms))
          << name << " did not start";
      if (mode == "tun") {
        ASSERT_TRUE(WaitFor(
            [&] {
              return Exec("r" + std::to_string(i), "ip addr show dev lbdtun0").find(kVip) !=
                     std::string::npos;
            },
            5000ms))
            << "lbd-tunnel did not come up on r" << i;
      }
    }
  }

  // Stops what the test spawned (latest first) and removes the topology.
  void TearDown() override { topo_.reset(); }

  pid_t Spawn(const std::string& node, const std::vector<std::string>& argv,
              const std::string& log) {
    return topo_->Spawn(node, argv, log);
  }
  // SIGTERM, SIGKILL after 5 s; reaped. The exit code, or -1.
  int Stop(pid_t pid) { return topo_->Stop(pid); }
  std::string Exec(const std::string& node, const std::string& cmd) {
    return topo_->Exec(node, cmd);
  }

  std::string Get(const std::string& path = "/") {
    return Trim(Exec("c", "curl -s --max-time 5 http://" + std::string(kVip) + path));
  }

  RunResult Ctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {LBCTL_PATH, "-s", dir_.File("lbd.sock")};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(dir_, argv, 3000ms);
  }

  Json StatusJson() {
    auto j = JsonParser::Parse(Ctl({"status", "--json"}).out);
    return j ? *j : Json{};
  }

  // The packet section's entry for `server` (null when absent).
  Json PacketServer(const Json& status, const std::string& server) {
    for (const auto& p : status["packet"].array()) {
      for (const auto& s : p["servers"].array()) {
        if (s["address"].str() == server) return s;
      }
    }
    return Json{};
  }

  double SumPacketServers(const Json& status, const std::string& key) {
    double sum = 0;
    for (const auto& p : status["packet"].array()) {
      for (const auto& s : p["servers"].array()) sum += s[key].number();
    }
    return sum;
  }

  bool ServerUp(const Json& status, const std::string& server) {
    for (const auto& s : status["services"].array()) {
      for (const auto& rs : s["servers"].array()) {
        if (rs["address"].str() == server) return rs["up"].boolean();
      }
    }
    return false;
  }

  // Real servers 1..n of the topology, in that order.
  std::string Servers(const std::vector<int>& which) {
    std::string out;
    for (int i : which) out += "      - {address: " + Server(i, port_) + "}\n";
    return out;
  }

  std::string Config(const std::string& servers, const std::string& mode = "") {
    return "global:\n  workers: 2\n  control_socket: " + dir_.File("lbd.sock") +
           "\n  metrics_listen: 127.0.0.1:9109\n  drain_timeout: 2s\nvirtual_services:\n"
           "  - name: web\n    listen: " +
           std::string(kVip) +
           ":80\n    scheduler: rr\n    forwarding: " + (mode.empty() ? mode_ : mode) +
           "\n    healthcheck: {type: tcp, interval: 300ms, timeout: 1s, rise: 1, fall: 2}\n"
           "    real_servers:\n" +
           servers;
  }

  pid_t StartLbd() {
    const pid_t lbd = Spawn("d", {LBD_PATH, "-c", dir_.File("lbd.yaml")}, "lbd.log");
    EXPECT_TRUE(WaitFor([&] { return Ctl({"status"}).exit_code == 0; }, 10000ms))
        << ReadFile(dir_.File("lbd.log"));
    return lbd;
  }

  // SIGTERM: exit 0, the route, rules and device gone.
  void StopLbdAndCheckCleanup(pid_t lbd) {
    EXPECT_EQ(Stop(lbd), 0) << ReadFile(dir_.File("lbd.log"));
    EXPECT_EQ(Exec("d", "ip route show " + std::string(kVip)), "");
    EXPECT_EQ(Exec("d", "ip rule show | grep 10.201.0"), "");
    EXPECT_EQ(Exec("d", "ip -o link show | grep -o \" lbd[0-9]*:\""), "");
  }

  // dr and tun: every server in rr order, 50 MiB intact with the replies
  // bypassing the director, flows listed, a killed server taken out.
  void DirectReturn(const std::string& mode) {
    ASSERT_NO_FATAL_FAILURE(Up(mode, 3));
    dir_.Write("lbd.yaml", Config(Servers({1, 2})));
    const pid_t lbd = StartLbd();
    // rs3 joins by a reload (dr: its MAC, tun: its route, found live).
    dir_.Write("lbd.yaml", Config(Servers({1, 2, 3})));
    ASSERT_EQ(Ctl({"reload"}).exit_code, 0) << ReadFile(dir_.File("lbd.log"));

    std::vector<std::string> names;
    for (int i = 0; i < 6; ++i) names.push_back(Get());
    EXPECT_EQ(std::set<std::string>(names.begin(), names.begin() + 3),
              (std::set<std::string>{"rs1", "rs2", "rs3"}));
    for (int i = 3; i < 6; ++i) EXPECT_EQ(names[i], names[i - 3]) << i;

    RunResult status = Ctl({"status"});
    EXPECT_NE(status.out.find(std::string("  -> ") + Server(1, 80)), std::string::npos);
    EXPECT_NE(status.out.find(mode == "dr" ? " Route   1 " : " Tunnel  1 "), std::string::npos)
        << status.out;
    EXPECT_NE(status.out.find("PACKET web " + Server(1, 80) + " active 0 inactive "),
              std::string::npos)
        << status.out;

    // 50 MiB through the VIP; the director sees only the client's ACKs.
    std::string want;
    ASSERT_EQ(
        Shell("python3 " + std::string(PACKET_TEST_DIR) + "/http_server.py --print-big-sha", &want),
        0);
    const std::string rx = "cat /sys/class/net/eth0/statistics/rx_bytes";
    const uint64_t rx_before = std::stoull(Exec("d", rx));
    const std::string got = Exec(
        "c", "curl -s --max-time 30 http://" + std::string(kVip) + "/big | sha256sum | cut -c1-64");
    const uint64_t rx_after = std::stoull(Exec("d", rx));
    EXPECT_EQ(Trim(got), Trim(want));
    EXPECT_LT(rx_after - rx_before, 8u << 20) << "the director received the reply traffic";
    Json j = StatusJson();
    EXPECT_EQ(SumPacketServers(j, "packets_out"), 0);
    EXPECT_EQ(SumPacketServers(j, "bytes_out"), 0);
    EXPECT_EQ(SumPacketServers(j, "flows"), 7);
    EXPECT_GT(SumPacketServers(j, "packets_in"), 7 * 3);
    EXPECT_GT(SumPacketServers(j, "bytes_in"), 7 * 3 * 40);

    // The flow table like ipvsadm -Lnc: the 7 connections linger (TIME_WAIT...).
    RunResult flows = Ctl({"flows", "web"});
    EXPECT_EQ(flows.exit_code, 0) << flows.err;
    EXPECT_EQ(flows.out.rfind("IPVS connection entries\npro expire state       source", 0), 0u)
        << flows.out;
    size_t lines = 0;
    for (size_t p = flows.out.find("\nTCP "); p != std::string::npos;
         p = flows.out.find("\nTCP ", p + 1)) {
      ++lines;
    }
    EXPECT_EQ(lines, 7u) << flows.out;
    EXPECT_NE(flows.out.find(" 10.201.1.10:"), std::string::npos) << flows.out;
    EXPECT_NE(flows.out.find(std::string(" ") + kVip + ":80 "), std::string::npos) << flows.out;
    RunResult two = Ctl({"flows", "--max", "2"});
    EXPECT_NE(two.out.find("(5 more flows not listed; --max 2)\n"), std::string::npos) << two.out;
    // Made part by part as lbctl reads (FlowsWriter): the same JSON document.
    auto fj = JsonParser::Parse(Ctl({"flows", "--json", "--max", "100000"}).out);
    ASSERT_TRUE(fj.has_value());
    EXPECT_EQ((*fj)["flows"].array().size(), 7u);
    EXPECT_EQ((*fj)["listed"].number(), 7);
    RunResult over = Ctl({"flows", "--max", "100001"});  // lbctl checks it first: usage error
    EXPECT_EQ(over.exit_code, 2);
    EXPECT_NE(over.err.find("bad --max '100001': expected 1..100000"), std::string::npos)
        << over.err;

    // rs1's process dies: the health check takes it out.
    Stop(http_[1]);
    ASSERT_TRUE(WaitFor([&] { return !ServerUp(StatusJson(), Server(1, 80)); }, 5000ms))
        << Ctl({"status"}).out;
    std::set<std::string> seen;
    for (int i = 0; i < 6; ++i) seen.insert(Get());
    EXPECT_EQ(seen, (std::set<std::string>{"rs2", "rs3"}));

    // rs2 leaves by a reload: no new flows to it.
    dir_.Write("lbd.yaml", Config(Servers({1, 3})));
    ASSERT_EQ(Ctl({"reload"}).exit_code, 0);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(Get(), "rs3") << i;
    EXPECT_TRUE(PacketServer(StatusJson(), Server(2, 80))["address"].str().empty());

    StopLbdAndCheckCleanup(lbd);
  }

  TempDir dir_;
  std::string mode_;
  int port_ = 0;
  std::optional<netns::ScriptTopology> topo_;
  std::map<int, pid_t> http_;
};

TEST_F(PacketDaemon, NatServiceIsForwardedShownAndRemovedAtExit) {
  ASSERT_NO_FATAL_FAILURE(Up("nat", 3));
  dir_.Write("lbd.yaml", Config(Servers({1, 2, 3})));
  const pid_t lbd = StartLbd();

  // Round robin through the director's tun, replies back through it.
  std::map<std::string, int> seen;
  for (int i = 0; i < 6; ++i) seen[Get()]++;
  EXPECT_EQ(seen["rs1"], 2);
  EXPECT_EQ(seen["rs2"], 2);
  EXPECT_EQ(seen["rs3"], 2);

  RunResult status = Ctl({"status"});
  ASSERT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("TCP  10.201.100.1:80 rr (web)\n"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("  -> 10.201.0.11:8080             Masq    1 "), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("PACKET web lbd0 flows "), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("PACKET web 10.201.0.11:8080 active 0 inactive "), std::string::npos)
      << status.out;
  RunResult stats = Ctl({"stats"});
  EXPECT_NE(stats.out.find("PACKET web drops too_short 0 "), std::string::npos) << stats.out;
  Json j = StatusJson();
  const auto& packet = j["packet"].array();
  ASSERT_EQ(packet.size(), 1u);
  EXPECT_EQ(packet[0]["name"].str(), "web");
  EXPECT_EQ(packet[0]["tun"].str(), "lbd0");
  EXPECT_GE(packet[0]["flows"].number(), 6);  // closed flows linger (TIME_WAIT)
  EXPECT_GE(packet[0]["packets_forwarded"].number(), 6 * 5);
  EXPECT_EQ(packet[0]["drops_by_kind"]["no_flow"].number(), 0);
  const Json rs1 = PacketServer(j, Server(1, 8080));
  EXPECT_EQ(rs1["flows"].number(), 2);
  EXPECT_GE(rs1["packets_in"].number(), 2 * 3);
  EXPECT_GE(rs1["packets_out"].number(), 2 * 3);  // nat: replies through the director
  EXPECT_GT(rs1["bytes_out"].number(), rs1["bytes_in"].number() / 2);
  EXPECT_EQ(rs1["active"].number() + rs1["inactive"].number(), 2);

  // Flows: text, json, a bounded listing; bad arguments are errors.
  auto fj = JsonParser::Parse(Ctl({"flows", "--json"}).out);
  ASSERT_TRUE(fj.has_value());
  EXPECT_EQ((*fj)["flows"].array().size(), 6u);
  EXPECT_EQ((*fj)["total"].number(), 6);
  EXPECT_EQ((*fj)["flows"].array()[0]["protocol"].str(), "TCP");
  EXPECT_EQ((*fj)["flows"].array()[0]["virtual"].str(), "10.201.100.1:80");
  RunResult one = Ctl({"flows", "web", "--max", "1"});
  EXPECT_EQ(one.exit_code, 0);
  EXPECT_NE(one.out.find("(5 more flows not listed; --max 1)\n"), std::string::npos) << one.out;
  EXPECT_EQ(Ctl({"flows", "nosuch"}).exit_code, 1);
  EXPECT_NE(Ctl({"flows", "nosuch"}).err.find("no service 'nosuch'"), std::string::npos);
  EXPECT_EQ(Ctl({"flows", "--max", "0"}).exit_code, 2);

  // Metrics.
  const std::string metrics = Exec("d", "curl -s --max-time 2 http://127.0.0.1:9109/metrics");
  EXPECT_NE(metrics.find("lbd_packet_flows{service=\"web\"} 6\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("lbd_packet_real_server_flows_total{service=\"web\",server=\"10.201.0.11:"
                         "8080\"} 2\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("lbd_packet_drops_total{service=\"web\",reason=\"no_flow\"} 0\n"),
            std::string::npos);

  StopLbdAndCheckCleanup(lbd);
}

// A persistent client stays on its server until a reload removes that
// server; then its next connection goes elsewhere (IPVS: the template's dest
// is no longer available), although the template has not expired.
TEST_F(PacketDaemon, NatPersistentClientLeavesAServerTheReloadRemoved) {
  ASSERT_NO_FATAL_FAILURE(Up("nat", 2));
  auto persistent = [&](const std::vector<int>& which) {
    std::string c = Config(Servers(which));
    const std::string rr = "    scheduler: rr\n";
    c.insert(c.find(rr) + rr.size(), "    persistence: 30s\n");
    return c;
  };
  dir_.Write("lbd.yaml", persistent({1, 2}));
  const pid_t lbd = StartLbd();
  const std::string first = Get();
  ASSERT_TRUE(first == "rs1" || first == "rs2") << first;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Get(), first) << i;
  dir_.Write("lbd.yaml", persistent({first == "rs1" ? 2 : 1}));
  ASSERT_EQ(Ctl({"reload"}).exit_code, 0) << ReadFile(dir_.File("lbd.log"));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Get(), first == "rs1" ? "rs2" : "rs1") << i;
  StopLbdAndCheckCleanup(lbd);
}

TEST_F(PacketDaemon, NatReloadsAddRemoveAndMoveDataPlanes) {
  ASSERT_NO_FATAL_FAILURE(Up("nat", 3));
  dir_.Write("lbd.yaml", Config(Servers({1, 2})));
  const pid_t lbd = StartLbd();
  std::set<std::string> seen;
  for (int i = 0; i < 4; ++i) seen.insert(Get());
  EXPECT_EQ(seen, (std::set<std::string>{"rs1", "rs2"}));

  // A server added: its reply rules appear and it gets its share.
  dir_.Write("lbd.yaml", Config(Servers({1, 2, 3})));
  ASSERT_EQ(Ctl({"reload"}).exit_code, 0) << ReadFile(dir_.File("lbd.log"));
  EXPECT_NE(Exec("d", "ip rule show").find("from 10.201.0.13 ipproto tcp sport 8080"),
            std::string::npos)
      << Exec("d", "ip rule show");
  std::map<std::string, int> counts;
  for (int i = 0; i < 6; ++i) counts[Get()]++;
  EXPECT_EQ(counts["rs1"], 2);
  EXPECT_EQ(counts["rs2"], 2);
  EXPECT_EQ(counts["rs3"], 2);
  EXPECT_EQ(PacketServer(StatusJson(), Server(3, 8080))["flows"].number(), 2);

  // A server removed: no new flows to it; the others keep serving.
  dir_.Write("lbd.yaml", Config(Servers({1, 3})));
  ASSERT_EQ(Ctl({"reload"}).exit_code, 0);
  seen.clear();
  for (int i = 0; i < 4; ++i) seen.insert(Get());
  EXPECT_EQ(seen, (std::set<std::string>{"rs1", "rs3"}));

  // Re-added while its flows linger: its old slot takes new flows again.
  dir_.Write("lbd.yaml", Config(Servers({1, 2, 3})));
  ASSERT_EQ(Ctl({"reload"}).exit_code, 0) << ReadFile(dir_.File("lbd.log"));
  seen.clear();
  for (int i = 0; i < 6; ++i) seen.insert(Get());
  EXPECT_EQ(seen, (std::set<std::string>{"rs1", "rs2", "rs3"}));
  EXPECT_NE(Ctl({"status"}).out.find("PACKET web " + Server(2, 8080) + " active "),
            std::string::npos)
      << Ctl({"status"}).out;
  dir_.Write("lbd.yaml", Config(Servers({1, 3})));
  ASSERT_EQ(Ctl({"reload"}).exit_code, 0);

  // A second packet service added, then removed: its device and route come
  // and go. (Its server is another port: one address:port in two nat
  // services at once is not supported, and rs2:8080's rules stay while its
  // flows linger.)
  Spawn("r2",
        {"python3", std::string(PACKET_TEST_DIR) + "/http_server.py", "--port", "8081", "--name",
         "rs2b"},
        "http2b.log");
  ASSERT_TRUE(WaitFor(
      [&] { return Trim(Exec("d", "curl -s --max-time 1 http://10.201.0.12:8081/")) == "rs2b"; },
      10000ms));
  const std::string web2 =
      "  - name: web2\n    listen: 10.201.100.3:80\n    scheduler: rr\n    forwarding: nat\n"
      "    real_servers:\n      - {address: 10.201.0.12:8081}\n";
  // With a proxy service beside them: `flows` lists the packet services only.
  const std::string proxy =
      "  - name: px\n    listen: 127.0.0.1:18080\n    real_servers:\n"
      "      - {address: 127.0.0.1:18081}\n";
  dir_.Write("lbd.yaml", Config(Servers({1, 3})) + web2 + proxy);
  ASSERT_EQ(Ctl({"reload"}).exit_code, 0) << ReadFile(dir_.File("lbd.log"));
  EXPECT_EQ(Ctl({"flows"}).exit_code, 0) << Ctl({"flows"}).err;
  EXPECT_NE(Ctl({"flows", "px"}).err.find("flows are listed for nat, dr and tun"),
            std::string::npos);
  EXPECT_EQ(Trim(Exec("c", "curl -s --max-time 5 http://10.201.100.3/")), "rs2b");
  EXPECT_NE(Ctl({"status"}).out.find("PACKET web2 lbd1 flows 1 "), std::string::npos)
      << Ctl({"status"}).out;
  dir_.Write("lbd.yaml", Config(Servers({1, 3})));
  ASSERT_EQ(Ctl({"reload"}).exit_code, 0);
  EXPECT_EQ(Exec("d", "ip route show 10.201.100.3"), "");
  EXPECT_EQ(Exec("d", "ip -o link show lbd1"), "");

  // The VIP moves: a new data plane (warning: flows reset), the old one gone.
  std::string moved = Config(Servers({1, 3}));
  moved.replace(moved.find(kVip), std::string(kVip).size(), "10.201.100.2");
  dir_.Write("lbd.yaml", moved);
  ASSERT_EQ(Ctl({"reload"}).exit_code, 0) << ReadFile(dir_.File("lbd.log"));
  EXPECT_NE(ReadFile(dir_.File("lbd.log")).find("flows of lbd0 reset"), std::string::npos);
  EXPECT_EQ(Exec("d", "ip route show " + std::string(kVip)), "");
  seen.clear();
  for (int i = 0; i < 4; ++i) {
    seen.insert(Trim(Exec("c", "curl -s --max-time 5 http://10.201.100.2/")));
  }
  EXPECT_EQ(seen, (std::set<std::string>{"rs1", "rs3"}));

  // A data plane that cannot be set up (dr toward a server behind a
  // gateway) refuses the reload; the running one stays.
  const std::string bad =
      "  - name: web3\n    listen: 10.201.100.4:80\n    scheduler: rr\n    forwarding: dr\n"
      "    real_servers:\n      - {address: 10.202.0.1:80}\n";
  dir_.Write("lbd.yaml", moved + bad);
  (void)Exec("d", "ip route add 10.202.0.0/24 via 10.201.0.11");
  RunResult refused = Ctl({"reload"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("not on a directly connected network"), std::string::npos)
      << refused.err;
  EXPECT_EQ(Exec("d", "ip route show 10.201.100.4"), "");
  EXPECT_EQ(Trim(Exec("c", "curl -s --max-time 5 http://10.201.100.2/")).substr(0, 2), "rs");

  // Same VIP, other forwarding (and servers): the data plane is replaced in place.
  std::string tun = moved;
  tun.replace(tun.find("forwarding: nat"), 15, "forwarding: tun");
  for (size_t p = tun.find(":8080}"); p != std::string::npos; p = tun.find(":8080}")) {
    tun.replace(p, 6, ":80}");  // tun cannot change the port
  }
  dir_.Write("lbd.yaml", tun);
  ASSERT_EQ(Ctl({"reload"}).exit_code, 0) << ReadFile(dir_.File("lbd.log"));
  EXPECT_NE(ReadFile(dir_.File("lbd.log")).find("forwarding changed: data plane lbd1 recreated"),
            std::string::npos)
      << ReadFile(dir_.File("lbd.log"));
  EXPECT_NE(Exec("d", "ip route show 10.201.100.2").find("dev lbd1"), std::string::npos);
  EXPECT_NE(Ctl({"status"}).out.find(" Tunnel  1 "), std::string::npos) << Ctl({"status"}).out;
  EXPECT_EQ(Exec("d", "ip rule show | grep 10.201.0"), "");  // nat's rules went with it

  StopLbdAndCheckCleanup(lbd);
  EXPECT_EQ(Exec("d", "ip route show 10.201.100.2"), "");
}

TEST_F(PacketDaemon, DrServiceServesInOrderAndRepliesBypassTheDirector) { DirectReturn("dr"); }

TEST_F(PacketDaemon, TunServiceServesInOrderAndRepliesBypassTheDirector) { DirectReturn("tun"); }

}  // namespace
}  // namespace lbtest
