// Integration tests of lbd-packet in nat, dr and tun modes: a client, a
// director and three real servers in their own network namespaces (built by
// tests/netns/topology.sh, names prefixed lbdp-<pid>-), python HTTP servers
// (tests/lb/packet/http_server.py) and, for tun, lbd-tunnel on each real server.
// Everything is removed at the end of each test, also when it fails.
// Needs CAP_NET_ADMIN (skipped otherwise), python3 and curl.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "netns.h"
#include "skip.h"

namespace {

using namespace std::chrono_literals;

constexpr char kVip[] = "10.201.100.1";
constexpr int kServers = 3;

bool HasNetAdmin() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      const unsigned long long caps = std::stoull(line.substr(7), nullptr, 16);
      return (caps >> 12) & 1;  // CAP_NET_ADMIN
    }
  }
  return false;
}

using netns::Shell;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  return netns::WaitFor(cond, limit, 50ms);
}

std::string Prefix(const std::string& mode) {
  return "lbdp-" + std::to_string(getpid()) + "-" + mode.substr(0, 1) + "-";
}

// A folder for the logs; removed after the topology (a base constructed first).
struct LogDir {
  explicit LogDir(std::string p) : path(std::move(p)) { mkdir(path.c_str(), 0700); }
  ~LogDir() { (void)Shell("rm -rf " + path); }
  std::string path;
};

// The namespaces (netns::ScriptTopology), the processes started in them, and
// their removal; then the log folder's.
class Topology : private LogDir, public netns::ScriptTopology {
 public:
  explicit Topology(const std::string& mode)
      : LogDir("/tmp/" + Prefix(mode) + "files"),
        ScriptTopology(TOPOLOGY_SCRIPT, Prefix(mode), mode, kServers, LogDir::path, 3000ms) {}

  const std::string& dir() const { return LogDir::path; }
};

class PacketModeTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    LBD_SKIP_UNLESS(HasNetAdmin(), "needs CAP_NET_ADMIN (run as root) for namespaces");
    mode_ = GetParam();
    port_ = mode_ == "nat" ? 8080 : 80;  // dr and tun cannot rewrite the port
    topo_ = std::make_unique<Topology>(mode_);
    ASSERT_TRUE(topo_->ok()) << "topology.sh up failed";
    for (int i = 1; i <= kServers; ++i) {
      server_pids_[i] =
          topo_->Spawn("r" + std::to_string(i),
                       {"python3", std::string(PACKET_TEST_DIR) + "/http_server.py", "--port",
                        std::to_string(port_), "--name", "rs" + std::to_string(i)},
                       "http" + std::to_string(i) + ".log");
      if (mode_ == "tun") {
        topo_->Spawn("r" + std::to_string(i), {LBD_TUNNEL_PATH, "--vip", kVip},
                     "tunnel" + std::to_string(i) + ".log");
      }
    }
    if (mode_ == "tun") {
      for (int i = 1; i <= kServers; ++i) {
        ASSERT_TRUE(WaitFor(
            [&] {
              return topo_->Exec("r" + std::to_string(i), "ip addr show dev lbdtun0").find(kVip) !=
                     std::string::npos;
            },
            5s))
            << "lbd-tunnel did not come up on r" << i;
      }
    }
    // The servers answer (from the director, straight to their addresses).
    for (int i = 1; i <= kServers; ++i) {
      const std::string name = "rs" + std::to_string(i);
      ASSERT_TRUE(WaitFor(
          [&] {
            return Trim(topo_->Exec("d", "curl -s --max-time 1 http://10.201.0.1" +
                                             std::to_string(i) + ":" + std::to_string(port_) +
                                             "/")) == name;
          },
          10s))
          << name << " did not start: " << Log("http" + std::to_string(i) + ".log");
    }
    stats_ = topo_->dir() + "/stats";
    const std::string conf = topo_->dir() + "/lbd.yaml";
    std::ofstream(conf) << "global:\n  workers: 2\nvirtual_services:\n  - name: web\n"
                        << "    listen: " << kVip << ":80\n    scheduler: rr\n"
                        << "    forwarding: " << mode_ << "\n"
                        << "    healthcheck: {type: tcp, interval: 300ms, timeout: 1s, "
                           "rise: 1, fall: 2}\n"
                        << "    real_servers:\n"
                        << "      - {address: 10.201.0.11:" << port_ << "}\n"
                        << "      - {address: 10.201.0.12:" << port_ << "}\n"
                        << "      - {address: 10.201.0.13:" << port_ << "}\n";
    StartLbd({});
  }

  // Starts lbd-packet with `extra` arguments; returns when its stats file
  // shows every server up.
  void StartLbd(const std::vector<std::string>& extra, const std::string& conf = "lbd.yaml") {
    unlink(stats_.c_str());
    std::vector<std::string> argv = {LBD_PACKET_PATH, "-c", topo_->dir() + "/" + conf, "--stats",
                                     stats_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    lbd_pid_ = topo_->Spawn("d", argv, "lbd.log");
    // Up when every server passed its health check.
    ASSERT_TRUE(WaitFor(
        [&] {
          const std::string s = Stats();
          size_t up = 0;
          for (size_t p = s.find(" up 1 "); p != std::string::npos; p = s.find(" up 1 ", p + 1)) {
            ++up;
          }
          return up == kServers;
        },
        10s))
        << "lbd-packet did not come up: " << Log("lbd.log");
  }

  void TearDown() override {
    if (topo_ == nullptr || lbd_pid_ <= 0) return;
    // lbd-packet exits cleanly at SIGTERM (no sanitizer report) and removes
    // its route and rules.
    EXPECT_EQ(topo_->Stop(lbd_pid_), 0) << Log("lbd.log");
    EXPECT_EQ(topo_->Exec("d", "ip route show " + std::string(kVip)), "");
    EXPECT_EQ(topo_->Exec("d", "ip rule show | grep 10.201.0"), "");
    EXPECT_EQ(topo_->Exec("d", "ip link show lbd0"), "");
  }

  std::string Log(const std::string& name) {
    std::ifstream in(topo_->dir() + "/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string Stats() {
    std::ifstream in(stats_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // A fresh snapshot (SIGUSR1, then a newer generation).
  std::map<std::string, uint64_t> Counters() {
    auto generation = [&] {
      std::string s = Stats();
      size_t p = s.rfind("generation ");
      return p == std::string::npos ? 0ULL : std::stoull(s.substr(p + 11));
    };
    const uint64_t before = generation();
    kill(lbd_pid_, SIGUSR1);
    WaitFor([&] { return generation() > before; }, 3s);
    std::map<std::string, uint64_t> out;
    std::istringstream in(Stats());
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string key;
      ls >> key;
      if (key == "server") {
        std::string addr, name;
        uint64_t value;
        ls >> addr;
        while (ls >> name >> value) out[addr + "." + name] = value;
      } else if (key != "service" && key != "flow") {
        uint64_t value = 0;
        ls >> value;
        out[key] = value;
      } else if (key == "flow") {
        out["flow_lines"]++;
      }
    }
    return out;
  }

  std::string Get(const std::string& path) {
    return Trim(topo_->Exec("c", "curl -s --max-time 5 http://" + std::string(kVip) + path));
  }

  uint64_t SumOut(const std::map<std::string, uint64_t>& c, const std::string& what) {
    uint64_t sum = 0;
    for (int i = 1; i <= kServers; ++i) {
      auto it = c.find("10.201.0.1" + std::to_string(i) + ":" + std::to_string(port_) + "." + what);
      if (it != c.end()) sum += it->second;
    }
    return sum;
  }

  std::string mode_;
  int port_ = 0;
  std::unique_ptr<Topology> topo_;
  std::map<int, pid_t> server_pids_;
  pid_t lbd_pid_ = -1;
  std::string stats_;
};

TEST_P(PacketModeTest, ServesInRoundRobinOrder) {
  std::vector<std::string> names;
  for (int i = 0; i < 2 * kServers; ++i) names.push_back(Get("/"));
  std::set<std::string> first(names.begin(), names.begin() + kServers);
  EXPECT_EQ(first, (std::set<std::string>{"rs1", "rs2", "rs3"}));
  for (int i = kServers; i < 2 * kServers; ++i) EXPECT_EQ(names[i], names[i - kServers]) << i;
  auto c = Counters();
  EXPECT_EQ(SumOut(c, "flows"), 2u * kServers);
  EXPECT_GE(c["flow_lines"], 2u * kServers);  // the connections linger in TIME_WAIT
}

TEST_P(PacketModeTest, UdpFlowsAreScheduledAndAnswered) {
  // Three datagrams from three source ports: three flows, one per server (rr).
  const std::string out = topo_->Exec(
      "c", "python3 " + std::string(PACKET_TEST_DIR) + "/udp_probe.py " + kVip + " 80 3");
  std::istringstream in(out);
  std::set<std::string> names;
  std::string line;
  while (std::getline(in, line)) names.insert(line);
  EXPECT_EQ(names, (std::set<std::string>{"rs1", "rs2", "rs3"})) << out;
  auto c = Counters();
  EXPECT_EQ(SumOut(c, "flows"), 3u);
  EXPECT_EQ(SumOut(c, "packets_out"), mode_ == "nat" ? 3u : 0u);
}

TEST_P(PacketModeTest, EstablishedConnectionsCountAsActive) {
  const std::string script = "import socket,time\ns=socket.create_connection(('" +
                             std::string(kVip) + "',80))\ntime.sleep(2.5)\n";
  topo_->Spawn("c", {"python3", "-c", script}, "hold.log");
  EXPECT_TRUE(WaitFor([&] { return SumOut(Counters(), "active") == 1; }, 2s));
  // The client closes: FIN_WAIT (dr/tun) or CLOSE_WAIT (nat), inactive.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto c = Counters();
        return SumOut(c, "active") == 0 && SumOut(c, "inactive") == 1;
      },
      5s));
}

TEST_P(PacketModeTest, LargeTransfersArriveIntact) {
  std::string want;
  ASSERT_EQ(
      Shell("python3 " + std::string(PACKET_TEST_DIR) + "/http_server.py --print-big-sha", &want),
      0);
  const std::string rx = "cat /sys/class/net/eth0/statistics/rx_bytes";
  const uint64_t rx_before = std::stoull(topo_->Exec("d", rx));
  const std::string got = topo_->Exec(
      "c", "curl -s --max-time 30 http://" + std::string(kVip) + "/big | sha256sum | cut -c1-64");
  const uint64_t rx_after = std::stoull(topo_->Exec("d", rx));
  EXPECT_EQ(Trim(got), Trim(want));
  auto c = Counters();
  if (mode_ == "nat") {
    EXPECT_GE(SumOut(c, "bytes_out"), 50u << 20);
  } else {
    // Replies go straight to the client: the director sees only the ACKs.
    EXPECT_EQ(SumOut(c, "packets_out"), 0u);
    EXPECT_LT(rx_after - rx_before, 8u << 20) << "director received the reply traffic";
  }
  // Upload 8 MB: full-size segments; in tun mode they do not fit with the
  // outer header and the client learns the path MTU from our ICMP.
  const std::string up =
      topo_->Exec("c", "head -c 8000000 /dev/urandom > /tmp/" + std::to_string(getpid()) + mode_ +
                           ".up && sha256sum < /tmp/" + std::to_string(getpid()) + mode_ +
                           ".up | cut -c1-64 && curl -s --max-time 30 --data-binary @/tmp/" +
                           std::to_string(getpid()) + mode_ + ".up http://" + std::string(kVip) +
                           "/; rm -f /tmp/" + std::to_string(getpid()) + mode_ + ".up");
  std::istringstream lines(up);
  std::string local, remote;
  std::getline(lines, local);
  std::getline(lines, remote);
  EXPECT_EQ(local.size(), 64u);
  EXPECT_EQ(local, remote);
  if (mode_ == "tun") {
    EXPECT_GT(Counters()["drop.too_big"], 0u);
  }
}

TEST_P(PacketModeTest, MalformedPacketsAreDroppedAndCounted) {
  ASSERT_EQ(Get("/").substr(0, 2), "rs");
  topo_->Exec("c", "python3 " + std::string(PACKET_TEST_DIR) + "/inject.py " + kVip + " 80");
  std::map<std::string, uint64_t> c;
  EXPECT_TRUE(WaitFor(
      [&] {
        c = Counters();
        return c["drop.fragment"] >= 2 && c["drop.truncated_l4"] >= 2 && c["drop.no_flow"] >= 1 &&
               c["drop.unsupported_protocol"] >= 1 && c["drop.not_service"] >= 1;
      },
      5s));
  EXPECT_GE(c["drop.fragment"], 2u);
  EXPECT_GE(c["drop.truncated_l4"], 2u);
  EXPECT_GE(c["drop.no_flow"], 1u);
  EXPECT_GE(c["drop.unsupported_protocol"], 1u);
  EXPECT_GE(c["drop.not_service"], 1u);
  // Still serving.
  EXPECT_EQ(Get("/").substr(0, 2), "rs");
}

TEST_P(PacketModeTest, FullFlowTableRefusesNewFlowsAndCountsThem) {
  ASSERT_EQ(topo_->Stop(lbd_pid_), 0);
  // Two forwarding threads (workers: 2) with room for one flow each.
  ASSERT_NO_FATAL_FAILURE(StartLbd({"--max-flows", "1"}));
  const std::string script =
      "import socket\nheld = []\nfor i in range(4):\n try:\n  held.append("
      "socket.create_connection(('" +
      std::string(kVip) + "', 80), timeout=0.5))\n except OSError:\n  pass\nprint(len(held))\n";
  std::ofstream(topo_->dir() + "/hold4.py") << script;
  const std::string held = Trim(topo_->Exec("c", "python3 " + topo_->dir() + "/hold4.py"));
  EXPECT_TRUE(held == "1" || held == "2") << held;
  auto c = Counters();
  EXPECT_GE(c["drop.table_full"], 1u);
  EXPECT_LE(c["flows"], 2u);
}

TEST_P(PacketModeTest, PersistenceKeepsAClientOnItsServer) {
  ASSERT_EQ(topo_->Stop(lbd_pid_), 0);
  {
    std::ifstream in(topo_->dir() + "/lbd.yaml");
    std::stringstream conf;
    conf << in.rdbuf() << "    persistence: 30s\n";
    std::ofstream(topo_->dir() + "/persist.yaml") << conf.str();
  }
  ASSERT_NO_FATAL_FAILURE(StartLbd({}, "persist.yaml"));
  const std::string first = Get("/");
  ASSERT_EQ(first.substr(0, 2), "rs");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Get("/"), first) << i;
  auto c = Counters();
  EXPECT_EQ(SumOut(c, "flows"), 6u);
}

TEST_P(PacketModeTest, DeadServerIsTakenOutByHealthCheck) {
  topo_->Stop(server_pids_[1]);
  const std::string key = "10.201.0.11:" + std::to_string(port_) + ".up";
  ASSERT_TRUE(WaitFor([&] { return Counters()[key] == 0; }, 5s)) << Log("lbd.log");
  std::set<std::string> seen;
  for (int i = 0; i < 6; ++i) seen.insert(Get("/"));
  EXPECT_EQ(seen, (std::set<std::string>{"rs2", "rs3"}));
}

INSTANTIATE_TEST_SUITE_P(Modes, PacketModeTest, ::testing::Values("nat", "dr", "tun"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
