// Integration tests of lbd's resource budget through the real binaries on
// loopback: the connection cap derived from the descriptor limit (clients
// beyond it wait in the accept queue), health checks, lbctl and /metrics that
// client load cannot starve, and silent control and metrics clients that
// cannot hold every slot. Bounded: each test runs in a few seconds.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include "lb_test_util.h"
#include "lbd_process.h"

namespace lbtest {
namespace {

using Clock = std::chrono::steady_clock;

// A real server in its own process that holds every connection it accepts
// (epoll, no thread per connection) and answers "b0\n" to a line, then
// closes. Killed by PID when the handle dies.
class HoldingBackend {
 public:
  HoldingBackend() {
    Fd listener = ListenLoopback(0, 4096, &port_);
    if (!listener.valid()) return;
    pid_ = fork();
    if (pid_ == 0) Serve(listener.get());  // never returns
  }
  ~HoldingBackend() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  HoldingBackend(const HoldingBackend&) = delete;
  HoldingBackend& operator=(const HoldingBackend&) = delete;
  bool ok() const { return pid_ > 0; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  [[noreturn]] static void Serve(int listener) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    fcntl(listener, F_SETFL, O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listener;
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    epoll_event events[256];
    for (;;) {
      int n = epoll_wait(ep, events, 256, -1);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listener) {
          int c;
          while ((c = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
            epoll_event cev{};
            cev.events = EPOLLIN;
            cev.data.fd = c;
            epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          }
          continue;
        }
        char buf[512];
        ssize_t k = read(fd, buf, sizeof(buf));
        if (k > 0 && memchr(buf, '\n', static_cast<size_t>(k)) == nullptr) continue;
        if (k > 0) {
          ssize_t ignored = send(fd, "b0\n", 3, MSG_NOSIGNAL);
          (void)ignored;
        }
        if (k < 0 && errno == EAGAIN) continue;
        close(fd);  // answered, EOF or error
      }
    }
  }

  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

std::string HttpGet(uint16_t port, const std::string& path) {
  Fd c = Connect(port);
  if (!c.valid()) return "";
  timeval tv{5, 0};
  setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  SendAll(c.get(), "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
  return ReadAll(c.get());
}

// A non-blocking connect to 127.0.0.1:port (-1 when no socket).
int StartConnect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa = Addr("127.0.0.1", port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

// Whether every socket's connect completed (the kernel's handshake: the
// client may still wait in lbd's accept queue), within `limit`.
bool AllConnected(const std::vector<Fd>& fds, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  std::vector<pollfd> p;
  for (const Fd& f : fds) p.push_back({f.get(), POLLOUT, 0});
  size_t done = 0;
  std::vector<bool> ok(p.size(), false);
  while (done < p.size() && Clock::now() < deadline) {
    if (poll(p.data(), p.size(), 100) < 0) return false;
    for (size_t i = 0; i < p.size(); ++i) {
      if (ok[i] || p[i].revents == 0) continue;
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return false;
      ok[i] = true;
      p[i].fd = -1;  // poll ignores it from now on
      ++done;
    }
  }
  return done == p.size();
}

double Number(const std::optional<Json>& j, const char* key) {
  return j ? (*j)["counters"][key].number() : -1;
}

class BudgetTest : public ::testing::Test {
 protected:
  std::optional<Json> Stats() { return JsonParser::Parse(lbd_->Ctl({"stats", "--json"}).out); }

  TempDir dir_;
  std::unique_ptr<LbdProcess> lbd_;
};

// 10,100 idle clients against lbd run with RLIMIT_NOFILE 20000: without a
// cap they would need 20,200 descriptors. lbd derives maxconn 6324 from the
// limit, holds that many, leaves the rest in the accept queue, and health
// checks (every 100 ms, fall 1), lbctl and /metrics keep working throughout.
TEST_F(BudgetTest, TenThousandIdleClientsStayWithinTheDescriptorBudget) {
  constexpr int kClients = 10100;
  constexpr rlim_t kLbdLimit = 20000;
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  if (old.rlim_max < kLbdLimit) GTEST_SKIP() << "hard RLIMIT_NOFILE below 20000";
  // lbd (and the backend) inherit 20000:20000, as under `prlimit
  // --nofile=20000:20000`; the test raises its own soft limit to the same
  // 20000, enough for its 10,101 clients. (Each test runs in its own
  // process under ctest: lowering the hard limit harms no other test.)
  rlimit limit{kLbdLimit, kLbdLimit};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  HoldingBackend backend;
  const uint16_t vip = FreePort(), metrics = FreePort();
  lbd_ = std::make_unique<LbdProcess>(
      dir_, "global:\n  workers: 2\n  control_socket: " + dir_.File("lbd.sock") +
                "\n  metrics_listen: 127.0.0.1:" + std::to_string(metrics) +
                "\nvirtual_services:\n  - name: web\n    listen: 127.0.0.1:" + std::to_string(vip) +
                "\n    scheduler: rr\n"
                "    healthcheck: {type: tcp, interval: 100ms, timeout: 500ms, rise: 1, fall: 1}\n"
                "    real_servers:\n      - {address: " +
                backend.address() + "}\n");
  const bool started = lbd_->Start();
  ASSERT_TRUE(backend.ok());
  ASSERT_TRUE(started) << lbd_->Log();

  // The formula of conf/README.md: N = 20000, one real server.
  const int64_t maxconn = (20000 - (1024 + 2 * 1)) / 3;
  ASSERT_EQ(Number(Stats(), "maxconn"), maxconn) << lbd_->Log();
  EXPECT_NE(lbd_->Log().find("RLIMIT_NOFILE 20000, maxconn 6324 (derived)"), std::string::npos)
      << lbd_->Log();

  const auto start = Clock::now();
  std::vector<Fd> clients;
  clients.reserve(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back(StartConnect(vip));
    ASSERT_TRUE(clients.back().valid()) << i << ": " << strerror(errno);
  }
  ASSERT_TRUE(AllConnected(clients, 10000ms));
  std::cerr << "connected " << kClients << " clients in "
            << std::chrono::duration<double>(Clock::now() - start).count() << " s\n";
  ASSERT_TRUE(WaitFor([&] { return Number(Stats(), "live") == maxconn; }, 10000ms))
      << lbd_->Ctl({"stats", "--json"}).out;
  std::cerr << "lbd at maxconn after "
            << std::chrono::duration<double>(Clock::now() - start).count() << " s\n";
  auto stats = Stats();
  EXPECT_GE(Number(stats, "maxconn_reached"), 1);
  EXPECT_EQ(Number(stats, "emfile"), 0);

  // A new client beyond maxconn: its connect completes (the kernel's accept
  // queue), nothing is relayed while lbd is at the cap.
  Fd late = Connect(vip);
  ASSERT_TRUE(late.valid());
  ASSERT_TRUE(SendAll(late.get(), "ID\n"));
  pollfd p{late.get(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 300), 0) << "a client beyond maxconn was served";

  // Over a second at the cap: the checks (every 100 ms, fall 1) never fail,
  // lbctl and the metrics answer fast.
  const auto until = Clock::now() + 1500ms;
  int rounds = 0;
  while (Clock::now() < until) {
    const auto t0 = Clock::now();
    RunResult status = lbd_->Ctl({"status"});
    EXPECT_EQ(status.exit_code, 0) << status.err;
    EXPECT_LT(Clock::now() - t0, 1s);
    EXPECT_TRUE(std::regex_search(status.out, std::regex("HEALTH web \\S+ tcp up .* failures 0 "
                                                         "transitions 0 ")))
        << status.out;
    const std::string m = HttpGet(metrics, "/metrics");
    EXPECT_EQ(m.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << m.substr(0, 100);
    EXPECT_NE(m.find("lbd_maxconn 6324\n"), std::string::npos);
    EXPECT_EQ(m.find("lbd_maxconn_reached_total 0\n"), std::string::npos);
    ++rounds;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GE(rounds, 3);
  EXPECT_EQ(lbd_->Log().find(" is down"), std::string::npos) << lbd_->Log();

  // Slots free up: the queued clients, the late one included, are served.
  // In steps, so that lbd's connects to the backend do not overflow the
  // backend's own accept queue.
  for (int i = 0; i < 8; ++i) {
    clients.erase(clients.begin(), clients.begin() + 500);
    std::this_thread::sleep_for(50ms);
  }
  std::cerr << "freed 4000 slots after "
            << std::chrono::duration<double>(Clock::now() - start).count() << " s\n";
  timeval tv{5, 0};
  setsockopt(late.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  EXPECT_EQ(Trim(ReadAll(late.get(), 64)), "b0");
  // Every client, the late one included, has been accepted: none is left
  // waiting in the queue.
  ASSERT_TRUE(WaitFor([&] { return Number(Stats(), "accepted") == kClients + 1; }, 5000ms))
      << lbd_->Ctl({"stats", "--json"}).out;
  EXPECT_EQ(Number(Stats(), "connect_failures"), 0);
  std::cerr << "all accepted after " << std::chrono::duration<double>(Clock::now() - start).count()
            << " s\n";
  clients.clear();
  late.Reset();
}

// Silent clients on the control socket (40, more than its 32 slots) and on
// the metrics listener (70, more than its 64): lbctl still answers within a
// second, a scrape still succeeds, and the silent ones are closed.
TEST_F(BudgetTest, SilentControlAndMetricsClientsDoNotLockOutLbctlOrScrapes) {
  HoldingBackend backend;
  ASSERT_TRUE(backend.ok());
  const uint16_t vip = FreePort(), metrics = FreePort();
  lbd_ = std::make_unique<LbdProcess>(
      dir_, "global:\n  workers: 1\n  control_socket: " + dir_.File("lbd.sock") +
                "\n  metrics_listen: 127.0.0.1:" + std::to_string(metrics) +
                "\nvirtual_services:\n  - name: web\n    listen: 127.0.0.1:" + std::to_string(vip) +
                "\n    real_servers:\n      - {address: " + backend.address() + "}\n");
  ASSERT_TRUE(lbd_->Start()) << lbd_->Log();

  std::vector<Fd> silent;
  for (int i = 0; i < 40; ++i) {
    Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    strncpy(sa.sun_path, lbd_->socket_path().c_str(), sizeof(sa.sun_path) - 1);
    ASSERT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    silent.push_back(std::move(fd));
  }
  for (int i = 0; i < 70; ++i) {
    silent.push_back(Connect(metrics));
    ASSERT_TRUE(silent.back().valid());
  }
  std::this_thread::sleep_for(100ms);  // all accepted: every slot taken

  auto t0 = Clock::now();
  RunResult status = lbd_->Ctl({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_LT(Clock::now() - t0, 1s);
  t0 = Clock::now();
  const std::string m = HttpGet(metrics, "/metrics");
  EXPECT_EQ(m.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << m.substr(0, 100);
  EXPECT_LT(Clock::now() - t0, 1s);

  // Every silent client is closed within ~1.25 s of connecting.
  for (Fd& fd : silent) {
    timeval tv{3, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char c;
    EXPECT_LE(recv(fd.get(), &c, 1, 0), 0);
  }
}

}  // namespace
}  // namespace lbtest
