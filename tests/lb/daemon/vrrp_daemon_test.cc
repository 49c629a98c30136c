// lbd with a `vrrp:` section: two lbd (priority 150 in A, 100 in B), each
// proxying VIP:8080 to an in-test backend of its own namespace, and a client
// namespace C whose bridge joins both (veth pairs). Addresses (10.202.0.0/24)
// exist only inside the namespaces; the proxies bind the VIP before they own
// it (net.ipv4.ip_nonlocal_bind=1 in A and B).
//
// Cleanup: every process is started by this test and killed by its PID; the
// namespaces are deleted by a RAII guard, by a SIGINT/SIGTERM handler, and
// (for a run that was SIGKILLed) at the next start: namespaces named
// lbdd-<pid>- whose <pid> is no longer alive are removed. Every wait is
// bounded.
//
// Needs root (namespaces, raw sockets); skipped otherwise.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/time.h>

#include <cstdio>

#include "lb_test_util.h"
#include "lbd_process.h"
#include "netns.h"
#include "skip.h"

namespace lbtest {
namespace {

using std::chrono::milliseconds;

const char* const kVip = "10.202.0.100";
constexpr int kPort = 8080;
// Master_Down_Interval of B (priority 100, advert 1 s): 3 x 1 s + Skew_Time
// (256 - 100) / 256 s.
constexpr double kSkewB = (256.0 - 100.0) / 256.0;
constexpr double kMasterDownB = 3.0 + kSkewB;

using netns::InNamespace;
using netns::Sh;

// A client socket to ip:port with a bounded connect; invalid on failure.
Fd ConnectTo(const std::string& ip, int port, milliseconds timeout) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in sa = Addr(ip, static_cast<uint16_t>(port));
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    if (errno != EINPROGRESS) return Fd();
    pollfd p{fd.get(), POLLOUT, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return Fd();
    int error = 0;
    socklen_t len = sizeof(error);
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) return Fd();
  }
  const int flags = fcntl(fd.get(), F_GETFL);
  fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  timeval tv{0, static_cast<suseconds_t>(timeout.count() * 1000)};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return fd;
}

// One request through the VIP: the backend's name, "" on any failure.
std::string AskVip(milliseconds timeout) {
  Fd fd = ConnectTo(kVip, kPort, timeout);
  if (!fd.valid() || !SendAll(fd.get(), "ID\n")) return "";
  return Trim(ReadAll(fd.get(), 256));
}

// `GET /metrics` from 127.0.0.1:9100 of the calling thread's namespace.
std::string Metrics() {
  Fd fd = ConnectTo("127.0.0.1", 9100, milliseconds(1000));
  if (!fd.valid() || !SendAll(fd.get(), "GET /metrics HTTP/1.0\r\n\r\n")) return "";
  return ReadAll(fd.get());
}

// lbd started inside a namespace (netns::Process: `ip netns exec` execs it,
// so the PID is lbd's). Killed with SIGKILL and reaped when destroyed.
class NsLbd {
 public:
  NsLbd(const TempDir& dir, const std::string& ns, const std::string& tag,
        const std::string& config)
      : dir_(dir),
        config_path_(dir.File("lbd-" + tag + ".yaml")),
        socket_path_(dir.File("lbd-" + tag + ".sock")),
        log_path_(dir.File("lbd-" + tag + ".log")) {
    std::ofstream(config_path_) << config;
    process_.emplace(ns, std::vector<std::string>{LBD_PATH, "-c", config_path_}, log_path_);
  }
  ~NsLbd() { Kill(); }
  void WriteConfig(const std::string& config) const {
    const std::string tmp = config_path_ + ".tmp";  // lbd never reads half a file
    { std::ofstream(tmp) << config; }
    std::rename(tmp.c_str(), config_path_.c_str());
  }
  NsLbd(const NsLbd&) = delete;
  NsLbd& operator=(const NsLbd&) = delete;

  // Until the control socket answers (bounded).
  bool WaitReady() {
    return WaitFor([&] { return running() && Ctl({"status"}).exit_code == 0; }, 10000ms);
  }
  RunResult Ctl(std::vector<std::string> args) const {
    std::vector<std::string> argv = {LBCTL_PATH, "-s", socket_path_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(dir_, argv, 3000ms);
  }
  // The first VRRP instance of `lbctl status --json`; null JSON if unreachable.
  Json Vrrp() const {
    RunResult r = Ctl({"status", "--json"});
    if (r.exit_code != 0) return Json{};
    auto j = JsonParser::Parse(r.out);
    if (!j || (*j)["vrrp"].array().empty()) return Json{};
    return (*j)["vrrp"].array()[0];
  }
  std::string State() const { return Vrrp()["state"].str(); }

  bool running() { return process_->running(); }
  void Signal(int sig) { process_->Signal(sig); }
  // The exit code once lbd exited within `timeout`.
  std::optional<int> WaitExit(milliseconds timeout) {
    if (!process_->Wait(timeout)) return std::nullopt;
    return process_->exit_code();
  }
  void Kill() { process_->Kill(SIGKILL); }
  std::string Log() const { return ReadFile(log_path_); }

 private:
  const TempDir& dir_;
  std::string config_path_, socket_path_, log_path_;
  std::optional<netns::Process> process_;
};

// A and B (the two lbd) and C (the client) on a bridge in C.
class Topology {
 public:
  Topology() : namespaces_("lbdd", {"a", "b", "c"}) {
    const std::string id = std::to_string(getpid());
    const std::string &a = namespaces_[0], &b = namespaces_[1], &c = namespaces_[2];
    const std::string va = "lbdd" + id + "a", vb = "lbdd" + id + "b";
    const std::string ca = "lbdd" + id + "ca", cb = "lbdd" + id + "cb";
    auto in = [](const std::string& ns) { return "ip -n " + ns + " "; };
    ok_ = namespaces_.ok() &&
          Sh("ip link add " + va + " netns " + a + " type veth peer name " + ca + " netns " + c) &&
          Sh("ip link add " + vb + " netns " + b + " type veth peer name " + cb + " netns " + c) &&
          Sh(in(a) + "link set " + va + " name eth0") &&
          Sh(in(b) + "link set " + vb + " name eth0") && Sh(in(c) + "link add br0 type bridge") &&
          Sh(in(c) + "link set " + ca + " master br0") &&
          Sh(in(c) + "link set " + cb + " master br0") &&
          Sh(in(a) + "addr add 10.202.0.1/24 dev eth0") &&
          Sh(in(b) + "addr add 10.202.0.2/24 dev eth0") &&
          Sh(in(c) + "addr add 10.202.0.3/24 dev br0") && Sh(in(c) + "link set " + ca + " up") &&
          Sh(in(c) + "link set " + cb + " up") && Sh(in(c) + "link set br0 up") &&
          Sh(in(a) + "link set eth0 up") && Sh(in(b) + "link set eth0 up") &&
          Sh("ip netns exec " + a + " sysctl -qw net.ipv4.ip_nonlocal_bind=1") &&
          Sh("ip netns exec " + b + " sysctl -qw net.ipv4.ip_nonlocal_bind=1");
  }
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  bool ok() const { return ok_; }
  const std::string& a() const { return namespaces_[0]; }
  const std::string& b() const { return namespaces_[1]; }
  const std::string& c() const { return namespaces_[2]; }

  static bool HasVip(const std::string& ns) { return netns::HasAddress(ns, "eth0", kVip); }
  static bool Up(const std::string& ns, const std::string& dev) { return netns::LinkUp(ns, dev); }

 private:
  netns::Namespaces namespaces_;
  bool ok_ = false;
};

std::string LbdConfig(const TempDir& dir, const std::string& tag, int priority,
                      uint16_t backend_port) {
  std::ostringstream y;
  y << "global:\n"
    << "  workers: 1\n"
    << "  control_socket: " << dir.File("lbd-" + tag + ".sock") << "\n"
    << "  metrics_listen: 127.0.0.1:9100\n"
    << "  drain_timeout: 2s\n"
    << "virtual_services:\n"
    << "  - name: web\n"
    << "    listen: " << kVip << ":" << kPort << "\n"
    << "    scheduler: rr\n"
    << "    timeouts: {connect: 500ms}\n"
    << "    healthcheck: {type: tcp, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}\n"
    << "    real_servers:\n"
    << "      - {address: 127.0.0.1:" << backend_port << "}\n"
    << "vrrp:\n"
    << "  - name: VI_1\n"
    << "    interface: eth0\n"
    << "    virtual_router_id: 51\n"
    << "    priority: " << priority << "\n"
    << "    advert_interval: 1s\n"
    << "    virtual_ips: [" << kVip << "/24]\n"
    << "    track_services: [{service: web, weight: -60}]\n";
  return y.str();
}

// Now, in seconds of the UTC day (the clock of lbd's log stamps).
double WallSeconds() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec % 86400) + static_cast<double>(tv.tv_usec) / 1e6;
}

// The stamp of an lbd log line ("2026-11-25T12:50:50.135Z INFO ...") in
// seconds of the UTC day, or -1e9 when the line has none.
double LogSeconds(const std::string& line) {
  if (line.size() < 24 || line[10] != 'T' || line[23] != 'Z') return -1e9;
  return std::stod(line.substr(11, 2)) * 3600 + std::stod(line.substr(14, 2)) * 60 +
         std::stod(line.substr(17, 6));
}

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

class VrrpDaemon : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() == 0) netns::InstallCleanup("lbdd");
  }

  void SetUp() override {
    LBD_SKIP_UNLESS(geteuid() == 0, "needs root (network namespaces, raw sockets)");
    topology_.emplace();
    ASSERT_TRUE(topology_->ok()) << "could not build the namespaces";
    // The veth carriers come up asynchronously.
    ASSERT_TRUE(WaitFor(
        [&] {
          return Topology::Up(topology_->a(), "eth0") && Topology::Up(topology_->b(), "eth0") &&
                 Topology::Up(topology_->c(), "br0");
        },
        3000ms));
    backend_a_ = InNamespace<std::unique_ptr<Backend>>(
        topology_->a(), [] { return std::make_unique<Backend>("backend-a"); });
    backend_b_ = InNamespace<std::unique_ptr<Backend>>(
        topology_->b(), [] { return std::make_unique<Backend>("backend-b"); });
    ASSERT_TRUE(backend_a_ && backend_b_);
  }

  void TearDown() override {
    lbd_a_.reset();
    lbd_b_.reset();
    if (HasFailure()) {
      for (const char* log : {"lbd-a.log", "lbd-b.log"}) {
        std::fprintf(stderr, "---- %s ----\n%s", log, ReadFile(dir_.File(log)).c_str());
      }
    }
    backend_a_.reset();
    backend_b_.reset();
    topology_.reset();
  }

  // A (150) and B (100) running; A MASTER holding the VIP, B BACKUP.
  void StartPair() {
    lbd_a_ = std::make_unique<NsLbd>(dir_, topology_->a(), "a",
                                     LbdConfig(dir_, "a", 150, backend_a_->port()));
    lbd_b_ = std::make_unique<NsLbd>(dir_, topology_->b(), "b",
                                     LbdConfig(dir_, "b", 100, backend_b_->port()));
    ASSERT_TRUE(lbd_a_->WaitReady()) << lbd_a_->Log();
    ASSERT_TRUE(lbd_b_->WaitReady()) << lbd_b_->Log();
    // Both start BACKUP; A's Master_Down_Interval is 3 + 0.414 s.
    ASSERT_TRUE(WaitFor(
        [&] {
          return lbd_a_->State() == "MASTER" && lbd_b_->State() == "BACKUP" &&
                 Topology::HasVip(topology_->a()) && !Topology::HasVip(topology_->b());
        },
        10000ms));
  }

  // Seconds from `since` (WallSeconds()) to the first "entering MASTER"
  // that B logged after it, or -1: lbd stamps the transition when it
  // happens, so polling latency on a loaded host does not count.
  double TimeUntilBMaster(double since, milliseconds limit) {
    double result = -1;
    WaitFor(
        [&] {
          std::istringstream log(lbd_b_->Log());
          std::string line;
          for (int i = 0; i < 100000 && std::getline(log, line); ++i) {
            if (line.find("vrrp VI_1: entering MASTER state") == std::string::npos) continue;
            double d = LogSeconds(line) - since;
            if (d < -43200) d += 86400;  // midnight
            if (d >= 0) {
              result = d;
              return true;
            }
          }
          return false;
        },
        limit);
    return result;
  }

  TempDir dir_;
  std::optional<Topology> topology_;
  std::unique_ptr<Backend> backend_a_, backend_b_;
  std::unique_ptr<NsLbd> lbd_a_, lbd_b_;
};

TEST_F(VrrpDaemon, ElectsMasterShowsStatusAndTakesOverAfterCrash) {
  StartPair();

  // lbctl status: the ipvsadm table, then one VRRP line.
  RunResult status = lbd_a_->Ctl({"status"});
  ASSERT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("TCP  10.202.0.100:8080 rr (web)\n"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("VRRP VI_1 eth0 vrid 51 MASTER prio 150/150 master 10.202.0.1 "),
            std::string::npos)
      << status.out;
  EXPECT_NE(lbd_b_->Ctl({"status"})
                .out.find("VRRP VI_1 eth0 vrid 51 BACKUP prio 100/100 master "
                          "10.202.0.1 adverts tx "),
            std::string::npos);
  Json a = lbd_a_->Vrrp();
  EXPECT_EQ(a["effective_priority"].number(), 150);
  EXPECT_GT(a["counters"]["adverts_sent"].number(), 0);
  EXPECT_GT(lbd_b_->Vrrp()["counters"]["adverts_received"].number(), 0);
  EXPECT_EQ(lbd_b_->Vrrp()["counters"]["dropped"].number(), 0);
  const std::string metrics = InNamespace<std::string>(topology_->a(), [] { return Metrics(); });
  EXPECT_NE(metrics.find("lbd_vrrp_state{instance=\"VI_1\",interface=\"eth0\",vrid=\"51\"} 2\n"),
            std::string::npos)
      << metrics;

  // The client reaches A's backend through the VIP.
  EXPECT_EQ(InNamespace<std::string>(topology_->c(), [] { return AskVip(1000ms); }), "backend-a");

  // A reload of the same file keeps the running instance (no new election).
  ASSERT_EQ(lbd_a_->Ctl({"reload"}).exit_code, 0);
  EXPECT_EQ(lbd_a_->State(), "MASTER");
  EXPECT_EQ(lbd_a_->Log().find("restarting the VRRP instances"), std::string::npos);

  // A crashes: nothing sent; B takes over after its Master_Down_Interval.
  const double t0 = WallSeconds();
  lbd_a_->Kill();
  const double t = TimeUntilBMaster(t0, 8000ms);
  std::printf("[lbd vrrp] takeover after SIGKILL of the master lbd: %.3f s (bound %.3f s)\n", t,
              kMasterDownB + 0.5);
  ASSERT_GT(t, 0);
  EXPECT_LT(t, kMasterDownB + 0.5);
  EXPECT_TRUE(WaitFor([&] { return Topology::HasVip(topology_->b()); }, 3000ms));
  EXPECT_TRUE(WaitFor([&] { return lbd_b_->State() == "MASTER"; }, 3000ms));
  EXPECT_NE(lbd_b_->Ctl({"status"})
                .out.find("VRRP VI_1 eth0 vrid 51 MASTER prio 100/100 master "
                          "10.202.0.2 "),
            std::string::npos);
}

TEST_F(VrrpDaemon, GracefulStopHandsOverAfterSkewTime) {
  StartPair();
  const double t0 = WallSeconds();
  lbd_a_->Signal(SIGTERM);
  const double t = TimeUntilBMaster(t0, 5000ms);
  std::printf("[lbd vrrp] takeover after SIGTERM of the master lbd: %.3f s (Skew_Time %.3f s)\n", t,
              kSkewB);
  ASSERT_GT(t, 0);
  EXPECT_LT(t, kSkewB + 0.6);
  EXPECT_EQ(lbd_a_->WaitExit(5000ms), std::optional<int>(0));
  EXPECT_FALSE(Topology::HasVip(topology_->a())) << "a graceful stop removes the VIP";
  EXPECT_TRUE(WaitFor([&] { return Topology::HasVip(topology_->b()); }, 3000ms));
}

// A's only real server fails its health check: A's effective priority drops
// to 150 - 60 = 90 < 100 and B preempts. A reload that gives A's service a
// live server (the `vrrp:` section unchanged: the instance is kept) lifts A's
// priority again and A preempts B.
TEST_F(VrrpDaemon, TrackedServiceDownLowersPriorityAndPeerTakesOver) {
  StartPair();
  const double t0 = WallSeconds();
  backend_a_->Stop();
  const double t = TimeUntilBMaster(t0, 8000ms);
  std::printf("[lbd vrrp] takeover after the master's service went down: %.3f s\n", t);
  ASSERT_GT(t, 0);
  // Health check (200 ms interval, fall 1) + B's Master_Down_Interval.
  EXPECT_LT(t, kMasterDownB + 1.0);
  EXPECT_TRUE(WaitFor([&] { return lbd_a_->State() == "BACKUP"; }, 3000ms));
  Json a = lbd_a_->Vrrp();
  EXPECT_EQ(a["priority"].number(), 150);
  EXPECT_EQ(a["effective_priority"].number(), 90);
  EXPECT_TRUE(WaitFor([&] { return Topology::HasVip(topology_->b()); }, 3000ms));
  EXPECT_TRUE(WaitFor([&] { return !Topology::HasVip(topology_->a()); }, 3000ms));

  // lbctl on B: the service there has its server, so B keeps priority 100.
  EXPECT_EQ(lbd_b_->Vrrp()["effective_priority"].number(), 100);

  auto backend = InNamespace<std::unique_ptr<Backend>>(
      topology_->a(), [] { return std::make_unique<Backend>("backend-a2"); });
  ASSERT_TRUE(backend);
  lbd_a_->WriteConfig(LbdConfig(dir_, "a", 150, backend->port()));
  const auto t1 = Clock::now();
  ASSERT_EQ(lbd_a_->Ctl({"reload"}).exit_code, 0);
  EXPECT_EQ(lbd_a_->Vrrp()["effective_priority"].number(), 150);
  ASSERT_TRUE(WaitFor([&] { return lbd_a_->State() == "MASTER"; }, 8000ms));
  std::printf("[lbd vrrp] preemption after the service came back: %.3f s\n", SecondsSince(t1));
  EXPECT_TRUE(WaitFor([&] { return lbd_b_->State() == "BACKUP"; }, 3000ms));
  EXPECT_EQ(lbd_a_->Log().find("restarting the VRRP instances"), std::string::npos);
  // C learns the VIP's new MAC from A's gratuitous ARPs.
  EXPECT_TRUE(WaitFor(
      [&] {
        return InNamespace<std::string>(topology_->c(), [] { return AskVip(300ms); }) ==
               "backend-a2";
      },
      3000ms));
}

// A client in C asks through the VIP in a loop while the master lbd is
// SIGKILLed; the outage is the time between the last answer before and the
// first answer after.
TEST_F(VrrpDaemon, FailoverUnderTraffic) {
  StartPair();
  struct Sample {
    double at;
    std::string who;
  };
  std::vector<Sample> samples;
  std::atomic<bool> stop{false};
  std::atomic<double> killed_at{-1};
  const auto t0 = Clock::now();
  std::thread client([&] {
    InNamespace<int>(topology_->c(), [&] {
      // Bounded: at most 20 s or 4000 requests.
      for (int i = 0; i < 4000 && !stop.load() && SecondsSince(t0) < 20; ++i) {
        std::string who = AskVip(300ms);
        samples.push_back({SecondsSince(t0), who});
        std::this_thread::sleep_for(10ms);
      }
      return 0;
    });
  });
  // A second of answers from A, then the crash.
  std::this_thread::sleep_for(1000ms);
  killed_at = SecondsSince(t0);
  lbd_a_->Kill();
  // Until B answered for a second, bounded.
  WaitFor([&] { return lbd_b_->State() == "MASTER" && Topology::HasVip(topology_->b()); }, 10000ms);
  std::this_thread::sleep_for(1500ms);
  stop = true;
  client.join();

  double last_before = -1, first_after = -1;
  int answered_a = 0, answered_b = 0, failed = 0;
  for (const Sample& s : samples) {
    if (s.who == "backend-a") {
      ++answered_a;
      last_before = s.at;
    } else if (s.who == "backend-b") {
      ++answered_b;
      if (first_after < 0) first_after = s.at;
    } else {
      ++failed;
    }
  }
  const double outage = first_after - last_before;
  std::printf(
      "[lbd vrrp] failover under traffic: outage %.3f s (last answer from A %.3f s, first from B "
      "%.3f s, kill at %.3f s; %d answers from A, %d from B, %d failed)\n",
      outage, last_before, first_after, killed_at.load(), answered_a, answered_b, failed);
  ASSERT_GT(answered_a, 10);
  ASSERT_GT(answered_b, 10);
  EXPECT_GT(first_after, last_before);
  EXPECT_LT(outage, kMasterDownB + 1.5);
}

}  // namespace
}  // namespace lbtest
