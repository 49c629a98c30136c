// Integration tests of the access log (global.access_log, per-service
// access_log; format in lb/daemon/include/lbd/daemon/connection.h) and of
// what log_level: debug adds (scheduling decisions, connect attempts, health
// probes). Real lbd on loopback; every wait is bounded.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <iostream>
#include <regex>

#include "lb_test_util.h"
#include "lbd_process.h"

namespace lbtest {
namespace {

// One parsed "access ..." line.
struct AccessLine {
  std::string client, service, vip, server, term;
  long long connect_ms = 0, total_ms = 0;
  unsigned long long in = 0, out = 0;
};

// The access line of the connection from `client` in `log`, if any.
std::optional<AccessLine> FindAccess(const std::string& log, const std::string& client) {
  static const std::regex kLine(
      R"(INFO access (\S+) (\S+) (\S+) (\S+) (-?\d+)/(\d+) (\d+)/(\d+) (\S\S)\n)");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kLine); it != std::sregex_iterator();
       ++it) {
    const std::smatch& m = *it;
    if (m[1] != client) continue;
    AccessLine a;
    a.client = m[1];
    a.service = m[2];
    a.vip = m[3];
    a.server = m[4];
    a.connect_ms = std::stoll(m[5]);
    a.total_ms = std::stoll(m[6]);
    a.in = std::stoull(m[7]);
    a.out = std::stoull(m[8]);
    a.term = m[9];
    return a;
  }
  return std::nullopt;
}

std::string LocalAddress(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return "";
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
  return std::string(ip) + ":" + std::to_string(ntohs(sa.sin_port));
}

class AccessLogTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && lbd_) std::cerr << "--- lbd log ---\n" << lbd_->Log();
    lbd_.reset();
  }
  std::optional<AccessLine> WaitAccess(const std::string& client) {
    std::optional<AccessLine> a;
    WaitFor([&] { return (a = FindAccess(lbd_->Log(), client)).has_value(); }, 5000ms);
    return a;
  }

  TempDir dir_;
  std::unique_ptr<LbdProcess> lbd_;
};

TEST_F(AccessLogTest, OneLinePerConnectionWithItsTermination) {
  Backend b0("b0");
  const uint16_t web = FreePort(), dead = FreePort(), idle = FreePort(), quiet = FreePort();
  const uint16_t refused = FreePort();  // nothing listens there
  const std::string config =
      "global:\n  workers: 1\n  control_socket: " + dir_.File("lbd.sock") +
      "\n  access_log: true\n  log_level: debug\n"
      "virtual_services:\n"
      "  - name: web\n    listen: 127.0.0.1:" +
      std::to_string(web) +
      "\n    scheduler: rr\n"
      "    healthcheck: {type: tcp, interval: 200ms}\n"
      "    real_servers:\n      - {address: " +
      b0.address() +
      "}\n"
      "  - name: dead\n    listen: 127.0.0.1:" +
      std::to_string(dead) +
      "\n    real_servers:\n      - {address: 127.0.0.1:" + std::to_string(refused) +
      "}\n"
      "  - name: idle\n    listen: 127.0.0.1:" +
      std::to_string(idle) + "\n    timeouts: {idle: 300ms}\n    real_servers:\n" +
      "      - {address: " + b0.address() +
      "}\n"
      "  - name: quiet\n    listen: 127.0.0.1:" +
      std::to_string(quiet) + "\n    access_log: false\n    real_servers:\n" +
      "      - {address: " + b0.address() + "}\n";
  lbd_ = std::make_unique<LbdProcess>(dir_, config);
  ASSERT_TRUE(lbd_->Start()) << lbd_->Log();

  // A normal request: 3 bytes each way, both sides close.
  std::string normal_client;
  {
    Fd c = Connect(web);
    ASSERT_TRUE(c.valid());
    normal_client = LocalAddress(c.get());
    ASSERT_TRUE(SendAll(c.get(), "ID\n"));
    EXPECT_EQ(Trim(ReadAll(c.get())), "b0");
  }
  auto a = WaitAccess(normal_client);
  ASSERT_TRUE(a.has_value()) << lbd_->Log();
  EXPECT_EQ(a->service, "web");
  EXPECT_EQ(a->vip, "127.0.0.1:" + std::to_string(web));
  EXPECT_EQ(a->server, b0.address());
  EXPECT_GE(a->connect_ms, 0);
  EXPECT_LE(a->connect_ms, a->total_ms);
  EXPECT_LT(a->total_ms, 5000);
  EXPECT_EQ(a->in, 3u);
  EXPECT_EQ(a->out, 3u);
  EXPECT_EQ(a->term, "--");

  // A refused server: never connected, the server refused (SC).
  std::string refused_client;
  {
    Fd c = Connect(dead);
    ASSERT_TRUE(c.valid());
    refused_client = LocalAddress(c.get());
    SendAll(c.get(), "ID\n");
    EXPECT_EQ(ReadAll(c.get()), "");
  }
  a = WaitAccess(refused_client);
  ASSERT_TRUE(a.has_value()) << lbd_->Log();
  EXPECT_EQ(a->service, "dead");
  EXPECT_EQ(a->server, "127.0.0.1:" + std::to_string(refused));
  EXPECT_EQ(a->connect_ms, -1);
  EXPECT_EQ(a->in, 0u);
  EXPECT_EQ(a->out, 0u);
  EXPECT_EQ(a->term, "SC");

  // An idle connection: closed by timeouts.idle while relaying (cD).
  std::string idle_client;
  {
    Fd c = Connect(idle);
    ASSERT_TRUE(c.valid());
    idle_client = LocalAddress(c.get());
    ASSERT_TRUE(SendAll(c.get(), "HOLD\n"));
    EXPECT_EQ(ReadAll(c.get()), "");  // lbd closes it after 300 ms
  }
  a = WaitAccess(idle_client);
  ASSERT_TRUE(a.has_value()) << lbd_->Log();
  EXPECT_EQ(a->service, "idle");
  EXPECT_EQ(a->server, b0.address());
  EXPECT_GE(a->total_ms, 250);
  EXPECT_EQ(a->in, 5u);
  EXPECT_EQ(a->out, 0u);
  EXPECT_EQ(a->term, "cD");

  // access_log: false on the service wins over the global default.
  std::string quiet_client;
  {
    Fd c = Connect(quiet);
    ASSERT_TRUE(c.valid());
    quiet_client = LocalAddress(c.get());
    ASSERT_TRUE(SendAll(c.get(), "ID\n"));
    EXPECT_EQ(Trim(ReadAll(c.get())), "b0");
  }
  // Its debug line comes when it is scheduled: after that, no access line.
  ASSERT_TRUE(WaitFor(
      [&] { return lbd_->Log().find("service quiet: " + quiet_client) != std::string::npos; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(FindAccess(lbd_->Log(), quiet_client).has_value());

  // log_level: debug: the scheduling decision, the connect attempts (with
  // the retry's failure) and each health probe.
  const std::string log = lbd_->Log();
  EXPECT_NE(
      log.find("DEBUG service web: " + normal_client + " -> " + b0.address() + " (scheduler rr)"),
      std::string::npos);
  EXPECT_NE(log.find("DEBUG service web: connecting " + normal_client + " to " + b0.address() +
                     " (attempt 1)"),
            std::string::npos);
  EXPECT_NE(log.find("DEBUG service dead: connect " + refused_client +
                     " to 127.0.0.1:" + std::to_string(refused) + " failed (Connection refused)"),
            std::string::npos);
  EXPECT_TRUE(WaitFor([&] {
    return lbd_->Log().find("DEBUG health check web " + b0.address() + ": probe passed") !=
           std::string::npos;
  }));
}

TEST_F(AccessLogTest, OffByDefault) {
  Backend b0("b0");
  const uint16_t web = FreePort();
  lbd_ = std::make_unique<LbdProcess>(
      dir_, "global:\n  workers: 1\n  control_socket: " + dir_.File("lbd.sock") +
                "\nvirtual_services:\n  - name: web\n    listen: 127.0.0.1:" + std::to_string(web) +
                "\n    real_servers:\n      - {address: " + b0.address() + "}\n");
  ASSERT_TRUE(lbd_->Start()) << lbd_->Log();
  EXPECT_EQ(AskId(web), "b0");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(lbd_->Log().find(" access "), std::string::npos);
  EXPECT_EQ(lbd_->Log().find("DEBUG"), std::string::npos);
}

}  // namespace
}  // namespace lbtest
