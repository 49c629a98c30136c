// Integration tests of health checks, inhibit_on_failure, the sorry server
// and quorum through the real lbd and lbctl binaries on loopback: backends
// killed and restarted (forked processes), an HTTP backend whose status and
// body the test sets, exec checks that follow flag files, notify commands
// that write marker files. Every process, thread and file is torn down by
// RAII, also on failure; every wait is bounded.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/un.h>

#include <iostream>
#include <regex>
#include <set>

#include "lb_test_util.h"
#include "lbd_process.h"

namespace lbtest {
namespace {

// A real server as its own process on a fixed port, so that it can be
// killed (SIGKILL) and started again on the same address. Each connection:
// read one line (or EOF), answer "<name>\n", close.
class ProcessBackend {
 public:
  ProcessBackend(std::string name, uint16_t port) : name_(std::move(name)), port_(port) {}
  ~ProcessBackend() { Kill(); }
  ProcessBackend(const ProcessBackend&) = delete;
  ProcessBackend& operator=(const ProcessBackend&) = delete;

  // Forks the server and waits until it accepts.
  bool Start() {
    Fd listener = ListenLoopback(port_, 128);
    if (!listener.valid()) return false;
    const std::string reply = name_ + "\n";  // no allocation after fork
    pid_ = fork();
    if (pid_ == 0) Serve(listener.get(), reply);  // never returns
    return pid_ > 0;
  }
  void Kill() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  // The child: async-signal-safe calls only (the parent has threads).
  [[noreturn]] static void Serve(int listener, const std::string& reply) {
    for (;;) {
      int fd = accept(listener, nullptr, nullptr);
      if (fd < 0) continue;
      timeval tv{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      char c;
      for (int i = 0; i < 256 && recv(fd, &c, 1, 0) == 1 && c != '\n'; ++i) {
      }
      ssize_t ignored = send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
      (void)ignored;
      close(fd);
    }
  }

  std::string name_;
  uint16_t port_;
  pid_t pid_ = -1;
};

// An HTTP/1.1 server answering every request with the status and body set
// by the test (Content-Length framing, then close).
class HttpBackend {
 public:
  HttpBackend(int status, std::string body) : status_(status), body_(std::move(body)) {
    listen_fd_ = ListenLoopback(0, 128, &port_);
    thread_ = std::thread([this] { Loop(); });
  }
  ~HttpBackend() {
    stopped_ = true;
    thread_.join();
  }
  void Set(int status, std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    body_ = std::move(body);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void Loop() {
    while (!stopped_) {
      pollfd p{listen_fd_.get(), POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      Fd c(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c.valid()) continue;
      timeval tv{2, 0};
      setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      std::string request;
      char buf[1024];
      while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
        ssize_t n = recv(c.get(), buf, sizeof(buf), 0);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      std::string response;
      {
        std::lock_guard<std::mutex> lock(mu_);
        response = "HTTP/1.1 " + std::to_string(status_) +
                   " X\r\nContent-Length: " + std::to_string(body_.size()) +
                   "\r\nConnection: close\r\n\r\n" + body_;
      }
      SendAll(c.get(), response);
    }
  }

  std::mutex mu_;
  int status_;
  std::string body_;
  Fd listen_fd_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

struct Server {
  Server(std::string a, int w = 1, std::string e = "")
      : address(std::move(a)), weight(w), extra(std::move(e)) {}
  std::string address;
  int weight;
  std::string extra;  // more keys of the flow mapping, e.g. ", healthcheck: {...}"
};

// One proxied service "web" on `vip`.
std::string MakeConfig(const TempDir& dir, uint16_t vip, const std::string& service_keys,
                       const std::vector<Server>& servers, const std::string& global_keys = "") {
  std::string y = "global:\n  workers: 2\n  control_socket: " + dir.File("lbd.sock") +
                  "\n  drain_timeout: 1s\n" + global_keys +
                  "virtual_services:\n  - name: web\n    listen: 127.0.0.1:" + std::to_string(vip) +
                  "\n    scheduler: rr\n" + service_keys + "    real_servers:\n";
  for (const auto& s : servers) {
    y += "      - {address: " + s.address + ", weight: " + std::to_string(s.weight) + s.extra +
         "}\n";
  }
  return y;
}

// One HEALTH line of `lbctl status`.
struct HealthLine {
  std::string state, last;
  double latency_ms = -1;
  uint64_t checks = 0, failures = 0, transitions = 0;
  std::string table, message;
};

std::optional<HealthLine> FindHealth(const std::string& status, const std::string& server) {
  static const std::regex kLine(
      R"(HEALTH web (\S+) (tcp|http|exec) (up|down) last (ok|fail|none) latency ([0-9.]+)ms )"
      R"(checks (\d+) failures (\d+) transitions (\d+) since ([0-9.]+)s table (in|out) msg (.*))");
  std::istringstream lines(status);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (!std::regex_match(line, m, kLine) || m[1] != server) continue;
    HealthLine h;
    h.state = m[3];
    h.last = m[4];
    h.latency_ms = std::stod(m[5]);
    h.checks = std::stoull(m[6]);
    h.failures = std::stoull(m[7]);
    h.transitions = std::stoull(m[8]);
    h.table = m[10];
    h.message = m[11];
    return h;
  }
  return std::nullopt;
}

// The server's column "up"/"down" in the ipvsadm-like table ("" when not listed).
std::string TableState(const std::string& status, const std::string& server) {
  std::smatch m;
  std::regex row("  -> " + server + R"( +Proxy +\d+ +\d+ +\d+ +(up|down))");
  return std::regex_search(status, m, row) ? std::string(m[1]) : "";
}

std::string HttpGet(uint16_t port, const std::string& path) {
  Fd c = Connect(port);
  if (!c.valid()) return "";
  SendAll(c.get(), "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
  return ReadAll(c.get());
}

// The value of the sample `series` (name and labels) in a Prometheus text; -1 if absent.
double Metric(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

// Processes whose parent chain reaches `root` (not `root` itself), as
// pid -> "state comm".
std::map<pid_t, std::string> Descendants(pid_t root) {
  std::map<pid_t, std::pair<pid_t, std::string>> all;  // pid -> (ppid, "S comm")
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      pid_t pid = atoi(e->d_name);
      if (pid <= 0) continue;
      std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
      size_t open = stat.find('('), close = stat.rfind(')');
      if (open == std::string::npos || close == std::string::npos || close + 4 > stat.size()) {
        continue;
      }
      std::string comm = stat.substr(open + 1, close - open - 1);
      char state = stat[close + 2];
      pid_t ppid = atoi(stat.c_str() + close + 4);
      all[pid] = {ppid, std::string(1, state) + " " + comm};
    }
    closedir(d);
  }
  std::map<pid_t, std::string> out;
  for (const auto& [pid, info] : all) {
    pid_t p = info.first;
    for (int depth = 0; depth < 16 && p > 1; ++depth) {
      if (p == root) {
        out[pid] = info.second;
        break;
      }
      auto it = all.find(p);
      if (it == all.end()) break;
      p = it->second.first;
    }
  }
  return out;
}

class HealthDaemonTest : public ::testing::Test {
 protected:
  void StartLbd(const std::string& config) {
    lbd_ = std::make_unique<LbdProcess>(dir_, config);
    ASSERT_TRUE(lbd_->Start()) << lbd_->Log();
  }
  std::string Status() const { return lbd_->Ctl({"status"}).out; }
  // Waits until `server`'s HEALTH line satisfies `pred`.
  bool WaitHealth(const std::string& server, const std::function<bool(const HealthLine&)>& pred,
                  std::chrono::milliseconds timeout = 5000ms) const {
    return WaitFor(
        [&] {
          auto h = FindHealth(Status(), server);
          return h && pred(*h);
        },
        timeout);
  }
  // An exec check that passes while DIR/down-PORT does not exist.
  std::string FlagCheck(const std::string& more = "") const {
    return "    healthcheck: {type: exec, command: 'test ! -e " + dir_.File("down-") +
           "$LBD_RS_PORT', interval: 100ms, timeout: 1s, rise: 1, fall: 1" + more + "}\n";
  }
  void SetDown(const Backend& b, bool down) const {
    std::string flag = dir_.File("down-" + std::to_string(b.port()));
    if (down) {
      dir_.Write("down-" + std::to_string(b.port()), "");
    } else {
      std::remove(flag.c_str());
    }
  }
  void TearDown() override {
    if (HasFailure() && lbd_) std::cerr << "--- lbd log ---\n" << lbd_->Log();
    lbd_.reset();
  }

  TempDir dir_;
  uint16_t vip_ = FreePort();
  std::unique_ptr<LbdProcess> lbd_;
};

TEST_F(HealthDaemonTest, KilledServerIsDownWithinFallIntervalsAndBackAfterRise) {
  // fall 3 x interval 100 ms + timeout 100 ms: down at most 400 ms after the kill.
  constexpr auto kInterval = 100ms, kTimeout = 100ms;
  constexpr int kFall = 3, kRise = 2;
  Backend b0("b0");
  ProcessBackend b1("b1", FreePort());
  ASSERT_TRUE(b1.Start());
  StartLbd(MakeConfig(dir_, vip_,
                      "    healthcheck: {type: tcp, interval: 100ms, timeout: 100ms, rise: 2, "
                      "fall: 3}\n",
                      {{b0.address()}, {b1.address()}}));
  ASSERT_TRUE(WaitHealth(b1.address(), [](const HealthLine& l) { return l.checks >= 1; }));
  EXPECT_EQ(TableState(Status(), b1.address()), "up");

  // Measured (6 runs, Release, a loaded 2-core machine): down between 174 and
  // 290 ms after the kill (bound 400), up between 67 and 220 ms after the
  // restart (bound 300). kTimerMargin only covers lbd's timers waking late (a
  // sanitizer build, a busy machine); the lbctl polling needs none (Observe).
  constexpr auto kTimerMargin = 50ms;
  const auto killed = Clock::now();
  b1.Kill();
  const Observed down = Observe(
      killed, [&] { return TableState(Status(), b1.address()) == "down"; }, 3000ms);
  ASSERT_TRUE(down.held);
  const auto bound = kFall * kInterval + kTimeout;
  std::cout << "[ measured ] down between " << Ms(down.after) << " and " << Ms(down.by)
            << " ms after the kill (bound " << bound.count() << " ms)\n";
  EXPECT_LE(down.after, bound + kTimerMargin);
  auto h = FindHealth(Status(), b1.address());
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->state, "down");
  EXPECT_EQ(h->last, "fail");
  EXPECT_EQ(h->message, "connect: Connection refused");
  EXPECT_GE(h->transitions, 1u);

  // No new connection is even tried on the dead server.
  auto stats = JsonParser::Parse(lbd_->Ctl({"stats", "--json"}).out);
  ASSERT_TRUE(stats.has_value());
  const double failures_before = (*stats)["counters"]["connect_failures"].number();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(AskId(vip_), "b0");
  stats = JsonParser::Parse(lbd_->Ctl({"stats", "--json"}).out);
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ((*stats)["counters"]["connect_failures"].number(), failures_before);

  // Back on the same address: up after `rise` successes, at most
  // rise x interval + one interval of phase later.
  ASSERT_TRUE(b1.Start());
  const auto restarted = Clock::now();
  const Observed up = Observe(
      restarted, [&] { return TableState(Status(), b1.address()) == "up"; }, 3000ms);
  ASSERT_TRUE(up.held);
  const auto up_bound = kRise * kInterval + kInterval;
  std::cout << "[ measured ] up between " << Ms(up.after) << " and " << Ms(up.by)
            << " ms after the restart (bound " << up_bound.count() << " ms)\n";
  EXPECT_LE(up.after, up_bound + kTimerMargin);
  h = FindHealth(Status(), b1.address());
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->last, "ok");
  std::set<std::string> seen;
  for (int i = 0; i < 4; ++i) seen.insert(AskId(vip_));
  EXPECT_EQ(seen, (std::set<std::string>{"b0", "b1"}));
}

TEST_F(HealthDaemonTest, HttpStatus500IsDownAndStatusShowsTheLastResult) {
  HttpBackend web(500, "oops");
  StartLbd(
      MakeConfig(dir_, vip_,
                 "    healthcheck: {type: http, path: /health, interval: 100ms, timeout: 500ms,"
                 " rise: 1, fall: 1}\n",
                 {{web.address()}}));
  ASSERT_TRUE(WaitHealth(web.address(), [](const HealthLine& l) { return l.state == "down"; }))
      << Status();
  std::string status = Status();
  EXPECT_EQ(TableState(status, web.address()), "down");
  auto h = FindHealth(status, web.address());
  ASSERT_TRUE(h.has_value()) << status;
  EXPECT_EQ(h->last, "fail");
  EXPECT_EQ(h->message, "status 500");
  EXPECT_GT(h->latency_ms, 0.0);
  EXPECT_LT(h->latency_ms, 500.0);
  EXPECT_GE(h->failures, 1u);
  EXPECT_EQ(h->table, "in");  // inhibit_on_failure: true by default
  EXPECT_NE(status.find("QUORUM web lost weight 0 quorum 1 hysteresis 0 sorry none\n"),
            std::string::npos)
      << status;

  auto j = JsonParser::Parse(lbd_->Ctl({"status", "--json"}).out);
  ASSERT_TRUE(j.has_value());
  const Json& svc = (*j)["services"].array().at(0);
  const Json& check = svc["servers"].array().at(0)["check"];
  EXPECT_EQ(check["type"].str(), "http");
  EXPECT_FALSE(check["up"].boolean());
  EXPECT_FALSE(check["last"]["success"].boolean());
  EXPECT_EQ(check["last"]["message"].str(), "status 500");
  EXPECT_GT(check["last"]["latency"].number(), 0.0);
  EXPECT_GE(check["checks"].number(), 1);
  EXPECT_TRUE(svc["servers"].array().at(0)["in_table"].boolean());
  EXPECT_FALSE(svc["quorum"]["up"].boolean());

  web.Set(200, "fine");
  ASSERT_TRUE(WaitHealth(web.address(), [](const HealthLine& l) { return l.state == "up"; }));
  h = FindHealth(Status(), web.address());
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->last, "ok");
  EXPECT_EQ(h->message, "status 200");
  EXPECT_GE(h->transitions, 2u);  // start up -> down -> up
}

TEST_F(HealthDaemonTest, ExpectMd5WrongIsDownRightIsUp) {
  const std::string body = "shop is healthy\n";  // md5sum: 860dc4f710ada20275177c467ab0abdc
  HttpBackend right(200, body), wrong(200, body);
  StartLbd(MakeConfig(
      dir_, vip_,
      "    healthcheck: {type: http, path: /, interval: 100ms, timeout: 500ms, rise: 1, fall: 1,"
      " expect_md5: 860dc4f710ada20275177c467ab0abdc}\n",
      {{right.address()},
       {wrong.address(), 1, ", healthcheck: {expect_md5: 00000000000000000000000000000000}"}}));
  ASSERT_TRUE(WaitHealth(wrong.address(), [](const HealthLine& l) { return l.state == "down"; }))
      << Status();
  auto h = FindHealth(Status(), wrong.address());
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->last, "fail");
  EXPECT_EQ(h->message,
            "status 200, body digest 860dc4f710ada20275177c467ab0abdc != "
            "00000000000000000000000000000000");
  ASSERT_TRUE(WaitHealth(right.address(), [](const HealthLine& l) { return l.checks >= 3; }));
  h = FindHealth(Status(), right.address());
  EXPECT_EQ(h->state, "up");
  EXPECT_EQ(h->last, "ok");
  EXPECT_EQ(h->message, "status 200, digest ok");
  EXPECT_EQ(h->failures, 0u);
  // The body changes: the right digest no longer matches.
  right.Set(200, "shop is sick\n");
  EXPECT_TRUE(WaitHealth(right.address(), [](const HealthLine& l) { return l.state == "down"; }));
}

TEST_F(HealthDaemonTest, HangingExecCheckIsKilledAtItsTimeoutAndLeavesNoChild) {
  Backend b0("b0");
  StartLbd(MakeConfig(dir_, vip_,
                      "    healthcheck: {type: exec, command: 'sleep 100', interval: 300ms,"
                      " timeout: 200ms, rise: 1, fall: 1}\n",
                      {{b0.address()}}));
  ASSERT_TRUE(WaitHealth(b0.address(), [](const HealthLine& l) { return l.state == "down"; }))
      << Status();
  auto h = FindHealth(Status(), b0.address());
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->message, "timeout after 200 ms");
  EXPECT_GE(h->latency_ms, 190.0);
  EXPECT_LT(h->latency_ms, 400.0);
  // Over several timeouts: never more than one command alive, no zombie
  // that outlives a sample.
  std::set<pid_t> zombies_before;
  for (int i = 0; i < 30; ++i) {
    auto d = Descendants(lbd_->pid());
    int sleeps = 0;
    std::set<pid_t> zombies;
    for (const auto& [pid, what] : d) {
      if (what.substr(2) == "sleep") ++sleeps;
      if (what[0] == 'Z') zombies.insert(pid);
    }
    EXPECT_LE(sleeps, 1);
    for (pid_t z : zombies) EXPECT_FALSE(zombies_before.count(z)) << "zombie " << z;
    zombies_before = zombies;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(WaitHealth(b0.address(), [](const HealthLine& l) { return l.checks >= 4; }));
  // The check removed by a reload: its command in flight is killed and reaped.
  lbd_->WriteConfig(MakeConfig(dir_, vip_, "", {{b0.address()}}));
  ASSERT_EQ(lbd_->Ctl({"reload"}).exit_code, 0);
  EXPECT_TRUE(WaitFor([&] { return Descendants(lbd_->pid()).empty(); }, 3000ms))
      << Descendants(lbd_->pid()).size() << " processes left under lbd";
  EXPECT_EQ(TableState(Status(), b0.address()), "up");
  EXPECT_EQ(AskId(vip_), "b0");
}

TEST_F(HealthDaemonTest, AllDownGoesToTheSorryServerAndOneBackLeavesIt) {
  // No `quorum:` key: keepalived's default 1, so the commands run when the
  // last server goes and when the first comes back.
  Backend b0("b0"), b1("b1"), sorry("sorry");
  const std::string marker = dir_.File("marker");
  StartLbd(MakeConfig(dir_, vip_,
                      FlagCheck() + "    sorry_server: " + sorry.address() +
                          "\n    on_quorum_down: 'echo down $LBD_UP_WEIGHT >> " + marker +
                          "'\n    on_quorum_up: 'echo up $LBD_UP_WEIGHT >> " + marker + "'\n",
                      {{b0.address()}, {b1.address()}}));
  EXPECT_NE(AskId(vip_), "sorry");
  SetDown(b0, true);
  ASSERT_TRUE(WaitFor([&] { return TableState(Status(), b0.address()) == "down"; }));
  EXPECT_EQ(AskId(vip_), "b1");
  SetDown(b1, true);
  ASSERT_TRUE(WaitFor([&] { return Status().find("QUORUM web lost") != std::string::npos; }))
      << Status();
  EXPECT_TRUE(WaitFor([&] { return ReadFile(marker) == "down 0\n"; })) << ReadFile(marker);
  EXPECT_NE(Status().find("QUORUM web lost weight 0 quorum 1 hysteresis 0 sorry in-use\n"),
            std::string::npos)
      << Status();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(AskId(vip_), "sorry");
  SetDown(b1, false);
  ASSERT_TRUE(WaitFor([&] { return TableState(Status(), b1.address()) == "up"; })) << Status();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(AskId(vip_), "b1");
  EXPECT_NE(Status().find("QUORUM web up weight 1 quorum 1 hysteresis 0 sorry idle\n"),
            std::string::npos);
  EXPECT_TRUE(WaitFor([&] { return ReadFile(marker) == "down 0\nup 1\n"; })) << ReadFile(marker);
  EXPECT_NE(lbd_->Log().find("quorum lost"), std::string::npos);
  EXPECT_NE(lbd_->Log().find("quorum regained"), std::string::npos);
}

TEST_F(HealthDaemonTest, InhibitOnFailureFalseRemovesTheServerAndEstablishedOnesContinue) {
  Backend b0("b0"), b1("b1");
  StartLbd(MakeConfig(dir_, vip_, FlagCheck(", inhibit_on_failure: false"),
                      {{b0.address()}, {b1.address(), 2}}));
  ASSERT_TRUE(WaitHealth(b1.address(), [](const HealthLine& l) { return l.checks >= 1; }));
  // An established connection on b1 (rr: one of two lands there).
  Fd held[2];
  for (auto& fd : held) {
    fd = Connect(vip_);
    ASSERT_TRUE(SendAll(fd.get(), "ECHO\n"));
  }
  ASSERT_TRUE(WaitFor([&] { return b1.accepted() == 1; }));

  SetDown(b1, true);
  ASSERT_TRUE(WaitHealth(b1.address(), [](const HealthLine& l) { return l.table == "out"; }))
      << Status();
  std::string status = Status();
  // Still listed, down, with its established connection counted.
  EXPECT_TRUE(std::regex_search(status, std::regex(b1.address() + R"( +Proxy +2 +1 +0 +down)")))
      << status;
  auto j = JsonParser::Parse(lbd_->Ctl({"status", "--json"}).out);
  ASSERT_TRUE(j.has_value());
  const Json& s1 = (*j)["services"].array().at(0)["servers"].array().at(1);
  EXPECT_EQ(s1["address"].str(), b1.address());
  EXPECT_FALSE(s1["in_table"].boolean());
  EXPECT_FALSE(s1["up"].boolean());
  for (int i = 0; i < 6; ++i) EXPECT_EQ(AskId(vip_), "b0");
  EXPECT_EQ(b1.accepted(), 1);
  // A reload of the same file does not put it back.
  ASSERT_EQ(lbd_->Ctl({"reload"}).exit_code, 0);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(AskId(vip_), "b0");
  // lbctl still reaches it: the weight applies when it is back.
  EXPECT_EQ(lbd_->Ctl({"weight", "web", b1.address(), "3"}).exit_code, 0);
  // The held connections still relay both ways.
  for (auto& fd : held) {
    ASSERT_TRUE(SendAll(fd.get(), "ping"));
    char buf[4];
    ASSERT_EQ(recv(fd.get(), buf, 4, MSG_WAITALL), 4);
    EXPECT_EQ(std::string(buf, 4), "ping");
  }

  SetDown(b1, false);
  ASSERT_TRUE(WaitHealth(b1.address(), [](const HealthLine& l) { return l.table == "in"; }));
  EXPECT_TRUE(std::regex_search(Status(), std::regex(b1.address() + R"( +Proxy +3 +1 +0 +up)")))
      << Status();
  std::set<std::string> seen;
  for (int i = 0; i < 4; ++i) seen.insert(AskId(vip_));
  EXPECT_EQ(seen, (std::set<std::string>{"b0", "b1"}));

  // Down again, then gone from the file: forgotten, its connection continues.
  SetDown(b1, true);
  ASSERT_TRUE(WaitHealth(b1.address(), [](const HealthLine& l) { return l.table == "out"; }));
  lbd_->WriteConfig(
      MakeConfig(dir_, vip_, FlagCheck(", inhibit_on_failure: false"), {{b0.address()}}));
  ASSERT_EQ(lbd_->Ctl({"reload"}).exit_code, 0);
  status = Status();
  EXPECT_EQ(status.find(b1.address()), std::string::npos) << status;
  SetDown(b1, false);
  std::this_thread::sleep_for(300ms);  // a check would have passed by now: none runs
  EXPECT_EQ(Status().find(b1.address()), std::string::npos);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(AskId(vip_), "b0");
  for (auto& fd : held) {
    ASSERT_TRUE(SendAll(fd.get(), "pong"));
    char buf[4];
    ASSERT_EQ(recv(fd.get(), buf, 4, MSG_WAITALL), 4);
    EXPECT_EQ(std::string(buf, 4), "pong");
  }
}

TEST_F(HealthDaemonTest, QuorumWithHysteresisRunsCommandsAndUsesTheSorryServer) {
  // Weights 2+1+1, quorum 3, hysteresis 1: lost below 2, regained at 4.
  Backend b0("b0"), b1("b1"), b2("b2"), sorry("sorry");
  const uint16_t metrics = FreePort();
  const std::string down_marker = dir_.File("quorum-down"), up_marker = dir_.File("quorum-up");
  StartLbd(MakeConfig(
      dir_, vip_,
      FlagCheck() + "    sorry_server: " + sorry.address() +
          "\n    quorum: 3\n    hysteresis: 1\n"
          "    on_quorum_down: 'echo \"$LBD_SERVICE $LBD_UP_WEIGHT $LBD_QUORUM\" >> " +
          down_marker + "'\n    on_quorum_up: 'echo \"$LBD_SERVICE $LBD_UP_WEIGHT\" >> " +
          up_marker + "'\n",
      {{b0.address(), 2}, {b1.address()}, {b2.address()}},
      "  metrics_listen: 127.0.0.1:" + std::to_string(metrics) + "\n"));
  EXPECT_NE(Status().find("QUORUM web up weight 4 quorum 3 hysteresis 1 sorry idle\n"),
            std::string::npos)
      << Status();

  SetDown(b0, true);  // 2: inside the hysteresis band, quorum held
  ASSERT_TRUE(WaitFor([&] { return TableState(Status(), b0.address()) == "down"; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_NE(Status().find("QUORUM web up weight 2 "), std::string::npos) << Status();
  EXPECT_EQ(ReadFile(down_marker), "");
  EXPECT_NE(AskId(vip_), "sorry");

  SetDown(b1, true);  // 1 < 2: lost
  ASSERT_TRUE(WaitFor([&] { return ReadFile(down_marker) == "web 1 3\n"; })) << Status();
  EXPECT_NE(Status().find("QUORUM web lost weight 1 quorum 3 hysteresis 1 sorry in-use\n"),
            std::string::npos);
  EXPECT_EQ(TableState(Status(), b2.address()), "up");
  const int b2_accepted = b2.accepted();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(AskId(vip_), "sorry");  // although b2 is up
  EXPECT_EQ(b2.accepted(), b2_accepted);

  std::string m = HttpGet(metrics, "/metrics");
  EXPECT_NE(m.find("lbd_service_quorum{service=\"web\"} 0\n"), std::string::npos);
  EXPECT_NE(m.find("lbd_service_sorry_in_use{service=\"web\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("lbd_service_quorum_up_weight{service=\"web\"} 1\n"), std::string::npos);
  const std::string b0_label = "{service=\"web\",server=\"" + b0.address() + "\"}";
  EXPECT_NE(m.find("lbd_real_server_up" + b0_label + " 0\n"), std::string::npos);
  EXPECT_NE(m.find("lbd_healthcheck_up" + b0_label + " 0\n"), std::string::npos);
  EXPECT_NE(m.find("lbd_healthcheck_last_success" + b0_label + " 0\n"), std::string::npos);
  EXPECT_GE(Metric(m, "lbd_healthcheck_checks_total" + b0_label), 2);
  EXPECT_GE(Metric(m, "lbd_healthcheck_failures_total" + b0_label), 1);
  EXPECT_GT(Metric(m, "lbd_healthcheck_latency_seconds" + b0_label), 0.0);
  EXPECT_LT(Metric(m, "lbd_healthcheck_latency_seconds" + b0_label), 1.0);
  EXPECT_NE(m.find("# TYPE lbd_healthcheck_transitions_total counter\n"), std::string::npos);

  SetDown(b1, false);  // 2 < 4: still lost
  ASSERT_TRUE(WaitFor([&] { return TableState(Status(), b1.address()) == "up"; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_NE(Status().find("QUORUM web lost weight 2 "), std::string::npos) << Status();
  EXPECT_EQ(AskId(vip_), "sorry");
  EXPECT_EQ(ReadFile(up_marker), "");

  SetDown(b0, false);  // 4: regained
  ASSERT_TRUE(WaitFor([&] { return ReadFile(up_marker) == "web 4\n"; })) << Status();
  EXPECT_NE(Status().find("QUORUM web up weight 4 quorum 3 hysteresis 1 sorry idle\n"),
            std::string::npos);
  std::set<std::string> seen;
  for (int i = 0; i < 4; ++i) seen.insert(AskId(vip_));
  EXPECT_EQ(seen, (std::set<std::string>{"b0", "b1", "b2"}));
  EXPECT_EQ(ReadFile(down_marker), "web 1 3\n");  // once

  // lbctl drain and disable count too: draining b0 (4 - 2 = 2) holds, disabling b1 as
  // well (1) loses the quorum again. (A reload that lowers the quorum:
  // ReloadThatLowersTheQuorumRegainsIt.)
  ASSERT_EQ(lbd_->Ctl({"drain", "web", b0.address()}).exit_code, 0);
  EXPECT_NE(Status().find("QUORUM web up weight 2 "), std::string::npos);
  ASSERT_EQ(lbd_->Ctl({"disable", "web", b1.address()}).exit_code, 0);  // 1: lost
  EXPECT_TRUE(WaitFor([&] { return ReadFile(down_marker) == "web 1 3\nweb 1 3\n"; }));
  EXPECT_EQ(AskId(vip_), "sorry");
}

TEST_F(HealthDaemonTest, ReloadThatLowersTheQuorumRegainsIt) {
  Backend b0("b0"), sorry("sorry");
  const std::string up_marker = dir_.File("up");
  auto config = [&](int quorum) {
    return MakeConfig(dir_, vip_,
                      FlagCheck() + "    sorry_server: " + sorry.address() +
                          "\n    quorum: " + std::to_string(quorum) +
                          "\n    on_quorum_up: 'echo $LBD_QUORUM >> " + up_marker + "'\n",
                      {{b0.address(), 1}});
  };
  StartLbd(config(2));  // weight 1 < 2: lost from the start
  EXPECT_NE(Status().find("QUORUM web lost weight 1 quorum 2 hysteresis 0 sorry in-use\n"),
            std::string::npos)
      << Status();
  EXPECT_EQ(AskId(vip_), "sorry");
  lbd_->WriteConfig(config(1));
  ASSERT_EQ(lbd_->Ctl({"reload"}).exit_code, 0);
  EXPECT_NE(Status().find("QUORUM web up weight 1 quorum 1 hysteresis 0 sorry idle\n"),
            std::string::npos)
      << Status();
  EXPECT_EQ(AskId(vip_), "b0");
  EXPECT_TRUE(WaitFor([&] { return ReadFile(up_marker) == "1\n"; }));
}

TEST_F(HealthDaemonTest, ReloadThatChangesTheCheckKeepsADownServerDown) {
  // interval 300ms: a replaced check would only run its first check up to
  // 300 ms after the reload, so the status read right after it shows the
  // state the reload left.
  Backend b0("b0"), b1("b1");
  auto check = [&](const std::string& more, const std::string& timeout = "1s") {
    return "    healthcheck: {type: exec, command: 'test ! -e " + dir_.File("down-") +
           "$LBD_RS_PORT', interval: 300ms, timeout: " + timeout + ", rise: 1, fall: 1" + more +
           "}\n";
  };
  StartLbd(MakeConfig(dir_, vip_, check(", inhibit_on_failure: false"),
                      {{b0.address()}, {b1.address()}}));
  SetDown(b1, true);
  ASSERT_TRUE(WaitHealth(
      b1.address(), [](const HealthLine& l) { return l.checks >= 3; }, 5000ms))
      << Status();
  auto h = FindHealth(Status(), b1.address());
  ASSERT_TRUE(h.has_value());
  ASSERT_EQ(h->state, "down");
  ASSERT_EQ(h->table, "out");
  const uint64_t checks = h->checks;

  // inhibit_on_failure is the daemon's business, not the check's: the check
  // keeps running with its state and counters; the server goes back into
  // the table, down (weight 0).
  lbd_->WriteConfig(MakeConfig(dir_, vip_, check(""), {{b0.address()}, {b1.address()}}));
  ASSERT_EQ(lbd_->Ctl({"reload"}).exit_code, 0);
  std::string status = Status();
  h = FindHealth(status, b1.address());
  ASSERT_TRUE(h.has_value()) << status;
  EXPECT_EQ(h->state, "down") << status;
  EXPECT_EQ(h->table, "in") << status;
  EXPECT_GE(h->checks, checks) << status;
  EXPECT_EQ(TableState(status, b1.address()), "down") << status;
  const int b1_accepted = b1.accepted();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(AskId(vip_), "b0");

  // Another check (a new timeout) replaces the old one; it starts from the
  // old one's state, not up: the dead server gets no connection meanwhile.
  lbd_->WriteConfig(MakeConfig(dir_, vip_, check("", "900ms"), {{b0.address()}, {b1.address()}}));
  ASSERT_EQ(lbd_->Ctl({"reload"}).exit_code, 0);
  status = Status();
  h = FindHealth(status, b1.address());
  ASSERT_TRUE(h.has_value()) << status;
  EXPECT_EQ(h->state, "down") << status;
  EXPECT_EQ(TableState(status, b1.address()), "down") << status;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(AskId(vip_), "b0");
  EXPECT_EQ(b1.accepted(), b1_accepted);

  SetDown(b1, false);
  ASSERT_TRUE(WaitFor([&] { return TableState(Status(), b1.address()) == "up"; })) << Status();
  std::set<std::string> seen;
  for (int i = 0; i < 4; ++i) seen.insert(AskId(vip_));
  EXPECT_EQ(seen, (std::set<std::string>{"b0", "b1"}));
}

TEST_F(HealthDaemonTest, SorryServerAddedOrRemovedByAReloadWhileQuorumIsLostIsLogged) {
  Backend b0("b0"), sorry("sorry");
  auto config = [&](bool with_sorry) {
    return MakeConfig(
        dir_, vip_,
        FlagCheck() + (with_sorry ? "    sorry_server: " + sorry.address() + "\n" : std::string()),
        {{b0.address()}});
  };
  StartLbd(config(false));
  SetDown(b0, true);
  ASSERT_TRUE(WaitFor([&] { return Status().find("QUORUM web lost") != std::string::npos; }))
      << Status();
  lbd_->WriteConfig(config(true));
  ASSERT_EQ(lbd_->Ctl({"reload"}).exit_code, 0);
  EXPECT_NE(Status().find("QUORUM web lost weight 0 quorum 1 hysteresis 0 sorry in-use\n"),
            std::string::npos)
      << Status();
  EXPECT_EQ(AskId(vip_), "sorry");
  EXPECT_NE(lbd_->Log().find("service web: new connections go to the sorry server " +
                             sorry.address() + " (quorum lost)"),
            std::string::npos)
      << lbd_->Log();
  lbd_->WriteConfig(config(false));
  ASSERT_EQ(lbd_->Ctl({"reload"}).exit_code, 0);
  EXPECT_NE(lbd_->Log().find("service web: new connections no longer go to a sorry server "
                             "(sorry_server removed; quorum still lost)"),
            std::string::npos)
      << lbd_->Log();
  EXPECT_EQ(AskId(vip_), "");  // no server up, no sorry server: closed
  lbd_->WriteConfig(config(true));
  ASSERT_EQ(lbd_->Ctl({"reload"}).exit_code, 0);
  EXPECT_EQ(AskId(vip_), "sorry");
  SetDown(b0, false);
  ASSERT_TRUE(WaitFor([&] { return Status().find("QUORUM web up") != std::string::npos; }));
  EXPECT_EQ(AskId(vip_), "b0");
  EXPECT_NE(lbd_->Log().find("service web: new connections go to the real servers again "
                             "(quorum regained)"),
            std::string::npos);
}

// Sends `line` + "\n" on a fresh connection to lbd's control socket and
// returns the raw reply through its terminating empty line ("" on failure).
std::string RawControl(const std::string& socket_path, const std::string& line) {
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path.c_str());
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return "";
  timeval tv{5, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (!SendAll(fd.get(), line + "\n")) return "";
  std::string reply;
  char buf[4096];
  while (reply.find("\n\n") == std::string::npos) {
    ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  return reply;
}

TEST_F(HealthDaemonTest, ControlCommandsOnAHeldOutServerAndGarbageKeepTheStateConsistent) {
  Backend b0("b0"), b1("b1");
  StartLbd(MakeConfig(dir_, vip_, FlagCheck(", inhibit_on_failure: false"),
                      {{b0.address()}, {b1.address(), 2}}));
  SetDown(b1, true);
  ASSERT_TRUE(WaitHealth(b1.address(), [](const HealthLine& l) { return l.table == "out"; }))
      << Status();
  const std::string sock = lbd_->socket_path();
  const std::string b1a = b1.address();
  struct Case {
    std::string line;
    std::string reply_prefix;
  };
  const std::vector<Case> cases = {
      {"weight web " + b1a + " 70000", "ERR bad weight '70000'"},
      {"weight web " + b1a + " -1", "ERR bad weight"},
      {"weight web " + b1a + " 99999999999999999999999", "ERR bad weight"},
      {"weight web " + b1a + " ", "ERR usage: weight"},
      {"weight \xff\xfe " + b1a + " 1", "ERR bad service name '?\?'"},
      {"weight web 127.0.0.1:\xff 1", "ERR bad real server '127.0.0.1:?'"},
      {"weight nosuch " + b1a + " 1", "ERR no service 'nosuch'"},
      {"weight web 127.0.0.1:1 1", "ERR service web has no real server 127.0.0.1:1"},
      {"flows", "OK\nIPVS connection entries\n"},
      {"flows web", "ERR service web forwards proxy"},
      {"flows nosuch", "ERR no service 'nosuch'"},
      {"flows --max", "ERR usage: flows"},
      {"flows --max 0", "ERR bad --max '0'"},
      {"flows --max 18446744073709551616", "ERR bad --max"},
      {"flows \x80\x81", "ERR bad service name '?\?'"},
      {"\t \t", "ERR empty command"},
      {std::string(4000, ' ') + "status", "OK\nIP Virtual Server"},
      {"status " + std::string(3000, 'x'), "ERR unknown option 'xxxx"},
      {"drain web " + b1a, "OK\n\n"},
      {"disable web " + b1a, "OK\n\n"},
      {"enable web " + b1a, "OK\n\n"},
      {"weight web " + b1a + " 5", "OK\n\n"},
  };
  for (const Case& c : cases) {
    const std::string reply = RawControl(sock, c.line);
    EXPECT_EQ(reply.rfind(c.reply_prefix, 0), 0u) << c.line.substr(0, 80) << " -> " << reply;
    for (char ch : reply) {
      ASSERT_TRUE(ch == '\n' || (ch >= 0x20 && ch < 0x7f))
          << c.line.substr(0, 80) << " -> " << reply;
    }
  }
  // Still out, down, with the last weight; the check still decides.
  std::string status = Status();
  EXPECT_TRUE(std::regex_search(status, std::regex(b1a + R"( +Proxy +5 +0 +0 +down)"))) << status;
  auto h = FindHealth(status, b1a);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->table, "out");
  EXPECT_NE(status.find("QUORUM web up weight 1 "), std::string::npos) << status;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(AskId(vip_), "b0");
  SetDown(b1, false);
  ASSERT_TRUE(WaitHealth(b1a, [](const HealthLine& l) { return l.table == "in"; })) << Status();
  status = Status();
  EXPECT_TRUE(std::regex_search(status, std::regex(b1a + R"( +Proxy +5 +0 +0 +up)"))) << status;
  EXPECT_NE(status.find("QUORUM web up weight 6 "), std::string::npos) << status;
  // Disabled while held out: back in the table but down until enabled.
  SetDown(b1, true);
  ASSERT_TRUE(WaitHealth(b1a, [](const HealthLine& l) { return l.table == "out"; }));
  ASSERT_EQ(RawControl(sock, "disable web " + b1a), "OK\n\n");
  SetDown(b1, false);
  ASSERT_TRUE(WaitHealth(b1a, [](const HealthLine& l) { return l.table == "in"; }));
  EXPECT_EQ(TableState(Status(), b1a), "down");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(AskId(vip_), "b0");
  ASSERT_EQ(RawControl(sock, "enable web " + b1a), "OK\n\n");
  EXPECT_EQ(TableState(Status(), b1a), "up");
}

TEST_F(HealthDaemonTest, DynamicWeightOfAHeldOutServerIsLoggedAndAppliesWhenItIsBack) {
  Backend b0("b0"), b1("b1");
  const std::string code = dir_.File("code");
  dir_.Write("code", "0");
  StartLbd(MakeConfig(dir_, vip_,
                      "    healthcheck: {type: exec, command: 'exit $(cat " + code +
                          ")', dynamic_weight: true, inhibit_on_failure: false, interval: 100ms,"
                          " timeout: 1s, rise: 3, fall: 1}\n",
                      {{b0.address()}, {b1.address()}}));
  dir_.Write("code", "1");
  ASSERT_TRUE(WaitHealth(b1.address(), [](const HealthLine& l) { return l.table == "out"; }))
      << Status();
  dir_.Write("code", "7");  // up with weight 5, after 3 passes
  ASSERT_TRUE(WaitFor([&] { return TableState(Status(), b1.address()) == "up"; })) << Status();
  EXPECT_TRUE(std::regex_search(Status(), std::regex(b1.address() + R"( +Proxy +5 +0 +0 +up)")))
      << Status();
  EXPECT_NE(lbd_->Log().find("real server " + b1.address() +
                             " weight 5 (health check; out of the table, applies when it is back)"),
            std::string::npos)
      << lbd_->Log();
}

}  // namespace
}  // namespace lbtest
