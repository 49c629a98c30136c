// lbd-vrrp against the real keepalived (2.2.7, VRRP only: -P), and two
// lbd-vrrp as a pair, in two network namespaces joined by a veth pair that
// the test creates. Addresses (10.200.1.0/24) exist only inside them.
//
// Cleanup: every process is started by this test and killed by its PID; the
// namespaces are deleted by a RAII guard, by a SIGINT/SIGTERM handler, and
// (for a run that was SIGKILLed) at the next start: namespaces named
// lbdv-<pid>- whose <pid> is no longer alive are removed.
//
// Needs root (namespaces, raw sockets). The keepalived cases are skipped when
// /usr/sbin/keepalived is missing (scripts/setup should install it).
#include <arpa/inet.h>
#include <ev.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lbd/vrrp/vrrp.h"
#include "lbsched/endpoint.h"
#include "netns.h"
#include "skip.h"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const char* const kKeepalived = "/usr/sbin/keepalived";
const char* const kVip = "10.200.1.100";
// 3 x 1 s + Skew_Time of priority 100 (609 ms) + 0.5 s (the brief's bound).
constexpr double kTakeoverBound = 3.0 + 0.609 + 0.5;
// The VIP's appearance may lag the takeover while the kernel's RTNL lock is
// held by other work on this shared host (namespace teardown, device moves).
constexpr double kRtnlAllowance = 3.0;

using netns::Output;
using netns::Process;
using netns::Sh;
using netns::TrackPid;
using netns::UntrackPid;
using netns::WaitFor;

// keepalived -P -n: the parent stays in the foreground, the VRRP work happens
// in a child whose PID is in the -r file.
class Keepalived {
 public:
  Keepalived(const std::string& ns, const std::string& dir, const std::string& conf) {
    conf_ = dir + "/keepalived-" + std::to_string(++runs_) + ".conf";
    pidfile_ = conf_ + ".pid";
    vrrp_pidfile_ = conf_ + ".vrrp.pid";
    std::ofstream(conf_) << conf;
    process_.emplace(ns,
                     std::vector<std::string>{kKeepalived, "-P", "-n", "-l", "-D", "-f", conf_,
                                              "-p", pidfile_, "-r", vrrp_pidfile_},
                     dir + "/keepalived.log");
    // The child's PID, for the crash and for cleanup.
    WaitFor([this] { return VrrpPid() > 0; }, milliseconds(3000));
    child_ = VrrpPid();
    if (child_ > 0) TrackPid(child_);
  }
  ~Keepalived() { Crash(); }

  // A crash: nothing sent, VIPs left behind. The parent is stopped first so
  // it cannot restart the child or signal it.
  void Crash() {
    if (!process_ || !process_->running()) return;
    process_->Signal(SIGSTOP);
    if (child_ > 0) kill(child_, SIGKILL);
    process_->Kill(SIGKILL);
    Forget();
  }
  // Graceful: keepalived sends priority 0 and removes its VIPs.
  bool Terminate() {
    if (!process_) return true;
    process_->Signal(SIGTERM);
    const bool ok = process_->Wait(milliseconds(5000));
    Forget();
    return ok;
  }

 private:
  pid_t VrrpPid() const {
    std::ifstream in(vrrp_pidfile_);
    pid_t pid = 0;
    in >> pid;
    return pid;
  }
  void Forget() {
    if (child_ > 0) {
      // Reaped by the parent, or by init once the parent is gone.
      UntrackPid(child_);
      child_ = 0;
    }
  }

  static inline int runs_ = 0;
  std::string conf_, pidfile_, vrrp_pidfile_;
  std::optional<Process> process_;
  pid_t child_ = 0;
};

// A raw VRRP socket of the test's own in a namespace: the first advert of a
// new master is the protocol-level takeover. (The VIP appears a little later:
// adding it waits for the kernel's RTNL lock, which every namespace and
// device change on this shared host also takes.)
class AdvertWatcher {
 public:
  explicit AdvertWatcher(const std::string& ns) {
    fd_ = netns::InNamespace<int>(
        ns,
        [] {
          const int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 112);
          if (fd < 0) return fd;
          ip_mreqn group{};
          group.imr_multiaddr.s_addr = htonl(0xe0000012);  // 224.0.0.18
          group.imr_ifindex = static_cast<int>(if_nametoindex("eth0"));
          setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &group, sizeof(group));
          return fd;
        },
        -1);
    uint8_t buffer[2048];
    for (int i = 0; i < 1000 && fd_ >= 0 && recv(fd_, buffer, sizeof(buffer), 0) > 0; ++i) {
    }
  }
  ~AdvertWatcher() {
    if (fd_ >= 0) close(fd_);
  }
  AdvertWatcher(const AdvertWatcher&) = delete;
  AdvertWatcher& operator=(const AdvertWatcher&) = delete;

  // Seconds from `since` to the first advert with priority > 0 from
  // `source`, or -1.
  double FirstAdvertFrom(const std::string& source, Clock::time_point since, milliseconds limit) {
    const auto end = since + limit;
    for (int i = 0; i < 100000 && fd_ >= 0 && Clock::now() < end; ++i) {
      pollfd p{fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<milliseconds>(end - Clock::now()).count();
      if (poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left))) <= 0) continue;
      uint8_t b[2048];
      const ssize_t n = recv(fd_, b, sizeof(b), 0);
      const auto at = Clock::now();
      if (n < 20) continue;
      const size_t ihl = static_cast<size_t>(b[0] & 0x0f) * 4;
      if (static_cast<size_t>(n) < ihl + 8) continue;
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, b + 12, text, sizeof(text));
      if (source == text && b[ihl + 2] != 0) {
        return std::chrono::duration<double>(at - since).count();
      }
    }
    return -1;
  }

 private:
  int fd_ = -1;
};

// --- topology -----------------------------------------------------------------

class Topology {
 public:
  Topology() : namespaces_("lbdv", {"a", "b"}) {
    const std::string& a = namespaces_[0];
    const std::string& b = namespaces_[1];
    const std::string va = "lbdv" + std::to_string(getpid()) + "a";
    const std::string vb = "lbdv" + std::to_string(getpid()) + "b";
    ok_ = namespaces_.ok() &&
          Sh("ip link add " + va + " netns " + a + " type veth peer name " + vb + " netns " + b) &&
          Sh("ip -n " + a + " link set " + va + " name eth0") &&
          Sh("ip -n " + b + " link set " + vb + " name eth0") &&
          Sh("ip -n " + a + " addr add 10.200.1.1/24 dev eth0") &&
          Sh("ip -n " + b + " addr add 10.200.1.2/24 dev eth0") &&
          Sh("ip -n " + a + " link set eth0 up") && Sh("ip -n " + b + " link set eth0 up");
  }
  bool ok() const { return ok_; }
  const std::string& a() const { return namespaces_[0]; }
  const std::string& b() const { return namespaces_[1]; }

  static bool HasVip(const std::string& ns) { return netns::HasAddress(ns, "eth0", kVip); }

 private:
  netns::Namespaces namespaces_;
  bool ok_ = false;
};

std::string LbdConfig(int version, int priority, bool preempt,
                      const std::vector<std::string>& peers = {}, const std::string& pass = "",
                      const std::string& extra = "") {
  std::ostringstream y;
  y << "vrrp:\n"
    << "  - name: VI_1\n"
    << "    interface: eth0\n"
    << "    virtual_router_id: 51\n"
    << "    priority: " << priority << "\n"
    << "    version: " << version << "\n"
    << "    advert_interval: 1s\n"
    << "    preempt: " << (preempt ? "true" : "false") << "\n"
    << "    virtual_ips: [" << kVip << "/24]\n";
  if (!pass.empty()) y << "    auth_pass: " << pass << "\n";
  if (!peers.empty()) {
    y << "    unicast_peers: [";
    for (size_t i = 0; i < peers.size(); ++i) y << (i ? ", " : "") << peers[i];
    y << "]\n";
  }
  return y.str() + extra;
}

std::string KeepalivedConfig(int version, int priority, bool preempt, const std::string& pass) {
  std::ostringstream c;
  c << "global_defs {\n  router_id lbdv\n}\n"
    << "vrrp_instance VI_1 {\n"
    << "  state BACKUP\n"
    << "  interface eth0\n"
    << "  virtual_router_id 51\n"
    << "  priority " << priority << "\n"
    << "  advert_int 1\n"
    << "  version " << version << "\n";
  if (!preempt) c << "  nopreempt\n";
  if (!pass.empty()) {
    c << "  authentication {\n    auth_type PASS\n    auth_pass " << pass << "\n  }\n";
  }
  c << "  virtual_ipaddress {\n    " << kVip << "/24\n  }\n}\n";
  return c.str();
}

// From lbd-vrrp's log ("HH:MM:SS.mmm vrrp VI_1: ..."): seconds from the
// last "left (priority 0)" to the "entering MASTER" after it, or -1.
double SkewFromLog(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  double left = -1;
  double result = -1;
  auto seconds = [](const std::string& l) {
    return std::stod(l.substr(0, 2)) * 3600 + std::stod(l.substr(3, 2)) * 60 +
           std::stod(l.substr(6, 6));
  };
  for (int i = 0; i < 100000 && std::getline(in, line); ++i) {
    if (line.size() < 12 || line[2] != ':' || line[8] != '.') continue;
    if (line.find("left (priority 0)") != std::string::npos) left = seconds(line);
    if (left >= 0 && line.find("entering MASTER") != std::string::npos) {
      result = seconds(line) - left;
      left = -1;
    }
  }
  return result;
}

class VrrpIntegration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { netns::InstallCleanup("lbdv"); }

  void SetUp() override {
    LBD_SKIP_UNLESS(geteuid() == 0, "needs root (network namespaces, raw sockets)");
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    dir_ = "/tmp/lbdv-" + std::to_string(getpid()) + "-" + name;
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    topology_.emplace();
    ASSERT_TRUE(topology_->ok()) << "could not build the namespaces";
    // The veth carrier comes up asynchronously.
    ASSERT_TRUE(WaitFor([&] { return netns::LinkUp(topology_->b(), "eth0"); }, milliseconds(3000)));
  }

  void TearDown() override {
    lbd_a_.reset();
    lbd_b_.reset();
    keepalived_.reset();
    if (HasFailure()) {
      for (const char* log : {"lbd-a.log", "lbd-b.log", "keepalived.log"}) {
        std::ifstream in(dir_ + "/" + log);
        if (!in) continue;
        std::stringstream s;
        s << in.rdbuf();
        std::fprintf(stderr, "---- %s ----\n%s", log, s.str().c_str());
      }
    }
    topology_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  bool HaveKeepalived() const { return access(kKeepalived, X_OK) == 0; }

  std::unique_ptr<Process> StartLbd(const std::string& ns, const std::string& tag,
                                    const std::string& yaml) {
    const std::string file = dir_ + "/lbd-" + tag + ".yaml";
    std::ofstream(file) << yaml;
    return std::make_unique<Process>(ns, std::vector<std::string>{LBD_VRRP_PATH, "-c", file},
                                     dir_ + "/lbd-" + tag + ".log");
  }

  // A holds the VIP and B does not (or the reverse).
  bool Holder(bool a_holds) const {
    return Topology::HasVip(topology_->a()) == a_holds &&
           Topology::HasVip(topology_->b()) == !a_holds;
  }
  bool WaitHolder(bool a_holds, milliseconds timeout) const {
    return WaitFor([&] { return Holder(a_holds); }, timeout);
  }
  struct Takeover {
    double advert = -1;  // seconds to the new master's first advert (protocol level)
    double vip = -1;     // seconds until its namespace shows the VIP
  };
  // Runs `action` (a kill) and times the takeover by `new_master` (whose
  // namespace is `vip_ns`), watching adverts from inside `watch_ns`.
  Takeover Measure(const std::string& watch_ns, const std::string& new_master,
                   const std::string& vip_ns, const std::function<void()>& action) {
    AdvertWatcher watcher(watch_ns);
    const auto t0 = Clock::now();
    action();
    Takeover t;
    t.advert = watcher.FirstAdvertFrom(new_master, t0, milliseconds(8000));
    t.vip = TimeUntilVip(vip_ns, t0, milliseconds(10000));
    return t;
  }
  void Report(const char* what, const Takeover& t, double skew = -1) {
    std::printf("[vrrp] %s: first advert %.3f s, VIP visible %.3f s", what, t.advert, t.vip);
    if (skew >= 0) std::printf(", %.3f s after the priority-0 advert", skew);
    std::printf("\n");
    std::fflush(stdout);
  }

  // Seconds until `ns` holds the VIP, or a negative number.
  static double TimeUntilVip(const std::string& ns, Clock::time_point since, milliseconds limit) {
    if (!WaitFor([&] { return Topology::HasVip(ns); }, limit)) return -1;
    return std::chrono::duration<double>(Clock::now() - since).count();
  }

  std::string dir_;
  std::optional<Topology> topology_;
  std::unique_ptr<Process> lbd_a_;
  std::unique_ptr<Process> lbd_b_;
  std::unique_ptr<Keepalived> keepalived_;
};

class VrrpInterop : public VrrpIntegration, public ::testing::WithParamInterface<int> {};

// keepalived (150) master in A, lbd-vrrp (100) backup in B.
TEST_P(VrrpInterop, LbdBacksUpKeepalived) {
  LBD_SKIP_UNLESS(HaveKeepalived(), "keepalived is not installed (apt-get install keepalived)");
  const int version = GetParam();
  const std::string pass = version == 2 ? "lbdpass" : "";
  const std::string a = topology_->a(), b = topology_->b();
  keepalived_ = std::make_unique<Keepalived>(a, dir_, KeepalivedConfig(version, 150, true, pass));
  lbd_b_ = StartLbd(b, "b", LbdConfig(version, 100, true, {}, pass));
  ASSERT_TRUE(WaitHolder(true, milliseconds(8000))) << "keepalived (150) should be master";

  // Crash keepalived: lbd takes over after Master_Down_Interval.
  const std::string v = "v" + std::to_string(version) + " ";
  Takeover t = Measure(a, "10.200.1.2", b, [&] { keepalived_->Crash(); });
  Report((v + "lbd-vrrp takeover after SIGKILL of keepalived master").c_str(), t);
  ASSERT_GT(t.advert, 0) << "lbd-vrrp did not take over";
  EXPECT_LT(t.advert, kTakeoverBound);
  ASSERT_GT(t.vip, 0);
  EXPECT_LT(t.vip, kTakeoverBound + kRtnlAllowance);

  // keepalived comes back and preempts (it removes its stale VIP at start).
  keepalived_ = std::make_unique<Keepalived>(a, dir_, KeepalivedConfig(version, 150, true, pass));
  ASSERT_TRUE(WaitHolder(true, milliseconds(8000))) << "restarted keepalived should preempt";

  // Graceful stop: priority 0, lbd takes over after Skew_Time. Timed from
  // keepalived's priority-0 advert (lbd's log): keepalived itself takes
  // 0.4 s to a few seconds from SIGTERM to sending it.
  t = Measure(a, "10.200.1.2", b, [&] { ASSERT_TRUE(keepalived_->Terminate()); });
  const double skew = SkewFromLog(dir_ + "/lbd-b.log");
  Report((v + "lbd-vrrp takeover after SIGTERM of keepalived master").c_str(), t, skew);
  ASSERT_GT(t.vip, 0);
  EXPECT_GT(skew, 0.5);  // Skew_Time of priority 100: 609 ms
  EXPECT_LT(skew, 0.609 + 0.2);
  EXPECT_FALSE(Topology::HasVip(a));
}

// lbd-vrrp (150) master in A, keepalived (100) backup in B.
TEST_P(VrrpInterop, KeepalivedBacksUpLbd) {
  LBD_SKIP_UNLESS(HaveKeepalived(), "keepalived is not installed (apt-get install keepalived)");
  const int version = GetParam();
  const std::string pass = version == 2 ? "lbdpass" : "";
  const std::string a = topology_->a(), b = topology_->b();
  keepalived_ = std::make_unique<Keepalived>(b, dir_, KeepalivedConfig(version, 100, true, pass));
  lbd_a_ = StartLbd(a, "a", LbdConfig(version, 150, true, {}, pass));
  ASSERT_TRUE(WaitHolder(true, milliseconds(8000))) << "lbd-vrrp (150) should be master";

  const std::string v = "v" + std::to_string(version) + " ";
  Takeover t = Measure(a, "10.200.1.2", b, [&] { lbd_a_->Kill(SIGKILL); });
  Report((v + "keepalived takeover after SIGKILL of lbd-vrrp master").c_str(), t);
  ASSERT_GT(t.advert, 0) << "keepalived did not take over";
  EXPECT_LT(t.advert, kTakeoverBound);
  ASSERT_GT(t.vip, 0);
  EXPECT_LT(t.vip, kTakeoverBound + kRtnlAllowance);

  // lbd-vrrp restarts: removes its stale VIP, waits as backup, preempts.
  lbd_a_ = StartLbd(a, "a", LbdConfig(version, 150, true, {}, pass));
  ASSERT_TRUE(WaitHolder(true, milliseconds(8000))) << "restarted lbd-vrrp should preempt";

  // lbd-vrrp sends priority 0 at once: keepalived follows after its skew.
  t = Measure(a, "10.200.1.2", b, [&] { lbd_a_->Signal(SIGTERM); });
  Report((v + "keepalived takeover after SIGTERM of lbd-vrrp master").c_str(), t);
  ASSERT_GT(t.advert, 0);
  EXPECT_LT(t.advert, 0.609 + 0.6);
  ASSERT_TRUE(lbd_a_->Wait(milliseconds(3000)));
  EXPECT_FALSE(Topology::HasVip(a)) << "lbd-vrrp should remove its VIP on SIGTERM";
}

INSTANTIATE_TEST_SUITE_P(Versions, VrrpInterop, ::testing::Values(2, 3),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return "V" + std::to_string(param_info.param);
                         });

TEST_F(VrrpIntegration, NopreemptLbdLeavesKeepalivedMaster) {
  LBD_SKIP_UNLESS(HaveKeepalived(), "keepalived is not installed (apt-get install keepalived)");
  const std::string a = topology_->a(), b = topology_->b();
  keepalived_ = std::make_unique<Keepalived>(b, dir_, KeepalivedConfig(3, 100, true, ""));
  ASSERT_TRUE(WaitFor([&] { return Topology::HasVip(b); }, milliseconds(6000)));
  // Higher priority, preempt: false: it must stay backup.
  lbd_a_ = StartLbd(a, "a", LbdConfig(3, 150, false));
  std::this_thread::sleep_for(milliseconds(5000));  // > Master_Down_Interval (3.41 s)
  EXPECT_TRUE(Holder(false)) << "nopreempt lbd-vrrp took the VIP from a live master";
  // It is listening, not deaf: once the master dies it takes over.
  const Takeover t = Measure(b, "10.200.1.1", a, [&] { keepalived_->Crash(); });
  ASSERT_GT(t.advert, 0);
  EXPECT_LT(t.advert, 3.0 + 0.414 + 0.5);  // skew of 150: (256-150)/256 s
  EXPECT_GT(t.vip, 0);
}

// Two lbd-vrrp over unicast_peers (v3 checksum with the unicast destination).
TEST_F(VrrpIntegration, LbdPairOverUnicast) {
  const std::string a = topology_->a(), b = topology_->b();
  lbd_a_ = StartLbd(a, "a", LbdConfig(3, 150, true, {"10.200.1.2"}));
  lbd_b_ = StartLbd(b, "b", LbdConfig(3, 100, true, {"10.200.1.1"}));
  ASSERT_TRUE(WaitHolder(true, milliseconds(8000)));

  Takeover t = Measure(a, "10.200.1.2", b, [&] { lbd_a_->Kill(SIGKILL); });
  Report("v3 unicast lbd-vrrp takeover after SIGKILL of lbd-vrrp master", t);
  ASSERT_GT(t.advert, 0);
  EXPECT_LT(t.advert, kTakeoverBound);
  ASSERT_GT(t.vip, 0);
  EXPECT_LT(t.vip, kTakeoverBound + kRtnlAllowance);

  lbd_a_ = StartLbd(a, "a", LbdConfig(3, 150, true, {"10.200.1.2"}));
  ASSERT_TRUE(WaitHolder(true, milliseconds(8000))) << "restarted lbd-vrrp should preempt";

  t = Measure(a, "10.200.1.2", b, [&] { lbd_a_->Signal(SIGTERM); });
  const double skew = SkewFromLog(dir_ + "/lbd-b.log");
  Report("v3 unicast lbd-vrrp takeover after SIGTERM of lbd-vrrp master", t, skew);
  ASSERT_GT(t.advert, 0);
  EXPECT_LT(t.advert, 0.609 + 0.6);
  EXPECT_GT(skew, 0.5);
  EXPECT_LT(skew, 0.609 + 0.2);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Children of `pid` (zombies included), from /proc.
std::string Children(pid_t pid) {
  return ReadFile("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
}

// Interface down -> FAULT (VIP removed), up -> MASTER again; notify scripts
// get keepalived's arguments; every script is reaped (no zombies).
TEST_F(VrrpIntegration, InterfaceDownIsFaultAndNotifyScriptsRun) {
  const std::string a = topology_->a();
  const std::string out = dir_ + "/notify.out";
  const std::string script = dir_ + "/notify.sh";
  std::ofstream(script) << "#!/bin/sh\necho \"$*\" >> " << out << "\n";
  ASSERT_EQ(chmod(script.c_str(), 0755), 0);
  const std::string extra = "    notify: " + script + "\n" + "    notify_master: echo master >> " +
                            out + "\n" + "    notify_fault: echo fault >> " + out + "\n";
  // B learns VIP -> A's MAC from the gratuitous ARPs (arp_accept: create
  // entries from them).
  const std::string b = topology_->b();
  ASSERT_TRUE(Sh("ip netns exec " + b + " sysctl -q -w net.ipv4.conf.eth0.arp_accept=1"));
  std::string mac = Output("ip -n " + a + " -o link show dev eth0");
  mac = mac.substr(mac.find("link/ether ") + 11, 17);
  lbd_a_ = StartLbd(a, "a", LbdConfig(3, 255, true, {}, "", extra));  // owner: master at once
  ASSERT_TRUE(WaitFor([&] { return Topology::HasVip(a); }, milliseconds(3000)));
  EXPECT_TRUE(WaitFor(
      [&] {
        return Output("ip -n " + b + " neigh show " + kVip).find("lladdr " + mac) !=
               std::string::npos;
      },
      milliseconds(2000)))
      << "no gratuitous ARP for " << kVip << " from " << mac << " seen in " << b << ": "
      << Output("ip -n " + b + " neigh show");
  ASSERT_TRUE(Sh("ip -n " + a + " link set eth0 down"));
  EXPECT_TRUE(WaitFor([&] { return !Topology::HasVip(a); }, milliseconds(3000)));
  ASSERT_TRUE(Sh("ip -n " + a + " link set eth0 up"));
  EXPECT_TRUE(WaitFor([&] { return Topology::HasVip(a); }, milliseconds(5000)));
  EXPECT_NE(ReadFile(dir_ + "/lbd-a.log").find("entering FAULT state"), std::string::npos);
  lbd_a_->Signal(SIGTERM);
  ASSERT_TRUE(lbd_a_->Wait(milliseconds(3000)));
  EXPECT_FALSE(Topology::HasVip(a));
  // The STOP notification is started at exit; give the scripts a moment.
  EXPECT_TRUE(
      WaitFor([&] { return ReadFile(out).find("STOP") != std::string::npos; }, milliseconds(3000)));
  const std::string notes = ReadFile(out);
  for (const char* expected : {"INSTANCE VI_1 MASTER 255", "INSTANCE VI_1 FAULT 255",
                               "INSTANCE VI_1 STOP 255", "master", "fault"}) {
    EXPECT_NE(notes.find(expected), std::string::npos) << expected << " in:\n" << notes;
  }
}

TEST_F(VrrpIntegration, NotifyScriptsLeaveNoZombies) {
  const std::string a = topology_->a();
  const std::string out = dir_ + "/notify.out";
  const std::string extra = "    notify: echo >> " + out + "\n" +
                            "    notify_master: echo master >> " + out + "\n" +
                            "    notify_fault: echo fault >> " + out + "\n";
  lbd_a_ = StartLbd(a, "a", LbdConfig(3, 255, true, {}, "", extra));
  ASSERT_TRUE(WaitFor([&] { return Topology::HasVip(a); }, milliseconds(3000)));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Sh("ip -n " + a + " link set eth0 down"));
    ASSERT_TRUE(WaitFor([&] { return !Topology::HasVip(a); }, milliseconds(3000)));
    ASSERT_TRUE(Sh("ip -n " + a + " link set eth0 up"));
    ASSERT_TRUE(WaitFor([&] { return Topology::HasVip(a); }, milliseconds(3000)));
  }
  // 4 MASTER + 3 FAULT transitions, two commands each.
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string notes = ReadFile(out);
        return std::count(notes.begin(), notes.end(), '\n') >= 14;
      },
      milliseconds(3000)));
  // Every script has been reaped: lbd-vrrp has no child left, zombie or not.
  EXPECT_TRUE(WaitFor([&] { return Children(lbd_a_->pid()).empty(); }, milliseconds(3000)))
      << "children: " << Children(lbd_a_->pid());
}

// The library as the daemon embeds it: a Vrrp on the caller's loop, fed by
// the health side through ServiceTracker::SetServiceUp, read through
// Snapshot(). Runs on a thread that joined namespace A (setns is per thread;
// every socket, including each netlink request, is opened on that thread).
TEST_F(VrrpIntegration, EmbeddedTrackServicesLowerPriorityOrFault) {
  using lbd::vrrp::State;
  const std::string a = topology_->a();
  std::thread([&] {
    ASSERT_TRUE(netns::EnterNamespace(a));
    struct ev_loop* loop = ev_loop_new(EVFLAG_AUTO);
    auto vip = lbd::ParseIpv4(kVip);
    ASSERT_TRUE(vip.ok());
    lbd::vrrp::InstanceOptions c;
    c.name = "VI_9";
    c.interface = "eth0";
    c.virtual_router_id = 9;
    c.priority = 255;
    c.version = 3;
    c.virtual_ips = {{.ip = vip->ip, .length = 24}};
    c.track_services = {{"shop", -60}, {"db", 0}};
    lbd::vrrp::Options options;
    options.garp_repeat = 1;
    std::vector<std::string> log;
    options.log = [&log](const std::string& line) { log.push_back(line); };
    auto created = lbd::vrrp::Vrrp::Create(loop, {c}, options);
    ASSERT_TRUE(created.ok()) << created.status().message();
    lbd::vrrp::Vrrp& vrrp = **created;
    auto status = [&vrrp] { return vrrp.Snapshot().at(0); };
    auto run_for = [loop](milliseconds d) {
      const auto end = Clock::now() + d;
      while (Clock::now() < end) {
        ev_run(loop, EVRUN_NOWAIT);
        std::this_thread::sleep_for(milliseconds(10));
      }
    };

    EXPECT_EQ(status().virtual_ips, std::vector<std::string>{std::string(kVip) + "/24"});
    vrrp.Start();
    EXPECT_EQ(status().state, State::kMaster);  // owner: at once
    EXPECT_TRUE(Topology::HasVip(a));
    // A tracked service down with weight -60: still master, advertises 195.
    vrrp.SetServiceUp("shop", false);
    EXPECT_EQ(status().effective_priority, 195);
    EXPECT_EQ(status().priority, 255);
    const uint64_t sent = status().counters.adverts_sent;
    run_for(milliseconds(1100));
    EXPECT_GT(status().counters.adverts_sent, sent);
    EXPECT_EQ(status().state, State::kMaster);
    // Unknown services change nothing.
    vrrp.SetServiceUp("nope", false);
    EXPECT_EQ(status().effective_priority, 195);
    // Weight 0: FAULT, priority 0 sent, VIP removed.
    vrrp.SetServiceUp("db", false);
    EXPECT_EQ(status().state, State::kFault);
    EXPECT_EQ(status().counters.priority_zero_sent, 1u);
    EXPECT_EQ(status().counters.became_fault, 1u);
    EXPECT_FALSE(Topology::HasVip(a));
    // Both back: owner again, master at once.
    vrrp.SetServiceUp("shop", true);
    vrrp.SetServiceUp("db", true);
    EXPECT_EQ(status().effective_priority, 255);
    EXPECT_EQ(status().state, State::kMaster);
    EXPECT_EQ(status().counters.became_master, 2u);
    EXPECT_TRUE(Topology::HasVip(a));
    EXPECT_EQ(status().master_ip, "10.200.1.1");
    vrrp.Stop();
    EXPECT_EQ(status().state, State::kInit);
    EXPECT_FALSE(Topology::HasVip(a));
    created->reset();
    ev_loop_destroy(loop);
  }).join();
}

}  // namespace
