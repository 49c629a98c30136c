// Integration tests of lbd's runtime operations: one lbd per control socket
// and per VIP:port, lbctl add-server/remove-server with state that survives
// a restart (global.state_file), `lbctl dump` accepted by `lbd --check`,
// `lbctl plan` (the what-if of a reload, with the hash moves), and lbctl's
// --version and reload output. Real lbd and lbctl on loopback; every wait
// is bounded.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <iostream>
#include <regex>

#include "lb_test_util.h"
#include "lbd_process.h"

namespace lbtest {
namespace {

class OpsTest : public ::testing::Test {
 protected:
  void MakeBackends(int n) {
    for (int i = 0; i < n; ++i) {
      backends_.push_back(std::make_unique<Backend>("b" + std::to_string(i)));
    }
  }
  // Service "web" on vip_ over the first `count` backends (all when -1).
  std::string Config(const std::string& scheduler, int count = -1, const std::string& extra = "",
                     const std::string& global = "") const {
    std::string y =
        "global:\n  workers: 2\n  control_socket: " + dir_.File("lbd.sock") +
        "\n  drain_timeout: 2s\n" + global +
        "virtual_services:\n  - name: web\n    listen: 127.0.0.1:" + std::to_string(vip_) +
        "\n    scheduler: " + scheduler + "\n" + extra + "    real_servers:\n";
    const size_t n = count < 0 ? backends_.size() : static_cast<size_t>(count);
    for (size_t i = 0; i < n; ++i) {
      y += "      - {address: " + backends_[i]->address() + ", weight: 1}\n";
    }
    return y;
  }
  std::string StateGlobal() const { return "  state_file: " + dir_.File("lbd.state") + "\n"; }
  void StartLbd(const std::string& config) {
    lbd_ = std::make_unique<LbdProcess>(dir_, config);
    ASSERT_TRUE(lbd_->Start()) << lbd_->Log();
  }
  std::string Status() const { return lbd_->Ctl({"status"}).out; }
  // The ipvsadm line of `address` in `status`, "" when absent.
  static std::string TableLine(const std::string& status, const std::string& address) {
    std::smatch m;
    std::regex line("  -> " + address + R"( +Proxy[^\n]*)");
    return std::regex_search(status, m, line) ? m.str() : "";
  }
  void TearDown() override {
    if (HasFailure() && lbd_) std::cerr << "--- lbd log ---\n" << lbd_->Log();
    lbd_.reset();
    backends_.clear();
  }

  TempDir dir_;
  uint16_t vip_ = FreePort();
  std::vector<std::unique_ptr<Backend>> backends_;
  std::unique_ptr<LbdProcess> lbd_;
};

TEST_F(OpsTest, ASecondLbdOnTheSameControlSocketExitsNamingTheFirst) {
  MakeBackends(1);
  StartLbd(Config("rr"));
  const std::string pid = std::to_string(lbd_->pid());
  // Another VIP, the same control socket.
  const std::string other = dir_.File("other.yaml");
  std::string cfg = Config("rr");
  cfg.replace(cfg.find(std::to_string(vip_)), std::to_string(vip_).size(),
              std::to_string(FreePort()));
  std::ofstream(other) << cfg;
  RunResult second = RunProgram(dir_, {LBD_PATH, "-c", other});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("pid " + pid), std::string::npos) << second.err;
  // The first one keeps its socket and its traffic.
  EXPECT_EQ(lbd_->Ctl({"status"}).exit_code, 0);
  EXPECT_EQ(AskId(vip_), "b0");

  // A socket left by a killed lbd is dead: the next one replaces it.
  lbd_->Kill();
  struct stat st {};
  ASSERT_EQ(stat(lbd_->socket_path().c_str(), &st), 0);
  ASSERT_TRUE(lbd_->Start()) << lbd_->Log();
  EXPECT_EQ(AskId(vip_), "b0");
  // A clean stop removes its own socket and lock.
  lbd_->Signal(SIGTERM);
  ASSERT_EQ(lbd_->WaitExit(5000ms), 0);
  EXPECT_NE(stat(lbd_->socket_path().c_str(), &st), 0);
  EXPECT_NE(stat((lbd_->socket_path() + ".lock").c_str(), &st), 0);
}

TEST_F(OpsTest, ASecondLbdOnTheSameVipExitsNamingTheFirst) {
  MakeBackends(2);
  StartLbd(Config("rr"));
  const std::string other = dir_.File("other.yaml");
  std::string cfg = Config("rr");
  cfg.replace(cfg.find("lbd.sock"), 8, "other.sock");
  std::ofstream(other) << cfg;
  RunResult second = RunProgram(dir_, {LBD_PATH, "-c", other});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("Address already in use"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("pid " + std::to_string(lbd_->pid())), std::string::npos) << second.err;
  // It opened no listener: every connection still reaches the first, in rr order.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(AskId(vip_), "b" + std::to_string(i % 2));
  struct stat st {};
  EXPECT_NE(stat(dir_.File("other.sock").c_str(), &st), 0);
}

TEST_F(OpsTest, RuntimeChangesSurviveARestartAndDumpIsAValidConfig) {
  MakeBackends(4);
  StartLbd(Config("wrr", 3, "", StateGlobal()));
  const std::string b0 = backends_[0]->address(), b1 = backends_[1]->address(),
                    b2 = backends_[2]->address(), b3 = backends_[3]->address();
  // An established connection to b1 (HOLD keeps it open).
  Fd held;
  for (int i = 0; i < 3 && !held.valid(); ++i) {
    Fd c = Connect(vip_);
    ASSERT_TRUE(SendAll(c.get(), "ECHO\n"));
    ASSERT_TRUE(SendAll(c.get(), "x"));
    std::string got(1, '\0');
    ASSERT_EQ(recv(c.get(), got.data(), 1, 0), 1);
    if (i == 0) held = std::move(c);  // wrr, equal weights: the first goes to b0
  }
  EXPECT_EQ(lbd_->Ctl({"add-server", "web", b3, "weight", "2"}).exit_code, 0);
  EXPECT_EQ(lbd_->Ctl({"remove-server", "web", b0}).exit_code, 0);
  EXPECT_EQ(lbd_->Ctl({"weight", "web", b1, "5"}).exit_code, 0);
  EXPECT_EQ(lbd_->Ctl({"disable", "web", b2}).exit_code, 0);
  // Errors: a server twice, an unknown one.
  RunResult twice = lbd_->Ctl({"add-server", "web", b3});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_NE(twice.err.find("already has real server"), std::string::npos) << twice.err;
  EXPECT_EQ(lbd_->Ctl({"remove-server", "web", "127.0.0.1:1"}).exit_code, 1);

  // The removed server's connection goes on (it drains).
  ASSERT_TRUE(SendAll(held.get(), "y"));
  std::string echo(1, '\0');
  ASSERT_EQ(recv(held.get(), echo.data(), 1, 0), 1);
  EXPECT_EQ(echo, "y");

  std::string status = Status();
  EXPECT_EQ(TableLine(status, b0), "") << status;
  EXPECT_NE(TableLine(status, b1).find("Proxy   5 "), std::string::npos) << status;
  EXPECT_NE(TableLine(status, b2).find(" down disabled"), std::string::npos) << status;
  EXPECT_NE(TableLine(status, b3).find("Proxy   2 "), std::string::npos) << status;
  // Only b1 and b3 take new connections, 5:2.
  std::map<std::string, int> counts;
  for (int i = 0; i < 14; ++i) ++counts[AskId(vip_)];
  EXPECT_EQ(counts, (std::map<std::string, int>{{"b1", 10}, {"b3", 4}}));

  // dump | lbd --check
  RunResult dump = lbd_->Ctl({"dump"});
  ASSERT_EQ(dump.exit_code, 0);
  EXPECT_NE(dump.out.find("# disabled (lbctl disable)"), std::string::npos) << dump.out;
  RunResult check = RunProgram(dir_, {"/bin/sh", "-c",
                                      std::string(LBCTL_PATH) + " -s " + lbd_->socket_path() +
                                          " dump | " + LBD_PATH + " -c /dev/stdin --check"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;

  // Restart: the same table.
  held.Reset();
  lbd_->Signal(SIGTERM);
  ASSERT_EQ(lbd_->WaitExit(5000ms), 0);
  ASSERT_TRUE(lbd_->Start()) << lbd_->Log();
  EXPECT_NE(lbd_->Log().find("state restored from " + dir_.File("lbd.state")), std::string::npos);
  std::string restored = Status();
  for (const auto& b : {b0, b1, b2, b3}) {
    EXPECT_EQ(TableLine(restored, b), TableLine(status, b)) << restored;
  }

  // A reload keeps them, except the weight the file changed since.
  std::string cfg = Config("wrr", 3, "", StateGlobal());
  cfg.replace(cfg.find(b1 + ", weight: 1"), (b1 + ", weight: 1").size(), b1 + ", weight: 3");
  lbd_->WriteConfig(cfg);
  RunResult reload = lbd_->Ctl({"reload"});
  EXPECT_EQ(reload.exit_code, 0);
  EXPECT_EQ(reload.out, "reloaded\n");
  std::string after = Status();
  EXPECT_EQ(TableLine(after, b0), "") << after;
  EXPECT_NE(TableLine(after, b1).find("Proxy   3 "), std::string::npos) << after;
  EXPECT_NE(TableLine(after, b2).find(" down disabled"), std::string::npos) << after;
  EXPECT_NE(TableLine(after, b3).find("Proxy   2 "), std::string::npos) << after;
  EXPECT_EQ(ReadFile(dir_.File("lbd.state")).find("weight web " + b1), std::string::npos);

  // add-server of a removed file server brings its line back; enable clears.
  EXPECT_EQ(lbd_->Ctl({"add-server", "web", b0}).exit_code, 0);
  EXPECT_EQ(lbd_->Ctl({"enable", "web", b2}).exit_code, 0);
  after = Status();
  EXPECT_NE(TableLine(after, b0).find("Proxy   1 "), std::string::npos) << after;
  EXPECT_NE(TableLine(after, b2).find(" up"), std::string::npos) << after;
  EXPECT_EQ(TableLine(after, b2).find("disabled"), std::string::npos) << after;
}

TEST_F(OpsTest, ACorruptedStateFileIsReportedAndIgnored) {
  MakeBackends(2);
  const std::string state = dir_.File("lbd.state");
  std::ofstream(state) << "lbd-state 1\nweight web 127.0.0.1:1 7 file 1\nbogus line here\n";
  StartLbd(Config("rr", -1, "", StateGlobal()));
  EXPECT_NE(lbd_->Log().find("state file ignored: " + state + ":3:"), std::string::npos)
      << lbd_->Log();
  std::string status = Status();
  EXPECT_NE(TableLine(status, backends_[0]->address()).find("Proxy   1 "), std::string::npos);
  EXPECT_EQ(AskId(vip_), "b0");
  // The next change writes a good one.
  EXPECT_EQ(lbd_->Ctl({"drain", "web", backends_[1]->address()}).exit_code, 0);
  EXPECT_NE(ReadFile(state).find("weight web " + backends_[1]->address() + " 0 file 1"),
            std::string::npos);
  EXPECT_NE(TableLine(Status(), backends_[1]->address()).find(" draining"), std::string::npos);

  // Unreadable (a directory): reported, ignored.
  lbd_->Signal(SIGTERM);
  ASSERT_EQ(lbd_->WaitExit(5000ms), 0);
  std::remove(state.c_str());
  mkdir(state.c_str(), 0700);
  ASSERT_TRUE(lbd_->Start()) << lbd_->Log();
  EXPECT_NE(lbd_->Log().find("state file ignored: " + state + ":0:"), std::string::npos)
      << lbd_->Log();
}

TEST_F(OpsTest, PlanReportsTheHashMovesAndTheClientsThatMoveAndAppliesNothing) {
  MakeBackends(4);
  StartLbd(Config("mh", -1, "    persistence: 300s\n"));
  // 40 clients, each bound to its server by persistence.
  std::map<std::string, std::string> server_of;  // client IP -> backend name
  for (int i = 2; i < 42; ++i) {
    const std::string ip = "127.0.0." + std::to_string(i);
    server_of[ip] = AskId(vip_, ip);
    ASSERT_FALSE(server_of[ip].empty()) << ip;
  }
  const std::string removed = backends_[3]->address();

  // Unchanged: nothing to do.
  RunResult same = lbd_->Ctl({"plan", lbd_->config_path()});
  EXPECT_EQ(same.exit_code, 0);
  EXPECT_EQ(same.out, "nothing to change\n");

  const std::string next = dir_.File("next.yaml");
  std::ofstream(next) << Config("mh", 3, "    persistence: 300s\n");
  RunResult plan = lbd_->Ctl({"plan", next});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("service web: real server " + removed + " removed"), std::string::npos)
      << plan.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      plan.out, m, std::regex(R"(service web: mh: ([0-9.]+)% of the hash space moves)")))
      << plan.out;
  const double share = std::stod(m[1]);
  EXPECT_GT(share, 20.0) << plan.out;
  EXPECT_LT(share, 30.0) << plan.out;
  // Every client of the removed server is listed, with its new server.
  int on_removed = 0;
  for (const auto& [ip, name] : server_of) {
    if (name != "b3") continue;
    ++on_removed;
    EXPECT_TRUE(std::regex_search(plan.out, std::regex("  client " + ip + ": " + removed +
                                                       " -> 127\\.0\\.0\\.1:[0-9]+ \\(its server "
                                                       "leaves\\)\n")))
        << ip << "\n"
        << plan.out;
  }
  ASSERT_TRUE(std::regex_search(
      plan.out, m, std::regex(R"(service web: ([0-9]+) of ([0-9]+) live flows/clients move)")))
      << plan.out;
  EXPECT_EQ(std::stoi(m[2]), 40);
  EXPECT_GE(std::stoi(m[1]), on_removed);
  // Maglev moves little beyond the removed server's share.
  EXPECT_LE(std::stoi(m[1]), on_removed + 8) << plan.out;

  // lbd --check --against prints the same plan.
  RunResult against =
      RunProgram(dir_, {LBD_PATH, "-c", next, "--check", "--against", lbd_->socket_path()});
  EXPECT_EQ(against.exit_code, 0) << against.err;
  EXPECT_NE(against.out.find(plan.out), std::string::npos) << against.out;
  // Nothing was applied.
  EXPECT_NE(TableLine(Status(), removed), "");
  for (const auto& [ip, name] : server_of) EXPECT_EQ(AskId(vip_, ip), name) << ip;
  // A bad file: its errors.
  const std::string bad = dir_.File("bad.yaml");
  std::ofstream(bad) << "virtual_services: [\n";
  RunResult refused = lbd_->Ctl({"plan", bad});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find(bad + ":"), std::string::npos) << refused.err;
}

TEST_F(OpsTest, LbctlVersionAndReloadErrorsOnePerLine) {
  MakeBackends(1);
  RunResult version = RunProgram(dir_, {LBCTL_PATH, "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_TRUE(std::regex_match(version.out, std::regex("lbd-[0-9.]+\n"))) << version.out;
  StartLbd(Config("rr"));
  lbd_->WriteConfig("virtual_services:\n  - name: web\n    listen: 1.2.3.4\n    weight: 1\n");
  RunResult reload = lbd_->Ctl({"reload"});
  EXPECT_EQ(reload.exit_code, 1);
  std::istringstream lines(reload.err);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    EXPECT_EQ(line.rfind(lbd_->config_path() + ":", 0), 0u) << line;
  }
  EXPECT_EQ(n, 2) << reload.err;
  EXPECT_EQ(AskId(vip_), "b0");
}

}  // namespace
}  // namespace lbtest
