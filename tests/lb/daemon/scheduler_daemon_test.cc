// Integration tests of the schedulers beyond LVS through the real lbd:
// p2c and rendezvous serve a proxy service (rendezvous keeps a client on its
// server and a reload that removes one of four servers moves only that
// server's clients), and ewma moves new connections away from a server whose
// first byte comes 50 ms later, fed by the relay's latency signal (connect
// and first-byte times, lb/daemon/include/lbd/daemon/connection.h), shown in
// `lbctl status --json` and /metrics; a refused connect counts as a sample as
// bad as timeouts.connect. Loopback only; about 6 s in all.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <set>

#include "lb_test_util.h"
#include "lbd_process.h"

namespace lbtest {
namespace {

// A real server that reads one line, waits `delay` (settable at any time),
// then answers "<name>\n" and closes: its first byte comes `delay` after the
// request, its connect is as fast as any (the kernel completes the handshake).
class DelayBackend {
 public:
  explicit DelayBackend(std::string name) : name_(std::move(name)) {
    listen_fd_ = ListenLoopback(0, 1024, &port_);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~DelayBackend() { Stop(); }

  void set_delay(std::chrono::milliseconds d) { delay_ms_.store(static_cast<int>(d.count())); }
  // Closes the listener (connects are refused from now on) and waits for
  // every connection's thread to end (each within its 10 s read timeout).
  void Stop() {
    if (stopped_.exchange(true)) return;
    shutdown(listen_fd_.get(), SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    listen_fd_.Reset();
    WaitFor([&] { return serving_.load() == 0; }, 15000ms);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& name() const { return name_; }

 private:
  void AcceptLoop() {
    while (!stopped_.load()) {
      pollfd p{listen_fd_.get(), POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      if (stopped_.load()) break;
      int fd = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      timeval tv{10, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      // Thousands of short connections: detached threads, counted, rather
      // than thousands of finished threads waiting for a join.
      serving_.fetch_add(1);
      std::thread([this, fd] {
        Serve(fd);
        serving_.fetch_sub(1);
      }).detach();
    }
  }
  void Serve(int fd) {
    char c;
    while (recv(fd, &c, 1, 0) == 1 && c != '\n') {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
    SendAll(fd, name_ + "\n");
    close(fd);
  }

  std::string name_;
  Fd listen_fd_;
  uint16_t port_ = 0;
  std::atomic<int> delay_ms_{0};
  std::atomic<bool> stopped_{false};
  std::atomic<int> serving_{0};
  std::thread acceptor_;
};

std::string Config(const TempDir& dir, uint16_t vip, const std::string& scheduler,
                   const std::vector<std::string>& servers, const std::string& extra = "",
                   const std::string& global_extra = "") {
  std::string y = "global:\n  workers: 2\n  control_socket: " + dir.File("lbd.sock") +
                  "\n  drain_timeout: 1s\n" + global_extra +
                  "virtual_services:\n  - name: web\n    listen: 127.0.0.1:" + std::to_string(vip) +
                  "\n    scheduler: " + scheduler + "\n    forwarding: proxy\n" + extra +
                  "    real_servers:\n";
  for (const auto& s : servers) y += "      - {address: " + s + "}\n";
  return y;
}

std::optional<Json> StatusJson(const LbdProcess& lbd, const char* command = "status") {
  return JsonParser::Parse(lbd.Ctl({command, "--json"}).out);
}

// latency_ms of each server of the first service, by address.
std::map<std::string, double> LatencyMs(const LbdProcess& lbd) {
  std::map<std::string, double> out;
  auto j = StatusJson(lbd);
  if (!j) return out;
  for (const Json& s : (*j)["services"].array().at(0)["servers"].array()) {
    out[s["address"].str()] = s["latency_ms"].number();
  }
  return out;
}

class SchedulerDaemonTest : public ::testing::Test {
 protected:
  void StartLbd(const std::string& config) {
    lbd_ = std::make_unique<LbdProcess>(dir_, config);
    ASSERT_TRUE(lbd_->Start()) << lbd_->Log();
  }
  void TearDown() override {
    if (HasFailure() && lbd_) std::cerr << "--- lbd log ---\n" << lbd_->Log();
    lbd_.reset();
  }

  TempDir dir_;
  uint16_t vip_ = FreePort();
  std::unique_ptr<LbdProcess> lbd_;
};

TEST_F(SchedulerDaemonTest, P2cServesEveryServer) {
  std::vector<std::unique_ptr<Backend>> b;
  std::vector<std::string> addresses;
  for (int i = 0; i < 3; ++i) {
    b.push_back(std::make_unique<Backend>("b" + std::to_string(i)));
    addresses.push_back(b.back()->address());
  }
  StartLbd(Config(dir_, vip_, "p2c", addresses, "    scheduler_flags: [choices=2]\n"));
  std::map<std::string, int> counts;
  for (int i = 0; i < 150; ++i) ++counts[AskId(vip_)];
  std::cout << "p2c over 3 servers, 150 connections:";
  for (const auto& [name, n] : counts) std::cout << " " << name << "=" << n;
  std::cout << "\n";
  ASSERT_EQ(counts.size(), 3u) << "every reply is a server's name";
  // Sequential clients: every server idle, the first of two weighted draws
  // wins, so about 50 each; 20 is more than 4 standard deviations below.
  for (int i = 0; i < 3; ++i) EXPECT_GE(counts["b" + std::to_string(i)], 20);
  auto j = StatusJson(*lbd_);
  ASSERT_TRUE(j);
  EXPECT_EQ((*j)["services"].array().at(0)["scheduler"].str(), "p2c");
}

TEST_F(SchedulerDaemonTest, RendezvousKeepsClientsAndMovesOnlyARemovedServersClients) {
  std::vector<std::unique_ptr<Backend>> b;
  std::vector<std::string> addresses;
  for (int i = 0; i < 4; ++i) {
    b.push_back(std::make_unique<Backend>("b" + std::to_string(i)));
    addresses.push_back(b.back()->address());
  }
  StartLbd(Config(dir_, vip_, "rendezvous", addresses));
  // 64 clients, each its own source address on loopback.
  std::vector<std::string> clients;
  for (int i = 1; i <= 64; ++i) clients.push_back("127.0.1." + std::to_string(i));
  std::map<std::string, std::string> before;
  std::map<std::string, int> per_server;
  for (const auto& c : clients) {
    before[c] = AskId(vip_, c);
    ++per_server[before[c]];
    for (int k = 0; k < 2; ++k) EXPECT_EQ(AskId(vip_, c), before[c]) << "client " << c;
  }
  std::cout << "rendezvous, 64 clients over 4 servers:";
  for (const auto& [name, n] : per_server) std::cout << " " << name << "=" << n;
  std::cout << "\n";
  ASSERT_EQ(per_server.size(), 4u) << "every server has clients (a miss: p < 1e-7)";

  // Remove b2 by reload: only its clients move.
  lbd_->WriteConfig(Config(dir_, vip_, "rendezvous", {addresses[0], addresses[1], addresses[3]}));
  ASSERT_EQ(lbd_->Ctl({"reload"}).exit_code, 0) << lbd_->Log();
  int moved = 0;
  for (const auto& c : clients) {
    const std::string now = AskId(vip_, c);
    if (before[c] == "b2") {
      EXPECT_NE(now, "b2");
      EXPECT_FALSE(now.empty());
      ++moved;
    } else {
      EXPECT_EQ(now, before[c]) << "client " << c << " of a server that stayed moved";
    }
  }
  std::cout << "reload removed b2: " << moved << " clients moved (all of b2's, none other)\n";
  EXPECT_EQ(moved, per_server["b2"]);
}

TEST_F(SchedulerDaemonTest, EwmaMovesNewConnectionsAwayFromASlowServer) {
  std::vector<std::unique_ptr<DelayBackend>> b;
  std::vector<std::string> addresses;
  for (int i = 0; i < 3; ++i) {
    b.push_back(std::make_unique<DelayBackend>("b" + std::to_string(i)));
    addresses.push_back(b.back()->address());
  }
  const uint16_t metrics = FreePort();
  StartLbd(Config(dir_, vip_, "ewma", addresses, "    timeouts: {connect: 1s, idle: 10s}\n",
                  "  metrics_listen: 127.0.0.1:" + std::to_string(metrics) + "\n"));

  // Closed-loop load: each client thread opens a connection, asks, reads the
  // answer, closes, and records when it started and who answered.
  struct Sample {
    Clock::time_point start;
    std::string name;
  };
  constexpr int kClients = 6;
  std::atomic<bool> stop{false};
  std::vector<std::vector<Sample>> samples(kClients);
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      while (!stop.load()) {
        const Clock::time_point start = Clock::now();
        samples[t].push_back({start, AskId(vip_)});
        std::this_thread::sleep_for(5ms);  // ~1000 connections/s in all: gentle on 2 cores
      }
    });
  }
  std::this_thread::sleep_for(1500ms);
  const Clock::time_point slow_at = Clock::now();
  b[1]->set_delay(50ms);
  std::this_thread::sleep_for(3000ms);
  const Clock::time_point end = Clock::now();
  // The estimates while b1 is slow (read before the clients stop: the
  // estimates only decay from here, by exp(-t / 10s)).
  const std::map<std::string, double> latency = LatencyMs(*lbd_);
  std::string m = [&] {
    Fd c = Connect(metrics);
    SendAll(c.get(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    return ReadAll(c.get());
  }();
  stop.store(true);
  for (auto& t : threads) t.join();

  std::vector<Sample> all;
  for (auto& v : samples) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end(),
            [](const Sample& x, const Sample& y) { return x.start < y.start; });
  auto share = [&](Clock::time_point from, Clock::time_point to, int* total = nullptr) {
    int n = 0, slow = 0;
    for (const Sample& s : all) {
      if (s.start < from || s.start >= to) continue;
      ++n;
      slow += s.name == "b1";
    }
    if (total != nullptr) *total = n;
    return n == 0 ? 1.0 : double(slow) / n;
  };
  int n_before = 0, n_after = 0;
  const double before = share(slow_at - 1000ms, slow_at, &n_before);
  const double after = share(slow_at + 1000ms, end, &n_after);
  // Drop time: the first 100 ms step after the switch from which on b1's
  // share of the connections started stays below kBound in every later
  // 250 ms window.
  constexpr double kBound = 0.05;
  std::optional<std::chrono::milliseconds> drop;
  for (auto t = slow_at; t + 250ms <= end && !drop; t += 100ms) {
    bool below = true;
    for (auto w = t; w + 250ms <= end && below; w += 250ms) below = share(w, w + 250ms) < kBound;
    if (below) drop = std::chrono::duration_cast<std::chrono::milliseconds>(t - slow_at);
  }
  // The slow server's connections after the switch, and the last one's start.
  int slow_after = 0;
  std::chrono::milliseconds last_slow{-1};
  for (const Sample& s : all) {
    if (s.start < slow_at || s.name != "b1") continue;
    ++slow_after;
    last_slow = std::chrono::duration_cast<std::chrono::milliseconds>(s.start - slow_at);
  }
  const std::string b0 = addresses[0], b1 = addresses[1], b2 = addresses[2];
  std::printf(
      "ewma, 3 servers, %d closed-loop clients; b1's first byte +50 ms from t=0:\n"
      "  b1 share of new connections: %.1f%% of %d in the second before, %.1f%% of %d from "
      "t+1s to t+3s\n"
      "  share below %.0f%% in every later 250 ms window from %s; %d new connections "
      "to b1 after t, the last at t+%lld ms\n"
      "  latency_ms at t+3s: b0 %.3f b1 %.3f b2 %.3f\n",
      kClients, before * 100, n_before, after * 100, n_after, kBound * 100,
      drop ? ("t+" + std::to_string(drop->count()) + " ms").c_str() : "never", slow_after,
      static_cast<long long>(last_slow.count()), latency.at(b0), latency.at(b1), latency.at(b2));
  const double noise_ms = std::max(latency.at(b0), latency.at(b2));
  if (n_before < 600 || noise_ms > 25) {
    // ~950 connections expected (6 clients, 5 ms apart) and fast servers at
    // a few ms. Fewer, or slower, means the machine stalls every process for
    // tens of ms: the stalls are in every server's samples (peaks) and drown
    // the 50 ms step (measured at load 25 on 2 cores: 170-280 ms estimates
    // for the fast servers). Nothing to measure then.
    GTEST_SKIP() << "machine too loaded: " << n_before
                 << " connections in the second before, fast servers' estimate " << noise_ms
                 << " ms";
  }
  // While as fast as the others b1 takes about a third, less when a stall of
  // the machine gave it a peak that lasts (decay 10s): measured 11-62% on a
  // 2-core machine at load 12.
  EXPECT_GT(before, 0.05) << "b1 takes its share while it is as fast as the others";
  EXPECT_LT(after, kBound);
  EXPECT_LT(after, before / 2);
  ASSERT_TRUE(drop.has_value()) << "b1's share never stayed below the bound";
  EXPECT_LE(*drop, 2000ms);
  // The estimate shows the 50 ms (peak: the first slow answer sets it), decayed
  // by exp(-t / 10s) since b1's last sample: ~37 ms after 3 s without one.
  EXPECT_GT(latency.at(b1), 30);
  EXPECT_LT(latency.at(b0), latency.at(b1));
  EXPECT_LT(latency.at(b2), latency.at(b1));
  EXPECT_NE(m.find("# TYPE lbd_real_server_latency_seconds gauge\n"), std::string::npos);
  const std::string series =
      "lbd_real_server_latency_seconds{service=\"web\",server=\"" + b1 + "\"} ";
  ASSERT_NE(m.find(series), std::string::npos) << m;
  EXPECT_GT(std::stod(m.substr(m.find(series) + series.size())), 0.030);
  EXPECT_EQ(lbd_->Ctl({"status"}).out.find("latency"), std::string::npos)
      << "the ipvsadm table has no latency column";

  // A server that refuses: its first refused connect (retried on another
  // server) is a sample of timeouts.connect, so ewma stops sending there.
  b[2]->Stop();
  auto retries = [&] {
    auto j = StatusJson(*lbd_, "stats");
    return j ? (*j)["counters"]["retries"].number() : -1;
  };
  const double retries_before = retries();
  int answered = 0;
  for (int i = 0; i < 60; ++i) answered += !AskId(vip_).empty();
  const double refused_retries = retries() - retries_before;
  const double dead_ms = LatencyMs(*lbd_).at(b2);
  std::printf("  b2 refusing: %g retries in 60 connections, its latency_ms %.1f\n", refused_retries,
              dead_ms);
  EXPECT_EQ(answered, 60);
  EXPECT_GE(refused_retries, 1);
  EXPECT_LE(refused_retries, 2);
  EXPECT_GT(dead_ms, 500);  // 1000 ms, decayed by exp(-t / 10s)
}

}  // namespace
}  // namespace lbtest
