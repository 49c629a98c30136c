// ControlServer against real Unix sockets: long replies made part by part as
// the client drains, a client that never reads neither grows the server's
// memory nor stops it from serving others, and is closed once stalled.
#include "lbd/daemon/control_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <thread>

#include "lb_test_util.h"

namespace lbd {
namespace {

using namespace std::chrono_literals;

constexpr size_t kPartSize = 64 * 1024;
constexpr int kParts = 200;  // 12.5 MiB in all

// A control loop in its own thread: "big" answers kParts parts of kPartSize
// bytes each, made only when the server asks for them; anything else "OK".
class ControlServerTest : public ::testing::Test {
 protected:
  void Start(double stall_timeout) {
    loop_ = ev_loop_new(EVFLAG_AUTO);
    ev_async_init(&stop_, [](struct ev_loop* l, ev_async*, int) { ev_break(l, EVBREAK_ALL); });
    ev_async_start(loop_, &stop_);
    auto cs = ControlServer::Create(
        loop_, dir_.File("ctl.sock"),
        [this](std::string_view line) {
          if (line != "big") return ControlReply(EncodeReply(Status::Ok(), std::string(line)));
          ControlReply r("OK\n");
          auto left = std::make_shared<int>(kParts);
          r.more = [this, left](std::string& out) {
            parts_made_.fetch_add(1);
            out.append(kPartSize - 1, 'x');
            out += '\n';
            if (--*left > 0) return true;
            out += '\n';
            return false;
          };
          return r;
        },
        stall_timeout);
    ASSERT_TRUE(cs.ok()) << cs.status().message();
    server_ = std::move(cs).value();
    thread_ = std::thread([this] {
      ev_run(loop_, 0);
      server_.reset();
    });
  }
  void TearDown() override {
    if (thread_.joinable()) {
      ev_async_send(loop_, &stop_);
      thread_.join();
    }
    if (loop_ != nullptr) ev_loop_destroy(loop_);
  }
  lbtest::Fd Connect() {
    lbtest::Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::string path = dir_.File("ctl.sock");
    strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
    timeval tv{5, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) fd.Reset();
    return fd;
  }
  // Sends `line` and reads one whole reply (through its empty line).
  std::string Ask(int fd, const std::string& line) {
    if (!lbtest::SendAll(fd, line + "\n")) return "";
    std::string reply;
    char buf[65536];
    while (reply.size() < 2 || reply.compare(reply.size() - 2, 2, "\n\n") != 0) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      reply.append(buf, static_cast<size_t>(n));
    }
    return reply;
  }

  lbtest::TempDir dir_;
  struct ev_loop* loop_ = nullptr;
  ev_async stop_;
  std::unique_ptr<ControlServer> server_;
  std::thread thread_;
  std::atomic<int> parts_made_{0};
};

TEST_F(ControlServerTest, LongReplyIsMadeAsTheClientReadsIt) {
  Start(ControlServer::kStallTimeout);
  lbtest::Fd c = Connect();
  ASSERT_TRUE(c.valid());
  std::string reply = Ask(c.get(), "big");
  ASSERT_EQ(reply.size(), 3 + kParts * kPartSize + 1);
  EXPECT_EQ(reply.rfind("OK\nxxx", 0), 0u);
  EXPECT_EQ(parts_made_.load(), kParts);
  // The same connection goes on with the next command.
  EXPECT_EQ(Ask(c.get(), "again"), "OK\nagain\n\n");
}

TEST_F(ControlServerTest, AClientThatNeverReadsHoldsLittleAndIsClosedWhenStalled) {
  Start(/*stall_timeout=*/0.4);
  lbtest::Fd stuck = Connect();
  ASSERT_TRUE(stuck.valid());
  // A long reply, then many more commands, never reading a byte.
  std::string lines = "big\n";
  for (int i = 0; i < 2000; ++i) lines += "status --json\n";
  ASSERT_TRUE(lbtest::SendAll(stuck.get(), lines));
  // Only what the socket buffers and kLowWater hold was made, not 12.5 MiB.
  ASSERT_TRUE(lbtest::WaitFor([&] { return parts_made_.load() > 0; }));
  std::this_thread::sleep_for(100ms);
  const int made = parts_made_.load();
  EXPECT_LT(made, 40) << "parts made for a client that reads nothing";
  // Others are served meanwhile.
  for (int i = 0; i < 3; ++i) {
    lbtest::Fd other = Connect();
    ASSERT_TRUE(other.valid());
    EXPECT_EQ(Ask(other.get(), "status"), "OK\nstatus\n\n");
  }
  // Stalled past the timeout: closed (reading now sees the bytes queued
  // before, then the end, not the 12.5 MiB).
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(700ms);
  size_t got = 0;
  char buf[65536];
  ssize_t n;
  while ((n = recv(stuck.get(), buf, sizeof(buf), 0)) > 0) got += static_cast<size_t>(n);
  // The end, or ECONNRESET: the server closed with our lines unread.
  EXPECT_TRUE(n == 0 || errno == ECONNRESET) << "the stalled client was not closed";
  EXPECT_LT(got, static_cast<size_t>(made + 1) * kPartSize + 4);
  EXPECT_EQ(parts_made_.load(), made);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

// Silent clients (connected, no line) take every slot: a new client evicts
// the one that waited longest, and each is closed after request_timeout.
TEST_F(ControlServerTest, SilentClientsNeitherLockOutOthersNorStay) {
  Start(ControlServer::kStallTimeout);
  std::vector<lbtest::Fd> silent;
  for (size_t i = 0; i < ControlServer::kMaxClients + 8; ++i) silent.push_back(Connect());
  const auto start = std::chrono::steady_clock::now();
  lbtest::Fd c = Connect();
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(Ask(c.get(), "status"), "OK\nstatus\n\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  // Every silent one is closed within ~1.25 x the request timeout.
  for (auto& s : silent) {
    char b;
    EXPECT_LE(recv(s.get(), &b, 1, 0), 0);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

}  // namespace
}  // namespace lbd
