// lbd as a system service (real lbd and lbctl processes, loopback only):
// the sd_notify protocol seen from a datagram socket standing in for systemd,
// global.user dropping root to the capabilities the modes need, the journal
// log format, the control socket's mode and group, and --check's look at the
// control socket's directory.
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "lb_test_util.h"
#include "lbd_process.h"

namespace lbtest {
namespace {

using namespace std::chrono_literals;

std::string Config(const TempDir& dir, const std::string& global_extra = "") {
  return "global:\n  workers: 1\n  control_socket: " + dir.File("lbd.sock") +
         "\n  drain_timeout: 1s\n" + global_extra +
         "virtual_services:\n  - name: web\n    listen: 127.0.0.1:" + std::to_string(FreePort()) +
         "\n    scheduler: rr\n    real_servers:\n      - {address: 127.0.0.1:9, weight: 1}\n";
}

// A datagram socket at a path, like systemd's $NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path_.c_str());
    ok_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
    unlink(path_.c_str());
  }
  bool ok() const { return ok_; }
  // Every datagram received so far, appended to `messages`.
  void Drain(std::vector<std::string>* messages) {
    char buf[4096];
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n < 0) return;
      messages->emplace_back(buf, static_cast<size_t>(n));
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
};

// The first line (KEY=VALUE) of each message: READY=1, RELOADING=1, STOPPING=1.
std::vector<std::string> States(const std::vector<std::string>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.substr(0, m.find('\n')));
  return out;
}

TEST(ServiceManagerTest, NotifiesReadyReloadingReadyStoppingInOrder) {
  TempDir dir;
  NotifySocket notify(dir.File("notify"));
  ASSERT_TRUE(notify.ok());
  setenv("NOTIFY_SOCKET", dir.File("notify").c_str(), 1);
  LbdProcess lbd(dir, Config(dir));
  const bool started = lbd.Start();
  unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(started) << lbd.Log();
  std::vector<std::string> messages;
  ASSERT_TRUE(WaitFor(
      [&] {
        notify.Drain(&messages);
        return !messages.empty();
      },
      5000ms));
  ASSERT_EQ(lbd.Ctl({"reload"}).exit_code, 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        notify.Drain(&messages);
        return messages.size() >= 3;
      },
      5000ms));
  lbd.Signal(SIGTERM);
  ASSERT_EQ(lbd.WaitExit(5000ms), 0) << lbd.Log();
  notify.Drain(&messages);
  EXPECT_EQ(States(messages),
            (std::vector<std::string>{"READY=1", "RELOADING=1", "READY=1", "STOPPING=1"}));
  ASSERT_GE(messages.size(), 2u);
  // RELOADING=1 carries CLOCK_MONOTONIC in microseconds (systemd's Type=notify-reload rule).
  EXPECT_TRUE(std::regex_search(messages[1], std::regex("\nMONOTONIC_USEC=[0-9]+"))) << messages[1];
  EXPECT_TRUE(std::regex_search(messages[0], std::regex("\nSTATUS=1 services, 0 connections")))
      << messages[0];
}

// "CapEff:\t0000000000000400" -> 0x400.
uint64_t ProcStatusHex(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stoull(line.substr(key.size() + 1), nullptr, 16);
  }
  return ~0ULL;
}
std::string ProcStatusField(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return line.substr(key.size() + 1);
  }
  return "";
}

TEST(ServiceManagerTest, UserNobodyKeepsOnlyTheCapabilitiesOfItsModes) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (lbd drops from root to nobody)";
  passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  TempDir dir;
  LbdProcess lbd(dir, Config(dir, "  user: nobody\n"));
  ASSERT_TRUE(lbd.Start()) << lbd.Log();
  ASSERT_TRUE(
      WaitFor([&] { return lbd.Log().find("running as nobody") != std::string::npos; }, 5000ms))
      << lbd.Log();
  const std::string uid = std::to_string(nobody->pw_uid);
  const std::string gid = std::to_string(nobody->pw_gid);
  // Real, effective, saved and filesystem ids all the user's.
  EXPECT_EQ(ProcStatusField(lbd.pid(), "Uid"), "\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid);
  EXPECT_EQ(ProcStatusField(lbd.pid(), "Gid"), "\t" + gid + "\t" + gid + "\t" + gid + "\t" + gid);
  // A proxy-only configuration keeps CAP_NET_BIND_SERVICE (10) alone.
  EXPECT_EQ(ProcStatusHex(lbd.pid(), "CapEff"), 1ULL << 10);
  EXPECT_EQ(ProcStatusHex(lbd.pid(), "CapPrm"), 1ULL << 10);
  EXPECT_EQ(ProcStatusHex(lbd.pid(), "CapInh"), 0ULL);
  // Still serving and answering lbctl (the socket was opened as root).
  EXPECT_EQ(lbd.Ctl({"status"}).exit_code, 0);
  lbd.Signal(SIGTERM);
  EXPECT_EQ(lbd.WaitExit(5000ms), 0) << lbd.Log();
}

TEST(ServiceManagerTest, JournalLogHasPriorityPrefixAndNoTimestamp) {
  TempDir dir;
  LbdProcess lbd(dir, Config(dir, "  log: journal\n"));
  ASSERT_TRUE(lbd.Start()) << lbd.Log();
  lbd.Signal(SIGTERM);
  ASSERT_EQ(lbd.WaitExit(5000ms), 0);
  const std::string log = lbd.Log();
  // <6> is LOG_INFO; journald strips it and files the line at that priority.
  EXPECT_TRUE(std::regex_search(log, std::regex("(^|\n)<6>lbd started: 1 workers"))) << log;
  EXPECT_FALSE(std::regex_search(log, std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T"))) << log;
}

TEST(ServiceManagerTest, ControlSocketTakesTheConfiguredModeAndGroup) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (chown to another group)";
  group* g = getgrnam("nogroup");
  ASSERT_NE(g, nullptr);
  TempDir dir;
  LbdProcess lbd(dir,
                 Config(dir, "  control_socket_mode: \"0660\"\n  control_socket_group: nogroup\n"));
  ASSERT_TRUE(lbd.Start()) << lbd.Log();
  struct stat st {};
  ASSERT_EQ(stat(lbd.socket_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, g->gr_gid);
}

TEST(ServiceManagerTest, CheckRefusesAControlSocketInAMissingDirectory) {
  TempDir dir;
  std::string config = Config(dir);
  config.replace(config.find(dir.File("lbd.sock")), dir.File("lbd.sock").size(),
                 dir.File("missing/lbd.sock"));
  { std::ofstream(dir.File("c.yaml")) << config; }
  RunResult r = RunProgram(dir, {LBD_PATH, "-c", dir.File("c.yaml"), "--check"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(
      r.err.find("global.control_socket: directory " + dir.File("missing") + " does not exist"),
      std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace lbtest
