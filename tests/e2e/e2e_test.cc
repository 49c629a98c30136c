// End-to-end test of the shop issue: lbd (proxy mode, http health checks) in front of three
// shopd instances that share one SQLite database, all real processes on 127.0.0.1. The test
// talks HTTP to lbd's VIP only (one request per connection, `Connection: close`, so every
// request is a new scheduling decision) and, for the big run, reads the database read-only.
// Every process is killed by PID through RAII (also when an assertion fails), every directory is
// removed, every wait has a deadline.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lbd_process.h"

#ifndef SHOPD_PATH
#error "SHOPD_PATH must name the shopd binary"
#endif

namespace lbd {
namespace {

using lbtest::Clock;
using lbtest::Fd;
using lbtest::Json;
using lbtest::JsonParser;
using lbtest::LbdProcess;
using lbtest::TempDir;
using lbtest::WaitFor;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

// Health check of the service: a killed server must be down after kFall failed checks, i.e.
// within kFall * kHealthInterval + kHealthTimeout.
constexpr int kHealthIntervalMs = 200;
constexpr int kHealthTimeoutMs = 500;
constexpr int kRise = 1;
constexpr int kFall = 2;
// What the test itself may add to that bound: polling lbctl (a fork+exec per poll) and
// scheduling on a loaded machine.
constexpr milliseconds kMarkDownSlack{700};

constexpr milliseconds kStartTimeout{15000};
constexpr milliseconds kRequestTimeout{5000};

// --- one HTTP/1.1 request per connection ---

struct HttpReply {
  int status = 0;  // 0: no (complete) response: refused, reset, closed early or timed out
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string error;  // why status is 0

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
  std::string ServedBy() const { return Header("x-served-by"); }
  // The value of the `session` cookie set by this response, "" when none.
  std::string SessionCookie() const {
    std::string cookie = Header("set-cookie");
    if (!cookie.starts_with("session=")) return "";
    return cookie.substr(8, cookie.find(';') - 8);
  }
  std::optional<Json> BodyJson() const { return JsonParser::Parse(body); }
};

std::string Describe(const HttpReply& reply) {
  if (reply.status == 0) return "no response (" + reply.error + ")";
  return std::to_string(reply.status) + " from " + reply.ServedBy() + ": " + reply.body;
}

// Sends one request with `Connection: close` to 127.0.0.1:port and reads the response until
// EOF, all within `timeout`. A response shorter than its Content-Length counts as none.
HttpReply HttpRequest(uint16_t port, const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& session = "",
                      const std::vector<std::pair<std::string, std::string>>& headers = {},
                      milliseconds timeout = kRequestTimeout) {
  HttpReply reply;
  auto deadline = Clock::now() + timeout;
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) {
    reply.error = "socket failed";
    return reply;
  }
  auto wait = [&](short events) {
    while (true) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd.get(), events, 0};
      int n = poll(&p, 1, static_cast<int>(left));
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return false;
    }
  };
  sockaddr_in addr = lbtest::Addr("127.0.0.1", port);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      reply.error = std::string("connect: ") + strerror(errno);
      return reply;
    }
    if (!wait(POLLOUT)) {
      reply.error = "connect timed out";
      return reply;
    }
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      reply.error = std::string("connect: ") + strerror(err);
      return reply;
    }
  }
  std::string request =
      method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!body.empty() || method == "POST") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  if (!body.empty()) request += "Content-Type: application/json\r\n";
  if (!session.empty()) request += "Cookie: session=" + session + "\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  request += "\r\n" + body;
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait(POLLOUT)) {
        reply.error = "send timed out";
        return reply;
      }
    } else {
      reply.error = std::string("send: ") + strerror(errno);
      return reply;
    }
  }
  std::string data;
  char chunk[16384];
  while (true) {
    ssize_t n = recv(fd.get(), chunk, sizeof chunk, 0);
    if (n > 0) {
      data.append(chunk, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait(POLLIN)) {
        reply.error = "response timed out after " + std::to_string(data.size()) + " bytes";
        return reply;
      }
    } else {
      reply.error = std::string("recv: ") + strerror(errno) + " after " +
                    std::to_string(data.size()) + " bytes";
      return reply;
    }
  }
  size_t header_end = data.find("\r\n\r\n");
  if (header_end == std::string::npos || !data.starts_with("HTTP/1.") || data.size() < 12) {
    reply.error = "no complete header in " + std::to_string(data.size()) + " bytes";
    return reply;
  }
  size_t line_end = data.find("\r\n");
  int status = std::atoi(data.substr(9, 3).c_str());
  for (size_t pos = line_end + 2; pos < header_end;) {
    size_t end = data.find("\r\n", pos);
    std::string line = data.substr(pos, end - pos);
    pos = end + 2;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    reply.headers[name] = value;
  }
  reply.body = data.substr(header_end + 4);
  std::string length = reply.Header("content-length");
  if (!length.empty() && reply.body.size() != std::stoul(length)) {
    reply.error =
        "body of " + std::to_string(reply.body.size()) + " bytes, Content-Length " + length;
    reply.headers.clear();
    reply.body.clear();
    return reply;
  }
  reply.status = status;
  return reply;
}

// --- one shopd process ---

// Runs `shopd --listen 127.0.0.1:0 --name NAME --db DB`, learns its port from the first stdout
// line; SIGKILLed (by PID) when the handle dies. The child also gets SIGKILL when the test's
// main thread dies (PR_SET_PDEATHSIG), so a crashed test leaves no server behind.
class ShopdProcess {
 public:
  ShopdProcess(std::string name, std::string db, std::string stderr_path)
      : name_(std::move(name)), db_(std::move(db)), stderr_path_(std::move(stderr_path)) {}
  ~ShopdProcess() { Kill(); }
  ShopdProcess(const ShopdProcess&) = delete;
  ShopdProcess& operator=(const ShopdProcess&) = delete;

  // Forks and execs; call from the test's main thread. AwaitAddress() completes the start, so
  // that several instances can start at once.
  // `listen`: 127.0.0.1:0 for a fresh port, or address() to come back on the same one.
  bool Spawn(const std::string& listen = "127.0.0.1:0") {
    std::vector<std::string> args = {SHOPD_PATH, "--listen", listen,      "--name", name_,
                                     "--db",     db_,        "--threads", "4"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return false;
    Fd read_end(out[0]), write_end(out[1]);
    Fd err(open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!err.valid()) return false;
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      dup2(write_end.get(), STDOUT_FILENO);
      dup2(err.get(), STDERR_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
    stdout_ = std::move(read_end);
    return true;
  }

  // Reads "listening on 127.0.0.1:PORT" within kStartTimeout.
  bool AwaitAddress() {
    auto deadline = Clock::now() + kStartTimeout;
    std::string line;
    while (true) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{stdout_.get(), POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char c;
      if (read(stdout_.get(), &c, 1) != 1) return false;  // exited before printing
      if (c == '\n') break;
      line += c;
    }
    const std::string prefix = "listening on 127.0.0.1:";
    if (!line.starts_with(prefix)) return false;
    port_ = static_cast<uint16_t>(std::stoi(line.substr(prefix.size())));
    return port_ > 0;
  }

  void Kill() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  const std::string& name() const { return name_; }
  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string Stderr() const { return lbtest::ReadFile(stderr_path_); }

 private:
  std::string name_, db_, stderr_path_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  Fd stdout_;
};

// --- the read-only view of the shop's database ---

class ReadOnlyDb {
 public:
  explicit ReadOnlyDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      error_ = db_ ? sqlite3_errmsg(db_) : "out of memory";
    } else {
      sqlite3_busy_timeout(db_, 5000);
    }
  }
  ~ReadOnlyDb() { sqlite3_close(db_); }
  ReadOnlyDb(const ReadOnlyDb&) = delete;
  ReadOnlyDb& operator=(const ReadOnlyDb&) = delete;

  const std::string& error() const { return error_; }

  // Every row of `sql`, each column as text ("" for NULL); nullopt (and error()) on failure.
  std::optional<std::vector<std::vector<std::string>>> Query(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      error_ = sqlite3_errmsg(db_);
      return std::nullopt;
    }
    std::vector<std::vector<std::string>> rows;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* text = sqlite3_column_text(stmt, i);
        row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
      }
      rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) error_ = sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return std::nullopt;
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
  std::string error_;
};

// --- the fixture: three shopd instances (weights 3/2/1) and lbd in front ---

struct Instance {
  const char* name;
  int weight;
};
constexpr Instance kInstances[] = {{"shop-1", 3}, {"shop-2", 2}, {"shop-3", 1}};

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const Instance& instance : kInstances) {
      shops_.push_back(std::make_unique<ShopdProcess>(
          instance.name, dir_.File("shop.db"), dir_.File(std::string(instance.name) + ".err")));
    }
    // Started together on a fresh database, as in the demo.
    for (auto& shop : shops_) ASSERT_TRUE(shop->Spawn());
    for (auto& shop : shops_) {
      ASSERT_TRUE(shop->AwaitAddress()) << shop->name() << " did not start:\n" << shop->Stderr();
    }
  }

  void TearDown() override {
    if (!HasFailure()) return;
    if (lbd_) std::cerr << "--- lbd log ---\n" << lbd_->Log();
    for (auto& shop : shops_) std::cerr << "--- " << shop->name() << " ---\n" << shop->Stderr();
  }

  std::string Config(const std::string& scheduler) const {
    std::string config = "global:\n  workers: 2\n  control_socket: " + dir_.File("lbd.sock") +
                         "\n  drain_timeout: 1s\nvirtual_services:\n  - name: shop\n"
                         "    listen: 127.0.0.1:" +
                         std::to_string(vip_) + "\n    scheduler: " + scheduler +
                         "\n    forwarding: proxy\n    timeouts: {connect: 1s, idle: 30s}\n"
                         "    healthcheck:\n      type: http\n      path: /health\n"
                         "      expect_status: 200\n      interval: " +
                         std::to_string(kHealthIntervalMs) +
                         "ms\n      timeout: " + std::to_string(kHealthTimeoutMs) +
                         "ms\n      rise: " + std::to_string(kRise) +
                         "\n      fall: " + std::to_string(kFall) + "\n    real_servers:\n";
    for (size_t i = 0; i < shops_.size(); ++i) {
      config += "      - {address: " + shops_[i]->address() +
                ", weight: " + std::to_string(kInstances[i].weight) + "}\n";
    }
    return config;
  }

  // Starts lbd on a free VIP port (bound to 0 and released; another one on a collision) and
  // waits until every real server is up.
  void StartLbd(const std::string& scheduler) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      vip_ = lbtest::FreePort();
      lbd_.reset();
      lbd_ = std::make_unique<LbdProcess>(dir_, Config(scheduler));
      if (lbd_->Start()) break;
    }
    ASSERT_FALSE(lbd_->Exited()) << "lbd did not start:\n" << lbd_->Log();
    ASSERT_TRUE(WaitFor([&] { return UpServers().size() == shops_.size(); }, 10000ms))
        << lbd_->Ctl({"status"}).out;
  }

  // The addresses lbctl reports as up.
  std::set<std::string> UpServers() const {
    std::set<std::string> up;
    lbtest::RunResult r = lbd_->Ctl({"status", "--json"});
    std::optional<Json> j = JsonParser::Parse(r.out);
    if (r.exit_code != 0 || !j) return up;
    for (const Json& service : (*j)["services"].array()) {
      for (const Json& server : service["servers"].array()) {
        if (server["up"].boolean()) up.insert(server["address"].str());
      }
    }
    return up;
  }

  TempDir dir_;
  std::vector<std::unique_ptr<ShopdProcess>> shops_;
  uint16_t vip_ = 0;
  std::unique_ptr<LbdProcess> lbd_;  // declared last: killed first
};

std::string CartItem(int product_id, int quantity) {
  return "{\"product_id\":" + std::to_string(product_id) +
         ",\"quantity\":" + std::to_string(quantity) + "}";
}

bool IsProduct(const Json& p) {
  return p["id"].number() >= 1 && !p["title"].str().empty() && p["price_cents"].number() >= 0;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// 1. Browse and search through lbd: the contract shapes, and wrr 3/2/1 over whole cycles.
TEST_F(E2eTest, BrowseAndSearchAreSpreadInWrrProportions) {
  StartLbd("wrr");
  HttpReply page = HttpRequest(vip_, "GET", "/products?page=1");
  ASSERT_EQ(page.status, 200) << Describe(page);
  EXPECT_EQ(page.Header("content-type").rfind("application/json", 0), 0u);
  std::optional<Json> pj = page.BodyJson();
  ASSERT_TRUE(pj) << page.body;
  EXPECT_EQ((*pj)["page"].number(), 1);
  const Json::Array& products = (*pj)["products"].array();
  ASSERT_EQ(products.size(), 20u) << page.body;
  for (size_t i = 0; i < products.size(); ++i) {
    EXPECT_TRUE(IsProduct(products[i])) << page.body;
    EXPECT_EQ(products[i]["id"].number(), static_cast<double>(i + 1)) << "id order";
  }

  HttpReply search = HttpRequest(vip_, "GET", "/search?q=oak+lamp");
  ASSERT_EQ(search.status, 200) << Describe(search);
  std::optional<Json> sj = search.BodyJson();
  ASSERT_TRUE(sj) << search.body;
  EXPECT_EQ((*sj)["query"].str(), "oak lamp");
  const Json::Array& found = (*sj)["products"].array();
  ASSERT_FALSE(found.empty()) << search.body;
  double last_id = 0;
  for (const Json& p : found) {
    EXPECT_TRUE(IsProduct(p)) << search.body;
    std::string title = Lower(p["title"].str());
    EXPECT_NE(title.find("oak"), std::string::npos) << title;
    EXPECT_NE(title.find("lamp"), std::string::npos) << title;
    EXPECT_GT(p["id"].number(), last_id) << "id order";
    last_id = p["id"].number();
  }

  // 10 full wrr cycles (3+2+1 picks each), one connection per request: any 60 consecutive
  // picks hold every server exactly weight * 10 times.
  std::map<std::string, int> served;
  for (int i = 0; i < 60; ++i) {
    HttpReply r = i % 2 == 0 ? HttpRequest(vip_, "GET", "/products?page=" + std::to_string(i / 2))
                             : HttpRequest(vip_, "GET", "/search?q=steel");
    if (i == 0) {
      EXPECT_EQ(r.status, 400) << "page=0 " << Describe(r);  // and still a reply from a server
    } else {
      ASSERT_EQ(r.status, 200) << Describe(r);
    }
    ++served[r.ServedBy()];
  }
  std::map<std::string, int> expected;
  for (const Instance& instance : kInstances) expected[instance.name] = instance.weight * 10;
  EXPECT_EQ(served, expected);
}

// 2. One cart, filled through several instances, ordered once with an Idempotency-Key.
TEST_F(E2eTest, CartFollowsTheSessionAcrossInstancesAndOrdersAreIdempotent) {
  StartLbd("wrr");
  // Six adds = one full wrr cycle: they land on all three instances.
  const std::vector<std::pair<int, int>> adds = {{5, 1},  {17, 2}, {5, 3},
                                                 {42, 1}, {99, 4}, {17, 1}};
  std::string session;
  std::set<std::string> served_by;
  for (const auto& [product, quantity] : adds) {
    HttpReply r = HttpRequest(vip_, "POST", "/cart/items", CartItem(product, quantity), session);
    ASSERT_EQ(r.status, 200) << Describe(r);
    if (session.empty()) {
      session = r.SessionCookie();
      ASSERT_EQ(session.size(), 32u) << r.Header("set-cookie");
    } else {
      EXPECT_EQ(r.SessionCookie(), "") << "a known session gets no new cookie";
    }
    served_by.insert(r.ServedBy());
  }
  EXPECT_EQ(served_by.size(), 3u) << "the adds should have landed on every instance";

  std::map<int, int> want;
  for (const auto& [product, quantity] : adds) want[product] += quantity;
  std::set<std::string> cart_served_by;
  for (int i = 0; i < 3; ++i) {  // the same cart, whichever instance answers
    HttpReply cart = HttpRequest(vip_, "GET", "/cart", "", session);
    ASSERT_EQ(cart.status, 200) << Describe(cart);
    cart_served_by.insert(cart.ServedBy());
    std::optional<Json> cj = cart.BodyJson();
    ASSERT_TRUE(cj) << cart.body;
    std::map<int, int> got;
    for (const Json& item : (*cj)["items"].array()) {
      got[static_cast<int>(item["product_id"].number())] +=
          static_cast<int>(item["quantity"].number());
    }
    EXPECT_EQ(got, want) << cart.body;
    EXPECT_GT((*cj)["total_cents"].number(), 0);
  }
  EXPECT_GE(cart_served_by.size(), 2u);

  const std::vector<std::pair<std::string, std::string>> key = {{"Idempotency-Key", "e2e-cart-1"}};
  HttpReply created = HttpRequest(vip_, "POST", "/orders", "", session, key);
  ASSERT_EQ(created.status, 201) << Describe(created);
  std::optional<Json> oj = created.BodyJson();
  ASSERT_TRUE(oj) << created.body;
  int order_id = static_cast<int>((*oj)["id"].number());
  EXPECT_EQ(created.Header("location"), "/orders/" + std::to_string(order_id));
  std::map<int, int> ordered;
  for (const Json& item : (*oj)["items"].array()) {
    ordered[static_cast<int>(item["product_id"].number())] +=
        static_cast<int>(item["quantity"].number());
  }
  EXPECT_EQ(ordered, want) << created.body;

  std::set<std::string> replay_served_by;
  for (int i = 0; i < 3; ++i) {  // the replay, on whichever instance
    HttpReply replay = HttpRequest(vip_, "POST", "/orders", "", session, key);
    EXPECT_EQ(replay.status, 200) << Describe(replay);
    EXPECT_EQ(replay.body, created.body);
    replay_served_by.insert(replay.ServedBy());
  }
  EXPECT_GE(replay_served_by.size(), 2u);

  HttpReply cart = HttpRequest(vip_, "GET", "/cart", "", session);
  ASSERT_EQ(cart.status, 200) << Describe(cart);
  std::optional<Json> cj = cart.BodyJson();
  ASSERT_TRUE(cj) << cart.body;
  EXPECT_TRUE((*cj)["items"].array().empty()) << "the order empties the cart: " << cart.body;

  // Another session with a cart of its own cannot take the key.
  HttpReply other = HttpRequest(vip_, "POST", "/cart/items", CartItem(7, 1));
  ASSERT_EQ(other.status, 200) << Describe(other);
  HttpReply taken = HttpRequest(vip_, "POST", "/orders", "", other.SessionCookie(), key);
  EXPECT_EQ(taken.status, 409) << Describe(taken);

  // The same new key sent by several clients at once, landing on every instance: one order.
  HttpReply refill = HttpRequest(vip_, "POST", "/cart/items", CartItem(8, 2), session);
  ASSERT_EQ(refill.status, 200) << Describe(refill);
  std::vector<HttpReply> racers(6);
  {
    std::vector<std::thread> threads;
    for (HttpReply& racer : racers) {
      threads.emplace_back([&] {
        racer =
            HttpRequest(vip_, "POST", "/orders", "", session, {{"Idempotency-Key", "e2e-cart-2"}});
      });
    }
    for (std::thread& t : threads) t.join();
  }
  int created_count = 0;
  std::set<std::string> race_served_by;
  for (const HttpReply& racer : racers) {
    ASSERT_TRUE(racer.status == 201 || racer.status == 200) << Describe(racer);
    created_count += racer.status == 201 ? 1 : 0;
    EXPECT_EQ(racer.body, racers[0].body);
    race_served_by.insert(racer.ServedBy());
  }
  EXPECT_EQ(created_count, 1);
  EXPECT_EQ(race_served_by.size(), 3u);

  HttpReply fetched = HttpRequest(vip_, "GET", "/orders/" + std::to_string(order_id), "", session);
  EXPECT_EQ(fetched.status, 200) << Describe(fetched);
  EXPECT_EQ(fetched.body, created.body);
  HttpReply stranger = HttpRequest(vip_, "GET", "/orders/" + std::to_string(order_id));
  EXPECT_EQ(stranger.status, 404) << Describe(stranger);
}

// 3. 1000 orders through lbd from several threads; one shopd is SIGKILLed in the middle.
// Requests that get no answer, or a 5xx, are retried with the same Idempotency-Key. At the end
// every acknowledged order is in the database exactly once and nothing else is. The retries are
// bounded by lbd's own failover: it retries a refused connect on another server itself, so only
// a request in flight on the victim when it died (at most one per client thread) needs a client
// retry, and one retry suffices.
TEST_F(E2eTest, ThousandOrdersSurviveTheLossOfAnInstance) {
  constexpr int kOrders = 1000;
  constexpr int kThreads = 6;
  constexpr int kKillAfter = 300;  // acknowledged orders before the SIGKILL
  // One retry is what lbd's failover leaves to the client; the third attempt is headroom, so
  // that a second failure shows as a failed assertion below instead of a lost order.
  constexpr int kMaxAttempts = 3;
  StartLbd("wrr");
  const auto start = Clock::now();

  struct Ack {
    std::string key;
    std::string session;
    int product_id = 0;
    int quantity = 0;
    int status = 0;
    std::string body;
    std::string served_by;
  };
  std::mutex mu;
  std::vector<Ack> acks;
  std::vector<std::string> failures;
  std::map<std::string, int> acks_by_server;
  std::atomic<int> next{0};
  std::atomic<int> acked{0};
  std::atomic<int> retried_adds{0};    // cart adds that needed more than one attempt
  std::atomic<int> retried_orders{0};  // POST /orders that needed more than one attempt
  std::atomic<int> retry_attempts{0};  // every attempt after a first one
  std::map<std::string, int> retry_causes;

  // Sends until a reply that is neither "no response" nor 5xx, at most kMaxAttempts times,
  // backing off 20, 40 ms between attempts.
  auto with_retries = [&](const std::function<HttpReply()>& send, std::atomic<int>& retried) {
    HttpReply r;
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      if (attempt == 1) retried.fetch_add(1);
      if (attempt > 0) {
        retry_attempts.fetch_add(1);
        std::this_thread::sleep_for(milliseconds(20 * attempt));
      }
      r = send();
      if (r.status != 0 && r.status < 500) break;
      std::lock_guard<std::mutex> lock(mu);
      ++retry_causes[r.status == 0 ? r.error.substr(0, r.error.find(" after"))
                                   : std::to_string(r.status)];
    }
    return r;
  };

  auto client = [&] {
    for (int i = next.fetch_add(1); i < kOrders; i = next.fetch_add(1)) {
      Ack ack;
      ack.key = "e2e-order-" + std::to_string(i);
      ack.product_id = 1 + (i * 7) % 300;
      ack.quantity = 1 + i % 3;
      // A fresh session each time: a lost reply to an add leaves at most an orphan session.
      HttpReply add = with_retries(
          [&] {
            return HttpRequest(vip_, "POST", "/cart/items", CartItem(ack.product_id, ack.quantity));
          },
          retried_adds);
      ack.session = add.SessionCookie();
      if (add.status != 200 || ack.session.empty()) {
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back(ack.key + " add: " + Describe(add));
        continue;
      }
      const std::vector<std::pair<std::string, std::string>> key = {{"Idempotency-Key", ack.key}};
      HttpReply order =
          with_retries([&] { return HttpRequest(vip_, "POST", "/orders", "", ack.session, key); },
                       retried_orders);
      if (order.status != 201 && order.status != 200) {
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back(ack.key + " order: " + Describe(order));
        continue;
      }
      ack.status = order.status;
      ack.body = order.body;
      ack.served_by = order.ServedBy();
      std::lock_guard<std::mutex> lock(mu);
      ++acks_by_server[ack.served_by];
      acks.push_back(std::move(ack));
      acked.fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  struct Joiner {  // joins the clients also when an assertion below returns early
    std::vector<std::thread>& threads;
    ~Joiner() {
      for (auto& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } joiner{threads};
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(client);

  // The kill, from the main thread, then how long until lbctl reports the server down.
  ShopdProcess& victim = *shops_[0];  // shop-1, weight 3: the busiest one
  ASSERT_TRUE(
      WaitFor([&] { return acked.load() >= kKillAfter || next.load() >= kOrders; }, 40000ms))
      << acked.load() << " orders acknowledged";
  const int acked_at_kill = acked.load();
  const auto killed_at = Clock::now();
  victim.Kill();
  const bool marked_down =
      WaitFor([&] { return UpServers().count(victim.address()) == 0; }, 10000ms);
  const auto mark_down = std::chrono::duration_cast<milliseconds>(Clock::now() - killed_at);
  std::map<std::string, int> acks_before_markdown;
  {
    std::lock_guard<std::mutex> lock(mu);
    acks_before_markdown = acks_by_server;
  }

  for (auto& t : threads) t.join();
  const auto run_time = std::chrono::duration_cast<milliseconds>(Clock::now() - start);

  std::printf(
      "[ e2e      ] %d orders acknowledged of %d in %lld ms, %d threads; shop-1 SIGKILLed "
      "after %d\n",
      static_cast<int>(acks.size()), kOrders, static_cast<long long>(run_time.count()), kThreads,
      acked_at_kill);
  std::printf(
      "[ e2e      ] retries: %d cart adds and %d orders needed a retry, %d retry attempts "
      "in all\n",
      retried_adds.load(), retried_orders.load(), retry_attempts.load());
  for (const auto& [cause, n] : retry_causes) {
    std::printf("[ e2e      ]   retried after %s: %d\n", cause.c_str(), n);
  }
  std::printf(
      "[ e2e      ] lbd marked %s down %lld ms after the kill (bound: %d x %d ms + %d ms)\n",
      victim.address().c_str(), static_cast<long long>(mark_down.count()), kFall, kHealthIntervalMs,
      kHealthTimeoutMs);
  for (const auto& [server, n] : acks_by_server) {
    std::printf("[ e2e      ] orders acknowledged by %s: %d (%d before the mark-down)\n",
                server.c_str(), n, acks_before_markdown[server]);
  }
  int replays = 0;
  for (const Ack& ack : acks) replays += ack.status == 200 ? 1 : 0;
  std::printf(
      "[ e2e      ] %d orders were acknowledged by a 200 replay (reply to the first "
      "attempt lost)\n",
      replays);
  std::fflush(stdout);

  EXPECT_TRUE(failures.empty()) << failures.size() << " orders failed, first: " << failures[0];
  EXPECT_EQ(acks.size(), static_cast<size_t>(kOrders));
  EXPECT_GE(acked_at_kill, kKillAfter) << "the kill must happen in the middle of the run";
  EXPECT_LT(acked_at_kill, kOrders) << "the kill must happen in the middle of the run";
  ASSERT_TRUE(marked_down) << "lbd never marked the killed server down:\n"
                           << lbd_->Ctl({"status"}).out;
  EXPECT_LE(mark_down, milliseconds(kFall * kHealthIntervalMs + kHealthTimeoutMs) + kMarkDownSlack);
  EXPECT_GT(acks_by_server[victim.name()], 0) << "the victim served orders before its death";
  // lbd's failover, not the client's retries, carried the run: at most one request per thread
  // was lost in flight, each came through on its first retry, and nothing failed for another
  // reason (a 5xx, a refused connect to the VIP). Measured (Release, 5 runs): 3 to 5 of ~2000
  // retried, each once, after "Connection reset by peer" or an empty reply.
  const int requests = 2 * static_cast<int>(acks.size());  // a cart add and an order each
  const int retried = retried_adds.load() + retried_orders.load();
  EXPECT_LE(retried, kThreads) << "requests that needed a retry";
  EXPECT_EQ(retry_attempts.load(), retried) << "each should need exactly one retry";
  EXPECT_GE(double(requests - retried) / requests, 1.0 - double(kThreads) / requests)
      << "first-try success rate";
  for (const auto& [cause, n] : retry_causes) {
    const bool lost_in_flight = cause.find("reset by peer") != std::string::npos ||
                                cause.find("no complete header") != std::string::npos;
    EXPECT_TRUE(lost_in_flight) << "retried " << n << " times after " << cause;
  }
  std::set<std::string> survivors = {shops_[1]->address(), shops_[2]->address()};
  EXPECT_EQ(UpServers(), survivors) << "the killed server stays down, the others up";

  // The database, read-only: every acknowledged key exactly once, with the acknowledged id and
  // the cart's line, and no order besides.
  ReadOnlyDb db(dir_.File("shop.db"));
  ASSERT_EQ(db.error(), "");
  auto duplicates = db.Query(
      "SELECT idempotency_key, COUNT(*) FROM orders GROUP BY idempotency_key HAVING COUNT(*) > 1");
  ASSERT_TRUE(duplicates) << db.error();
  EXPECT_TRUE(duplicates->empty())
      << duplicates->size() << " keys with several orders, first " << (*duplicates)[0][0];
  auto rows = db.Query(
      "SELECT o.id, o.idempotency_key, o.session_id, COUNT(i.product_id), "
      "MIN(i.product_id), SUM(i.quantity) FROM orders o "
      "LEFT JOIN order_items i ON i.order_id = o.id GROUP BY o.id");
  ASSERT_TRUE(rows) << db.error();
  std::map<std::string, std::vector<std::string>> by_key;
  for (auto& row : *rows) by_key[row[1]] = row;
  std::set<std::string> acked_keys;
  int checked = 0;
  for (const Ack& ack : acks) {
    acked_keys.insert(ack.key);
    auto it = by_key.find(ack.key);
    if (it == by_key.end()) {
      ADD_FAILURE() << "acknowledged order " << ack.key << " (" << ack.status << " " << ack.body
                    << ") is not in the database";
      continue;
    }
    const std::vector<std::string>& row = it->second;
    std::optional<Json> body = JsonParser::Parse(ack.body);
    EXPECT_TRUE(body && row[0] == std::to_string(static_cast<int64_t>((*body)["id"].number())))
        << ack.key << ": db id " << row[0] << ", acknowledged " << ack.body;
    EXPECT_EQ(row[2], ack.session) << ack.key;
    EXPECT_EQ(row[3], "1") << ack.key << " has one line";
    EXPECT_EQ(row[4], std::to_string(ack.product_id)) << ack.key;
    EXPECT_EQ(row[5], std::to_string(ack.quantity)) << ack.key;
    ++checked;
  }
  EXPECT_EQ(acked_keys.size(), acks.size()) << "every key acknowledged once";
  EXPECT_EQ(rows->size(), acked_keys.size()) << "orders in the db vs distinct acknowledged keys";
  for (const auto& [key, row] : by_key) {
    EXPECT_TRUE(acked_keys.count(key))
        << "order " << row[0] << " (" << key << ") is in the db but was never acknowledged";
  }
  std::printf("[ e2e      ] database: %d orders, %d checked against their acknowledgement\n",
              static_cast<int>(rows->size()), checked);

  // And through lbd, by the surviving instances: a sample of orders as their session sees them.
  for (size_t i = 0; i < acks.size(); i += 50) {
    std::optional<Json> body = JsonParser::Parse(acks[i].body);
    ASSERT_TRUE(body) << acks[i].body;
    HttpReply r = HttpRequest(
        vip_, "GET", "/orders/" + std::to_string(static_cast<int64_t>((*body)["id"].number())), "",
        acks[i].session);
    EXPECT_EQ(r.status, 200) << Describe(r);
    EXPECT_EQ(r.body, acks[i].body);
    EXPECT_NE(r.ServedBy(), victim.name());
  }
  EXPECT_LT(run_time, 60000ms);
}

// 4. The health checks take a killed instance out and bring it back once it runs again: the
// traffic follows, in the wrr proportions of the servers that are up.
TEST_F(E2eTest, AKilledInstanceIsTakenOutAndBroughtBackByTheHealthChecks) {
  StartLbd("wrr");
  ShopdProcess& victim = *shops_[0];
  const std::string address = victim.address();
  auto served_by = [&](int n) {
    std::map<std::string, int> served;
    for (int i = 0; i < n; ++i) {
      HttpReply r = HttpRequest(vip_, "GET", "/products?page=" + std::to_string(1 + i % 15));
      EXPECT_EQ(r.status, 200) << Describe(r);
      ++served[r.ServedBy()];
    }
    return served;
  };

  victim.Kill();
  auto killed_at = Clock::now();
  ASSERT_TRUE(WaitFor([&] { return UpServers().count(address) == 0; }, 10000ms));
  auto down_after = std::chrono::duration_cast<milliseconds>(Clock::now() - killed_at);
  EXPECT_LE(down_after,
            milliseconds(kFall * kHealthIntervalMs + kHealthTimeoutMs) + kMarkDownSlack);
  served_by(3);  // any leftover of the old cycle
  EXPECT_EQ(served_by(30), (std::map<std::string, int>{{"shop-2", 20}, {"shop-3", 10}}));

  // Back on the same port (bound with SO_REUSEADDR by shopd; retried if the port is busy).
  bool restarted = false;
  for (int attempt = 0; attempt < 5 && !restarted; ++attempt) {
    victim.Kill();
    restarted = victim.Spawn(address) && victim.AwaitAddress() && victim.address() == address;
  }
  ASSERT_TRUE(restarted) << victim.Stderr();
  auto restarted_at = Clock::now();
  ASSERT_TRUE(WaitFor([&] { return UpServers().count(address) == 1; }, 10000ms));
  auto up_after = std::chrono::duration_cast<milliseconds>(Clock::now() - restarted_at);
  EXPECT_LE(up_after, milliseconds(kRise * kHealthIntervalMs + kHealthTimeoutMs) + kMarkDownSlack);
  std::printf("[ e2e      ] %s down %lld ms after SIGKILL, up %lld ms after the restart\n",
              address.c_str(), static_cast<long long>(down_after.count()),
              static_cast<long long>(up_after.count()));
  served_by(6);  // any leftover of the old cycle
  EXPECT_EQ(served_by(60),
            (std::map<std::string, int>{{"shop-1", 30}, {"shop-2", 20}, {"shop-3", 10}}));
}

}  // namespace
}  // namespace lbd
