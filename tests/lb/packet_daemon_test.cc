// lbd (not lbd-packet) serving one `forwarding: nat` service in the packet
// tests' topology (tests/netns/topology.sh: client | director | three real
// servers, all in namespaces named lbdq-<pid>-n-*), with python http servers
// (tests/packet/http_server.py) as real servers.
//
// Every process is started by this test and stopped by its PID; the topology
// is removed by `topology.sh down` in a destructor. Needs root; skipped
// otherwise.
#include <gtest/gtest.h>

#include <cstdio>

#include "lb_test_util.h"
#include "lbd_process.h"

namespace lbtest {
namespace {

constexpr char kVip[] = "10.201.100.1";

int Shell(const std::string& cmd, std::string* out = nullptr) {
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  const int st = pclose(f);
  if (out != nullptr) *out = text;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

class PacketDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, tun)";
    prefix_ = "lbdq-" + std::to_string(getpid()) + "-n-";
    up_ = Shell(std::string(TOPOLOGY_SCRIPT) + " up " + prefix_ + " nat 3 2>&1") == 0;
    ASSERT_TRUE(up_) << "topology.sh up failed";
    for (int i = 1; i <= 3; ++i) {
      Spawn("r" + std::to_string(i),
            {"python3", std::string(PACKET_TEST_DIR) + "/http_server.py", "--port", "8080",
             "--name", "rs" + std::to_string(i)},
            "http" + std::to_string(i) + ".log");
    }
    for (int i = 1; i <= 3; ++i) {
      const std::string name = "rs" + std::to_string(i);
      ASSERT_TRUE(WaitFor(
          [&] {
            return Trim(Exec("d", "curl -s --max-time 1 http://10.201.0.1" + std::to_string(i) +
                                      ":8080/")) == name;
          },
          10000ms))
          << name << " did not start";
    }
  }

  void TearDown() override {
    for (auto it = pids_.rbegin(); it != pids_.rend(); ++it) Stop(*it);
    if (up_) (void)Shell(std::string(TOPOLOGY_SCRIPT) + " down " + prefix_);
  }

  pid_t Spawn(const std::string& node, const std::vector<std::string>& argv,
              const std::string& log) {
    std::vector<std::string> full = {"ip", "netns", "exec", prefix_ + node};
    full.insert(full.end(), argv.begin(), argv.end());
    const std::string log_path = dir_.File(log);
    const pid_t pid = fork();
    if (pid == 0) {
      const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      std::vector<char*> args;
      for (auto& a : full) args.push_back(a.data());
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    if (pid > 0) pids_.push_back(pid);
    return pid;
  }

  // SIGTERM, SIGKILL after 5 s; reaped. The exit code, or -1.
  int Stop(pid_t pid) {
    if (pid <= 0) return -1;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    kill(pid, SIGTERM);
    if (WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 5000ms)) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
  }

  std::string Exec(const std::string& node, const std::string& cmd) {
    std::string out;
    (void)Shell("ip netns exec " + prefix_ + node + " sh -c '" + cmd + "' 2>/dev/null", &out);
    return out;
  }

  RunResult Ctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {LBCTL_PATH, "-s", dir_.File("lbd.sock")};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(dir_, argv, 3000ms);
  }

  std::string Config(const std::string& servers) {
    return "global:\n  workers: 2\n  control_socket: " + dir_.File("lbd.sock") +
           "\n  drain_timeout: 2s\nvirtual_services:\n  - name: web\n    listen: " +
           std::string(kVip) +
           ":80\n    scheduler: rr\n    forwarding: nat\n"
           "    healthcheck: {type: tcp, interval: 300ms, timeout: 1s, rise: 1, fall: 2}\n"
           "    real_servers:\n" +
           servers;
  }

  TempDir dir_;
  std::string prefix_;
  bool up_ = false;
  std::vector<pid_t> pids_;
};

TEST_F(PacketDaemon, NatServiceIsForwardedShownAndRemovedAtExit) {
  const std::string servers =
      "      - {address: 10.201.0.11:8080}\n"
      "      - {address: 10.201.0.12:8080}\n"
      "      - {address: 10.201.0.13:8080}\n";
  dir_.Write("lbd.yaml", Config(servers));
  const pid_t lbd = Spawn("d", {LBD_PATH, "-c", dir_.File("lbd.yaml")}, "lbd.log");
  ASSERT_TRUE(WaitFor([&] { return Ctl({"status"}).exit_code == 0; }, 10000ms))
      << ReadFile(dir_.File("lbd.log"));

  // Round robin through the director's tun, replies back through it.
  std::map<std::string, int> seen;
  for (int i = 0; i < 6; ++i) {
    seen[Trim(Exec("c", "curl -s --max-time 5 http://" + std::string(kVip) + "/"))]++;
  }
  EXPECT_EQ(seen["rs1"], 2);
  EXPECT_EQ(seen["rs2"], 2);
  EXPECT_EQ(seen["rs3"], 2);

  RunResult status = Ctl({"status"});
  ASSERT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("TCP  10.201.100.1:80 rr (web)\n"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("  -> 10.201.0.11:8080             Masq    1 "), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("PACKET web lbd0 flows "), std::string::npos) << status.out;
  auto j = JsonParser::Parse(Ctl({"status", "--json"}).out);
  ASSERT_TRUE(j.has_value());
  const auto& packet = (*j)["packet"].array();
  ASSERT_EQ(packet.size(), 1u);
  EXPECT_EQ(packet[0]["name"].str(), "web");
  EXPECT_EQ(packet[0]["tun"].str(), "lbd0");
  EXPECT_GE(packet[0]["flows"].number(), 6);  // closed flows linger (TIME_WAIT)
  EXPECT_GE(packet[0]["packets_forwarded"].number(), 6 * 5);

  // Another set of real servers is for a restart: the reload is refused.
  dir_.Write("lbd.yaml", Config("      - {address: 10.201.0.11:8080}\n"));
  RunResult reload = Ctl({"reload"});
  EXPECT_EQ(reload.exit_code, 1);
  EXPECT_NE((reload.out + reload.err).find("at restart only"), std::string::npos)
      << reload.out << reload.err;
  EXPECT_EQ(Trim(Exec("c", "curl -s --max-time 5 http://" + std::string(kVip) + "/")), "rs1");

  // SIGTERM: exit 0, the route, rules and device gone.
  EXPECT_EQ(Stop(lbd), 0) << ReadFile(dir_.File("lbd.log"));
  EXPECT_EQ(Exec("d", "ip route show " + std::string(kVip)), "");
  EXPECT_EQ(Exec("d", "ip rule show | grep 10.201.0"), "");
  EXPECT_EQ(Exec("d", "ip link show lbd0"), "");
}

}  // namespace
}  // namespace lbtest
