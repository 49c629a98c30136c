// The data plane in-process: one Worker, loopback sockets, a test-driven real
// server. Covers connection accounting, half-close, reset propagation, the
// retry, the copy fallback and snapshot publication; and one Connection run on
// a bare WorkerContext, without a Worker.
#include "lbd/daemon/worker.h"

#include <gtest/gtest.h>

#include <iostream>

#include "lb_test_util.h"
#include "lbd/daemon/connection.h"
#include "lbd/daemon/mailbox.h"
#include "lbd/daemon/worker_context.h"
#include "lbd/sys/socket.h"

namespace lbd {
namespace {

using lbtest::Fd;
using lbtest::WaitFor;

// A listening socket the test accepts from by hand.
struct ManualServer {
  ManualServer() {
    auto fd = OpenTcpListener(ParseEndpoint("127.0.0.1:0", true).value(), false);
    listener = Fd(*fd);
    endpoint = LocalEndpoint(listener.get()).value();
  }
  Fd Accept() {
    pollfd p{listener.get(), POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) return Fd();
    int fd = accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    // The listener is non-blocking; make the accepted socket blocking.
    fcntl(fd, F_SETFL, 0);
    return Fd(fd);
  }
  Fd listener;
  Endpoint endpoint;
};

std::string RecvSome(int fd, size_t n) {
  std::string out;
  char buf[4096];
  while (out.size() < n) {
    ssize_t k = recv(fd, buf, std::min(sizeof(buf), n - out.size()), 0);
    if (k <= 0) break;
    out.append(buf, static_cast<size_t>(k));
  }
  return out;
}

class WorkerTest : public ::testing::Test {
 protected:
  void StartWorker(bool force_copy = false, int64_t max_connections = 0) {
    WorkerOptions o;
    o.counters = &counters_;
    o.force_copy = force_copy;
    o.max_connections = max_connections;
    worker_ = std::move(Worker::Create(o)).value();
    worker_->Start();
  }
  void TearDown() override {
    if (worker_) {
      worker_->Abort();
      worker_->Join();
    }
  }

  // A table with one rr service listening on a fresh port, with `servers`.
  std::shared_ptr<const ServiceTable> MakeTable(uint64_t generation,
                                                const std::vector<Endpoint>& servers,
                                                std::optional<Endpoint> sorry = std::nullopt) {
    auto svc = std::move(Service::Create("rr")).value();
    for (Endpoint e : servers) (void)svc->AddServer(e, {});
    runtime_ = std::make_shared<ServiceRuntime>("test", std::move(svc));
    auto table = std::make_shared<ServiceTable>();
    table->generation = generation;
    ServiceEntry e;
    e.runtime = runtime_;
    e.listeners =
        std::move(ListenerSet::Open(ParseEndpoint("127.0.0.1:0", true).value(), 1)).value();
    e.listen = LocalEndpoint(e.listeners->fd(0)).value();
    e.connect_timeout = 1.0;
    e.idle_timeout = 30.0;
    e.sorry_server = sorry;
    for (Endpoint s : servers) e.server_stats.emplace(s, std::make_shared<TrafficStats>());
    vip_port_ = e.listen.port;
    stats_ = e.server_stats;
    table->services.push_back(std::move(e));
    return table;
  }

  // One side of an established connection closes with RST: the other side
  // gets the reset and the connection is gone.
  void ResetOneSide(bool client_resets) {
    ManualServer backend;
    StartWorker();
    worker_->Publish(MakeTable(1, {backend.endpoint}));
    ASSERT_TRUE(WaitFor([&] { return worker_->generation() == 1; }));
    Fd client = lbtest::Connect(vip_port_);
    Fd server = backend.Accept();
    ASSERT_TRUE(server.valid());
    auto rs = runtime_->service->Find(backend.endpoint);
    ASSERT_TRUE(WaitFor([&] { return rs->active() == 1; }));
    Fd& resetting = client_resets ? client : server;
    Fd& other = client_resets ? server : client;
    SetLingerZero(resetting.get());
    resetting.Reset();
    char c;
    errno = 0;
    EXPECT_EQ(recv(other.get(), &c, 1, 0), -1);
    EXPECT_EQ(errno, ECONNRESET);
    ASSERT_TRUE(WaitFor([&] { return rs->active() == 0 && rs->inactive() == 0; }));
  }

  ProcessCounters counters_;
  std::unique_ptr<Worker> worker_;
  std::shared_ptr<ServiceRuntime> runtime_;
  ServerStatsMap stats_;
  uint16_t vip_port_ = 0;
};

TEST(Mailbox, KeepsOnlyTheNewestValue) {
  Mailbox<int> m;
  EXPECT_EQ(m.Take(), nullptr);
  m.Publish(std::make_shared<const int>(1));
  m.Publish(std::make_shared<const int>(2));
  auto v = m.Take();
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(*v, 2);
  EXPECT_EQ(m.Take(), nullptr);
}

TEST(ConnectionSlot, StaysSmall) {
  // What an idle connection costs in user space: one slab slot (no pipe, no
  // buffer while no byte is in flight). The kernel adds its two sockets.
  std::cout << "sizeof(Connection) = " << sizeof(Connection) << " bytes\n";
  EXPECT_LE(sizeof(Connection), 512u);
}

TEST(ConnectionBudget, DefaultLeavesAReserve) {
  // (20000 - 1024 - 2 x 4) / 3
  EXPECT_EQ(DefaultMaxConnections(20000, 4), 6322);
  // A small limit keeps half of it in reserve.
  EXPECT_EQ(DefaultMaxConnections(1024, 0), 170);
  EXPECT_EQ(DefaultMaxConnections(2, 0), 1);
}

// At maxconn the worker stops accepting: a new client waits in the accept
// queue (its connect succeeds, nothing is relayed) until a connection ends.
TEST_F(WorkerTest, MaxconnLeavesNewClientsQueuedUntilASlotFrees) {
  ManualServer backend;
  StartWorker(/*force_copy=*/false, /*max_connections=*/2);
  worker_->Publish(MakeTable(1, {backend.endpoint}));
  ASSERT_TRUE(WaitFor([&] { return worker_->generation() == 1; }));
  Fd a = lbtest::Connect(vip_port_);
  Fd sa = backend.Accept();
  Fd b = lbtest::Connect(vip_port_);
  Fd sb = backend.Accept();
  ASSERT_TRUE(sa.valid() && sb.valid());
  Fd c = lbtest::Connect(vip_port_);
  ASSERT_TRUE(c.valid());  // the kernel completed the handshake
  ASSERT_TRUE(WaitFor([&] { return counters_.maxconn_reached.load() == 1; }));
  pollfd p{backend.listener.get(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 200), 0) << "a third connection reached the server";
  EXPECT_EQ(counters_.live.load(), 2);
  a.Reset();
  sa.Reset();
  Fd sc = backend.Accept();  // the queued client gets its slot
  ASSERT_TRUE(sc.valid());
  ASSERT_TRUE(lbtest::SendAll(c.get(), "hi"));
  EXPECT_EQ(RecvSome(sc.get(), 2), "hi");
  EXPECT_EQ(counters_.live.load(), 2);
}

TEST_F(WorkerTest, AccountingFollowsTheConnectionStates) {
  ManualServer backend;
  StartWorker();
  worker_->Publish(MakeTable(1, {backend.endpoint}));
  ASSERT_TRUE(WaitFor([&] { return worker_->generation() == 1; }));
  auto rs = runtime_->service->Find(backend.endpoint);

  Fd client = lbtest::Connect(vip_port_);
  ASSERT_TRUE(client.valid());
  Fd server = backend.Accept();
  ASSERT_TRUE(server.valid());
  // Established both ways: active.
  ASSERT_TRUE(WaitFor([&] { return rs->active() == 1 && rs->inactive() == 0; }));
  ASSERT_TRUE(lbtest::SendAll(client.get(), "hello"));
  EXPECT_EQ(RecvSome(server.get(), 5), "hello");
  ASSERT_TRUE(lbtest::SendAll(server.get(), "world!!!"));
  EXPECT_EQ(RecvSome(client.get(), 8), "world!!!");

  // The client half-closes: the server sees EOF, the connection is inactive,
  // and the server can still answer.
  shutdown(client.get(), SHUT_WR);
  char c;
  EXPECT_EQ(recv(server.get(), &c, 1, 0), 0);
  ASSERT_TRUE(WaitFor([&] { return rs->active() == 0 && rs->inactive() == 1; }));
  ASSERT_TRUE(lbtest::SendAll(server.get(), "bye"));
  EXPECT_EQ(RecvSome(client.get(), 3), "bye");

  // The server closes too: the connection is gone.
  server.Reset();
  EXPECT_EQ(recv(client.get(), &c, 1, 0), 0);
  ASSERT_TRUE(WaitFor([&] { return rs->active() == 0 && rs->inactive() == 0; }));
  ASSERT_TRUE(WaitFor([&] { return worker_->live_connections() == 0; }));
  const TrafficStats& st = *stats_.at(backend.endpoint);
  EXPECT_EQ(st.connections.load(), 1u);
  EXPECT_EQ(st.bytes_in.load(), 5u);
  EXPECT_EQ(st.bytes_out.load(), 11u);
  EXPECT_EQ(runtime_->stats.connections.load(), 1u);
}

TEST_F(WorkerTest, ResetIsPropagatedAsReset) {
  ResetOneSide(/*client_resets=*/false);
  EXPECT_EQ(counters_.resets.load(), 1u);
  EXPECT_EQ(counters_.server_resets.load(), 1u);
  EXPECT_EQ(counters_.client_resets.load(), 0u);
}

TEST_F(WorkerTest, ClientResetIsCountedOnTheClientSide) {
  ResetOneSide(/*client_resets=*/true);
  EXPECT_EQ(counters_.resets.load(), 1u);
  EXPECT_EQ(counters_.client_resets.load(), 1u);
  EXPECT_EQ(counters_.server_resets.load(), 0u);
}

TEST_F(WorkerTest, FailedConnectIsRetriedOnAnotherServer) {
  ManualServer live;
  Endpoint dead = ParseEndpoint("127.0.0.1:" + std::to_string(lbtest::FreePort())).value();
  StartWorker();
  worker_->Publish(MakeTable(1, {dead, live.endpoint}));
  ASSERT_TRUE(WaitFor([&] { return worker_->generation() == 1; }));
  Fd client = lbtest::Connect(vip_port_);  // rr picks `dead` first
  Fd server = live.Accept();
  ASSERT_TRUE(server.valid());
  ASSERT_TRUE(lbtest::SendAll(server.get(), "ok"));
  EXPECT_EQ(RecvSome(client.get(), 2), "ok");
  EXPECT_EQ(counters_.connect_failures.load(), 1u);
  EXPECT_EQ(counters_.retries.load(), 1u);
  auto d = runtime_->service->Find(dead);
  EXPECT_EQ(d->active() + d->inactive(), 0);
}

TEST_F(WorkerTest, NoServerClosesTheClientAtOnceAndSorryServerTakesOver) {
  StartWorker();
  worker_->Publish(MakeTable(1, {}));
  ASSERT_TRUE(WaitFor([&] { return worker_->generation() == 1; }));
  Fd client = lbtest::Connect(vip_port_);
  char c;
  EXPECT_EQ(recv(client.get(), &c, 1, 0), 0);
  EXPECT_EQ(counters_.no_server.load(), 1u);

  ManualServer sorry;
  worker_->Publish(MakeTable(2, {}, sorry.endpoint));
  ASSERT_TRUE(WaitFor([&] { return worker_->generation() == 2; }));
  Fd client2 = lbtest::Connect(vip_port_);
  Fd server = sorry.Accept();
  ASSERT_TRUE(server.valid());
  ASSERT_TRUE(lbtest::SendAll(server.get(), "sorry"));
  EXPECT_EQ(RecvSome(client2.get(), 5), "sorry");
  EXPECT_EQ(counters_.sorry.load(), 1u);
}

TEST_F(WorkerTest, CopyFallbackRelaysLikeSplice) {
  ManualServer backend;
  StartWorker(/*force_copy=*/true);
  worker_->Publish(MakeTable(1, {backend.endpoint}));
  ASSERT_TRUE(WaitFor([&] { return worker_->generation() == 1; }));
  Fd client = lbtest::Connect(vip_port_);
  Fd server = backend.Accept();
  ASSERT_TRUE(server.valid());
  std::string blob(300000, '\0');
  lbtest::FillPattern(blob.data(), blob.size(), 0, 3);
  std::thread sender([&] {
    lbtest::SendAll(client.get(), blob);
    shutdown(client.get(), SHUT_WR);
  });
  std::string got = lbtest::ReadAll(server.get(), blob.size() + 1);
  sender.join();
  EXPECT_EQ(got.size(), blob.size());
  EXPECT_TRUE(got == blob);
}

TEST_F(WorkerTest, SnapshotSwapKeepsConnectionsAndClosesDroppedListeners) {
  ManualServer backend;
  StartWorker();
  auto t1 = MakeTable(1, {backend.endpoint});
  std::weak_ptr<const ListenerSet> old_listeners = t1->services[0].listeners;
  uint16_t old_port = vip_port_;
  worker_->Publish(std::move(t1));
  ASSERT_TRUE(WaitFor([&] { return worker_->generation() == 1; }));
  Fd client = lbtest::Connect(old_port);
  Fd server = backend.Accept();
  ASSERT_TRUE(server.valid());

  // A table without the service: the worker swaps it in its own thread and
  // releases the old one, which closes the listener.
  auto empty = std::make_shared<ServiceTable>();
  empty->generation = 2;
  worker_->Publish(std::move(empty));
  ASSERT_TRUE(WaitFor([&] { return worker_->generation() == 2; }));
  ASSERT_TRUE(WaitFor([&] { return old_listeners.expired(); }));
  EXPECT_FALSE(lbtest::Connect(old_port).valid());

  // The established connection is untouched.
  ASSERT_TRUE(lbtest::SendAll(client.get(), "still"));
  EXPECT_EQ(RecvSome(server.get(), 5), "still");
  ASSERT_TRUE(lbtest::SendAll(server.get(), "here"));
  EXPECT_EQ(RecvSome(client.get(), 4), "here");
}

TEST_F(WorkerTest, DrainEndsTheThreadWhenTheLastConnectionCloses) {
  ManualServer backend;
  StartWorker();
  worker_->Publish(MakeTable(1, {backend.endpoint}));
  ASSERT_TRUE(WaitFor([&] { return worker_->generation() == 1; }));
  Fd client = lbtest::Connect(vip_port_);
  Fd server = backend.Accept();
  ASSERT_TRUE(WaitFor([&] { return worker_->live_connections() == 1; }));
  worker_->BeginDrain();
  // Still relaying while draining.
  ASSERT_TRUE(lbtest::SendAll(client.get(), "x"));
  EXPECT_EQ(RecvSome(server.get(), 1), "x");
  EXPECT_FALSE(worker_->finished());
  client.Reset();
  server.Reset();
  ASSERT_TRUE(WaitFor([&] { return worker_->finished(); }));
}

// A Connection needs only its WorkerContext: here the test owns the loop, the
// context and the slot, and drives the loop itself (no Worker, no thread).
class ConnectionOnAContextTest : public WorkerTest, public ConnectionOwner {
 protected:
  void Release(Connection* c) override { released_.push_back(c); }

  std::vector<Connection*> released_;
};

TEST_F(ConnectionOnAContextTest, RelaysAndGivesItsSlotBackThroughTheOwner) {
  ManualServer backend;
  struct ev_loop* loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
  ASSERT_NE(loop, nullptr);
  {
    WorkerContext context(loop, counters_, *this, /*worker_index_in=*/0, /*force_copy_in=*/false);
    context.table = MakeTable(1, {backend.endpoint});
    const ServiceEntry& entry = context.table->services[0];
    auto run_until = [&](const std::function<bool()>& done) {
      return WaitFor([&] {
        ev_run(loop, EVRUN_NOWAIT);
        return done();
      });
    };

    Fd client = lbtest::Connect(vip_port_);
    ASSERT_TRUE(client.valid());
    pollfd p{entry.listeners->fd(0), POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 5000), 1);
    sockaddr_in sa{};
    socklen_t len = sizeof(sa);
    int accepted = accept4(entry.listeners->fd(0), reinterpret_cast<sockaddr*>(&sa), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    ASSERT_GE(accepted, 0);
    Connection connection;
    connection.Start(context, accepted, FromSockaddr(sa), entry);

    ASSERT_TRUE(run_until([&] {
      pollfd q{backend.listener.get(), POLLIN, 0};
      return poll(&q, 1, 0) == 1;
    }));
    Fd server = backend.Accept();
    ASSERT_TRUE(server.valid());
    auto rs = runtime_->service->Find(backend.endpoint);
    ASSERT_TRUE(run_until([&] { return rs->active() == 1; }));

    ASSERT_TRUE(lbtest::SendAll(client.get(), "ping"));
    std::string got;
    ASSERT_TRUE(run_until([&] {
      char buf[16];
      ssize_t n = recv(server.get(), buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      return got.size() >= 4;
    }));
    EXPECT_EQ(got, "ping");

    client.Reset();
    server.Reset();
    ASSERT_TRUE(run_until([&] { return !released_.empty(); }));
    ASSERT_EQ(released_.size(), 1u);
    EXPECT_EQ(released_[0], &connection);
    EXPECT_EQ(rs->active() + rs->inactive(), 0);
    EXPECT_EQ(stats_.at(backend.endpoint)->bytes_in.load(), 4u);
    EXPECT_EQ(runtime_->stats.connections.load(), 1u);
  }
  ev_loop_destroy(loop);
}

}  // namespace
}  // namespace lbd
