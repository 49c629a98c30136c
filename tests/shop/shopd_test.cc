// Integration tests: real shopd processes on 127.0.0.1:0 with a temporary database, spoken to
// over real sockets. Every process is killed (by pid) and every directory removed by RAII, also
// when an assertion fails; every wait has a deadline.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "json.h"
#include "sqlite.h"

#ifndef SHOPD_PATH
#error "SHOPD_PATH must name the shopd binary"
#endif

namespace lbd::shop {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kStartTimeout{15000};
constexpr milliseconds kIoTimeout{15000};
constexpr milliseconds kExitTimeout{10000};

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "shopd_test.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One shopd process. Start() returns once it printed its address (so its database is ready);
// the destructor SIGKILLs it if it is still running.
class Shopd {
 public:
  Shopd() = default;
  ~Shopd() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Shopd(const Shopd&) = delete;
  Shopd& operator=(const Shopd&) = delete;

  // Spawns `shopd --listen 127.0.0.1:0 --name NAME --db DB extra...` with stderr going to
  // `stderr_path`, and waits for its address line (so its database is ready).
  // REQUIRES: called from the test's main thread (the child dies with that thread).
  void Start(const std::string& name, const std::string& db, const std::string& stderr_path,
             std::vector<std::string> extra = {}) {
    Spawn(name, db, stderr_path, std::move(extra));
    if (!::testing::Test::HasFatalFailure()) AwaitAddress();
  }

  // Start() in two halves, so that several processes can start at once.
  void Spawn(const std::string& name, const std::string& db, const std::string& stderr_path,
             std::vector<std::string> extra = {}) {
    stderr_path_ = stderr_path;
    std::vector<std::string> args = {SHOPD_PATH, "--listen", "127.0.0.1:0", "--name", name,
                                     "--db",     db};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
    Fd read_end(out[0]), write_end(out[1]);
    int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(err, 0);
    Fd err_fd(err);
    pid_t parent = getpid();
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec. A test that crashes must not leave
      // servers behind: the child gets SIGKILL when the parent dies.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      dup2(write_end.get(), STDOUT_FILENO);
      dup2(err_fd.get(), STDERR_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
    write_end.Reset();
    stdout_ = std::move(read_end);
  }

  // Reads the first stdout line, "listening on 127.0.0.1:PORT", within kStartTimeout.
  void AwaitAddress() {
    std::optional<std::string> line = FirstLine();
    ASSERT_TRUE(line) << "shopd did not start; stderr:\n" << Stderr();
    const std::string prefix = "listening on 127.0.0.1:";
    ASSERT_EQ(line->substr(0, prefix.size()), prefix) << *line;
    port_ = static_cast<uint16_t>(std::stoi(line->substr(prefix.size())));
    ASSERT_GT(port_, 0);
  }

  // The first stdout line; nullopt when the process exits (or kStartTimeout passes) first.
  std::optional<std::string> FirstLine() { return ReadLine(kStartTimeout); }

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string Stderr() const { return ReadFile(stderr_path_); }

  void Signal(int sig) { ASSERT_EQ(kill(pid_, sig), 0); }

  // The wait status once the process exited, nullopt after `timeout`.
  std::optional<int> WaitExit(milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (true) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status;
      }
      if (r < 0 || Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(milliseconds(5));
    }
  }

 private:
  std::optional<std::string> ReadLine(milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    std::string line;
    while (true) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd p{stdout_.get(), POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char c;
      ssize_t n = read(stdout_.get(), &c, 1);
      if (n <= 0) return std::nullopt;  // exited before printing
      if (c == '\n') return line;
      line += c;
    }
  }

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  Fd stdout_;
  std::string stderr_path_;
};

struct HttpResponse {
  int status = 0;                              // 0: no response (connection failed or closed)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
  JsonValue Json() const {
    std::string error;
    std::optional<JsonValue> v = ParseJson(body, &error);
    EXPECT_TRUE(v) << error << " in " << body;
    return v.value_or(JsonValue());
  }
};

// A minimal blocking HTTP/1.1 client with keep-alive and a one-cookie jar. Not thread-safe: one
// per thread.
class HttpClient {
 public:
  explicit HttpClient(uint16_t port) : port_(port) {}

  // The session cookie sent with every request; filled from Set-Cookie.
  std::string session;

  HttpResponse Get(const std::string& path) { return Send("GET", path); }
  HttpResponse Post(const std::string& path, const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Send("POST", path, body, headers);
  }

  HttpResponse Send(const std::string& method, const std::string& path,
                    const std::string& body = "",
                    const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return SendRaw(BuildRequest(method, path, body, headers));
  }

  // Send() in two halves, for a request that must be in flight while the test does something
  // else: SendOnly() returns once the request is written, Receive() reads the answer.
  bool SendOnly(const std::string& method, const std::string& path) {
    if (fd_.get() < 0 && !Connect()) return false;
    return SendAll(BuildRequest(method, path, "", {}));
  }
  HttpResponse Receive() {
    std::optional<HttpResponse> response = ReadResponse();
    fd_.Reset();
    return response.value_or(HttpResponse());
  }

  // The client side's port of the current connection; 0 when not connected.
  uint16_t local_port() const {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    if (fd_.get() < 0 || getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return 0;
    }
    return ntohs(addr.sin_port);
  }

  // Sends bytes as they are. A kept-alive connection that the server has closed meanwhile is
  // reopened once.
  HttpResponse SendRaw(const std::string& request) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = fd_.get() >= 0;
      if (!reused && !Connect()) return {};
      bool sent = SendAll(request);
      std::optional<HttpResponse> response;
      if (sent) response = ReadResponse();
      if (response) {
        if (response->Header("connection") == "close") fd_.Reset();
        std::string cookie = response->Header("set-cookie");
        if (cookie.starts_with("session=")) {
          session = cookie.substr(8, cookie.find(';') - 8);
        }
        return *response;
      }
      fd_.Reset();
      if (!reused || got_bytes_) break;
    }
    return {};
  }

  bool connected() const { return fd_.get() >= 0; }
  void Disconnect() { fd_.Reset(); }

  // Whether the server closed this connection: waits up to `timeout` for EOF.
  bool ClosedByPeer(milliseconds timeout) {
    if (fd_.get() < 0) return true;
    pollfd p{fd_.get(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char c;
    return recv(fd_.get(), &c, 1, MSG_PEEK) <= 0;
  }

 private:
  std::string BuildRequest(const std::string& method, const std::string& path,
                           const std::string& body,
                           const std::vector<std::pair<std::string, std::string>>& headers) {
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!body.empty() || method == "POST") {
      request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    if (!session.empty()) request += "Cookie: session=" + session + "\r\n";
    for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
    request += "\r\n" + body;
    return request;
  }

  bool Connect() {
    Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) return false;
    timeval tv{static_cast<time_t>(kIoTimeout.count() / 1000), 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
    fd_ = std::move(fd);
    return true;
  }

  bool SendAll(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = send(fd_.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads until the buffer holds `n` bytes; false on EOF, error or timeout.
  bool Fill(std::string& buffer, size_t n) {
    char chunk[16384];
    while (buffer.size() < n) {
      ssize_t got = recv(fd_.get(), chunk, sizeof chunk, 0);
      if (got <= 0) return false;
      got_bytes_ = true;
      buffer.append(chunk, static_cast<size_t>(got));
    }
    return true;
  }

  std::optional<HttpResponse> ReadResponse() {
    got_bytes_ = false;
    std::string& buffer = pending_;
    size_t header_end;
    while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(buffer, buffer.size() + 1)) return std::nullopt;
    }
    HttpResponse response;
    std::istringstream head(buffer.substr(0, header_end));
    std::string line;
    std::getline(head, line);
    if (line.size() < 12 || !line.starts_with("HTTP/1.")) return std::nullopt;
    response.status = std::stoi(line.substr(9, 3));
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      response.headers[name] = value;
    }
    size_t length = std::stoul(
        response.Header("content-length").empty() ? "0" : response.Header("content-length"));
    size_t body_start = header_end + 4;
    if (!Fill(buffer, body_start + length)) return std::nullopt;
    response.body = buffer.substr(body_start, length);
    buffer.erase(0, body_start + length);
    return response;
  }

  uint16_t port_;
  Fd fd_;
  std::string pending_;
  bool got_bytes_ = false;
};

// Polls `condition` until it holds or `timeout` passes; returns its last value.
template <typename Condition>
bool WaitUntil(Condition condition, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

// Whether the server end of the loopback connection server_port <- client_port has read all
// that was sent to it. On loopback, send() puts the bytes straight into the peer's receive
// queue, so once send() returned an empty queue means the server consumed the request. Read
// from /proc/net/tcp: "sl local rem st tx_queue:rx_queue ...", addresses as HEXIP:HEXPORT.
bool ServerReadAll(uint16_t server_port, uint16_t client_port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues;
    fields >> slot >> local >> remote >> state >> queues;
    auto port_of = [](const std::string& address) {
      return static_cast<uint16_t>(std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
    };
    if (local.empty() || remote.empty() || queues.size() < 17) continue;
    if (port_of(local) != server_port || port_of(remote) != client_port) continue;
    return std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16) == 0;
  }
  return false;
}

class ShopdTest : public ::testing::Test {
 protected:
  // Starts another shopd on the shared database (or `db` when given).
  Shopd& Launch(const std::string& name, std::vector<std::string> extra = {},
                const std::string& db = "") {
    servers_.push_back(std::make_unique<Shopd>());
    servers_.back()->Start(name, db.empty() ? db_path() : db, dir_.File(name + ".stderr"),
                           std::move(extra));
    return *servers_.back();
  }
  std::string db_path() const { return dir_.File("shop.db"); }

  TempDir dir_;
  // Destroyed before dir_: processes die before their files go.
  std::vector<std::unique_ptr<Shopd>> servers_;
};

void ExpectJsonError(const HttpResponse& r, int status, const std::string& context) {
  EXPECT_EQ(r.status, status) << context << ": " << r.body;
  EXPECT_EQ(r.Header("content-type"), "application/json") << context;
  JsonValue v = r.Json();
  ASSERT_TRUE(v.Find("error") && v.Find("error")->IsString()) << context << ": " << r.body;
}

TEST_F(ShopdTest, HealthCarriesServedBy) {
  Shopd& a = Launch("alpha");
  if (HasFatalFailure()) return;
  HttpClient c(a.port());
  HttpResponse r = c.Get("/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
  EXPECT_EQ(r.Header("x-served-by"), "alpha");
  EXPECT_EQ(r.Header("content-type"), "application/json");
  // Keep-alive: the same connection serves the next request.
  EXPECT_TRUE(c.connected());
  EXPECT_EQ(c.Get("/health").status, 200);
}

TEST_F(ShopdTest, ProductsArePaged) {
  Shopd& a = Launch("alpha");
  if (HasFatalFailure()) return;
  HttpClient c(a.port());
  std::set<int64_t> ids;
  for (int page = 1; page <= 16; ++page) {
    HttpResponse r = c.Get("/products?page=" + std::to_string(page));
    ASSERT_EQ(r.status, 200) << r.body;
    JsonValue v = r.Json();
    EXPECT_EQ(v.Find("page")->AsInt(), page);
    const JsonValue* products = v.Find("products");
    ASSERT_TRUE(products && products->IsArray());
    EXPECT_EQ(products->size(), page <= 15 ? 20u : 0u) << page;
    for (const JsonValue& p : products->AsArray()) {
      ASSERT_TRUE(p.Find("id")->IsInteger());
      ASSERT_TRUE(p.Find("title")->IsString());
      ASSERT_TRUE(p.Find("price_cents")->IsInteger());
      EXPECT_GT(p.Find("price_cents")->AsInt(), 0);
      EXPECT_EQ(p.size(), 3u);
      ids.insert(p.Find("id")->AsInt());
    }
  }
  EXPECT_EQ(ids.size(), 300u);
  EXPECT_EQ(*ids.begin(), 1);
  EXPECT_EQ(*ids.rbegin(), 300);
  EXPECT_EQ(c.Get("/products").Json().Find("page")->AsInt(), 1);
  ExpectJsonError(c.Get("/products?page=0"), 400, "page 0");
  ExpectJsonError(c.Get("/products?page=abc"), 400, "page abc");
}

TEST_F(ShopdTest, ProductById) {
  Shopd& a = Launch("alpha");
  if (HasFatalFailure()) return;
  HttpClient c(a.port());
  HttpResponse r = c.Get("/products/7");
  ASSERT_EQ(r.status, 200);
  JsonValue v = r.Json();
  EXPECT_EQ(v.Find("id")->AsInt(), 7);
  EXPECT_EQ(v.Find("title")->AsString(), "Deluxe Oak Chair");
  EXPECT_TRUE(v.Find("price_cents")->IsInteger());
  // The same product as in the listing.
  JsonValue page = c.Get("/products?page=1").Json();
  const JsonValue* listed = page.Find("products")->At(6);
  EXPECT_EQ(listed->Find("price_cents")->AsInt(), v.Find("price_cents")->AsInt());
  ExpectJsonError(c.Get("/products/301"), 404, "unknown id");
  ExpectJsonError(c.Get("/products/abc"), 400, "non-numeric id");
}

TEST_F(ShopdTest, SearchIsAndOfLowerCasedWords) {
  Shopd& a = Launch("alpha");
  if (HasFatalFailure()) return;
  HttpClient c(a.port());
  HttpResponse r = c.Get("/search?q=OAK+lamp");
  ASSERT_EQ(r.status, 200);
  JsonValue v = r.Json();
  EXPECT_EQ(v.Find("query")->AsString(), "OAK lamp");
  ASSERT_EQ(v.Find("products")->size(), 10u);
  for (const JsonValue& p : v.Find("products")->AsArray()) {
    const std::string& title = p.Find("title")->AsString();
    EXPECT_NE(title.find("Oak"), std::string::npos) << title;
    EXPECT_NE(title.find("Lamp"), std::string::npos) << title;
  }
  EXPECT_EQ(c.Get("/search?q=rugged%20oak%20lamp").Json().Find("products")->size(), 1u);
  EXPECT_EQ(c.Get("/search?q=oak+unicorn").Json().Find("products")->size(), 0u);
  ExpectJsonError(c.Get("/search"), 400, "no q");
  ExpectJsonError(c.Get("/search?q=%zz"), 400, "bad escape");
}

TEST_F(ShopdTest, CartUsesSessionCookie) {
  Shopd& a = Launch("alpha");
  if (HasFatalFailure()) return;
  HttpClient c(a.port());
  EXPECT_EQ(c.Get("/cart").body, R"({"items":[],"total_cents":0})");
  HttpResponse r = c.Post("/cart/items", R"({"product_id": 1, "quantity": 2})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string cookie = r.Header("set-cookie");
  EXPECT_TRUE(cookie.starts_with("session=")) << cookie;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  ASSERT_EQ(c.session.size(), 32u);
  EXPECT_EQ(c.session.find_first_not_of("0123456789abcdef"), std::string::npos);

  r = c.Post("/cart/items", R"({"product_id": 4, "quantity": 3})");
  EXPECT_EQ(r.Header("set-cookie"), "");  // known session: no new cookie
  r = c.Post("/cart/items", R"({"product_id": 1, "quantity": 1})");
  int64_t p1 = c.Get("/products/1").Json().Find("price_cents")->AsInt();
  int64_t p4 = c.Get("/products/4").Json().Find("price_cents")->AsInt();
  r = c.Get("/cart");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"items":[{"product_id":1,"quantity":3},{"product_id":4,"quantity":3}],)"
                    R"("total_cents":)" +
                        std::to_string(3 * p1 + 3 * p4) + "}");

  // A different client has its own cart.
  HttpClient other(a.port());
  EXPECT_EQ(other.Get("/cart").Json().Find("items")->size(), 0u);
  ExpectJsonError(c.Post("/cart/items", R"({"product_id": 999})"), 404, "unknown product");
  ExpectJsonError(c.Post("/cart/items", R"({"product_id": 1, "quantity": 0})"), 400, "qty 0");
  ExpectJsonError(c.Post("/cart/items", R"({"product_id": 1, "quantity": 1001})"), 400, "1001");
}

TEST_F(ShopdTest, CartFollowsCookieAcrossInstances) {
  Shopd& a = Launch("alpha");
  Shopd& b = Launch("beta");
  if (HasFatalFailure()) return;
  HttpClient on_a(a.port());
  HttpClient on_b(b.port());
  HttpResponse r = on_a.Post("/cart/items", R"({"product_id": 10, "quantity": 5})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("x-served-by"), "alpha");
  on_b.session = on_a.session;
  r = on_b.Get("/cart");
  EXPECT_EQ(r.Header("x-served-by"), "beta");
  EXPECT_EQ(r.body, on_a.Get("/cart").body);
  EXPECT_EQ(r.Json().Find("items")->At(0)->Find("quantity")->AsInt(), 5);
  // Adding on beta is seen on alpha; ordering on beta empties the cart for alpha too.
  ASSERT_EQ(on_b.Post("/cart/items", R"({"product_id": 11})").status, 200);
  EXPECT_EQ(on_a.Get("/cart").Json().Find("items")->size(), 2u);
  r = on_b.Post("/orders", "", {{"Idempotency-Key", "cross-1"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(on_a.Get("/cart").body, R"({"items":[],"total_cents":0})");
  // The order is readable from alpha, and the key replays there.
  std::string id = std::to_string(r.Json().Find("id")->AsInt());
  EXPECT_EQ(on_a.Get("/orders/" + id).body, r.body);
  HttpResponse replay = on_a.Post("/orders", "", {{"Idempotency-Key", "cross-1"}});
  EXPECT_EQ(replay.status, 200);
  EXPECT_EQ(replay.body, r.body);
}

TEST_F(ShopdTest, OrdersAreIdempotent) {
  Shopd& a = Launch("alpha");
  if (HasFatalFailure()) return;
  HttpClient c(a.port());
  ExpectJsonError(c.Post("/orders", ""), 400, "no key, no cart");
  ASSERT_EQ(c.Post("/cart/items", R"({"product_id": 2, "quantity": 3})").status, 200);
  ExpectJsonError(c.Post("/orders", ""), 400, "no key");
  HttpResponse first = c.Post("/orders", "", {{"Idempotency-Key", "order-A"}});
  ASSERT_EQ(first.status, 201) << first.body;
  JsonValue order = first.Json();
  ASSERT_TRUE(order.Find("id")->IsInteger());
  ASSERT_EQ(order.Find("items")->size(), 1u);
  EXPECT_EQ(order.Find("items")->At(0)->Find("product_id")->AsInt(), 2);
  EXPECT_EQ(order.Find("items")->At(0)->Find("quantity")->AsInt(), 3);
  int64_t price = c.Get("/products/2").Json().Find("price_cents")->AsInt();
  EXPECT_EQ(order.Find("total_cents")->AsInt(), 3 * price);
  EXPECT_EQ(c.Get("/cart").Json().Find("items")->size(), 0u);

  HttpResponse again = c.Post("/orders", "", {{"Idempotency-Key", "order-A"}});
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body);
  std::string id = std::to_string(order.Find("id")->AsInt());
  HttpResponse fetched = c.Get("/orders/" + id);
  EXPECT_EQ(fetched.status, 200);
  EXPECT_EQ(fetched.body, first.body);
  ExpectJsonError(c.Post("/orders", "", {{"Idempotency-Key", "order-B"}}), 400, "empty cart");
  ExpectJsonError(c.Get("/orders/999"), 404, "unknown order");

  auto db = Database::Open(db_path(), milliseconds(5000));
  Statement count = db->Prepare("SELECT COUNT(*) FROM orders");
  ASSERT_TRUE(count.Step());
  EXPECT_EQ(count.ColumnInt(0), 1);
}

// Several clients order at once on two instances sharing the database: distinct keys give
// distinct orders; racing repeats of one key give exactly one order.
TEST_F(ShopdTest, ConcurrentOrders) {
  Shopd& a = Launch("alpha", {"--threads", "4"});
  Shopd& b = Launch("beta", {"--threads", "4"});
  if (HasFatalFailure()) return;
  constexpr int kClients = 8;
  constexpr int kOrdersEach = 5;
  std::mutex mu;
  std::map<std::string, int64_t> id_by_key;
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(t % 2 ? a.port() : b.port());
      HttpClient twin(t % 2 ? b.port() : a.port());
      for (int i = 0; i < kOrdersEach; ++i) {
        HttpResponse add =
            c.Post("/cart/items", R"({"product_id": )" + std::to_string(1 + t * 10 + i) + "}");
        ASSERT_EQ(add.status, 200) << add.body;
        twin.session = c.session;
        std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        HttpResponse r = c.Post("/orders", "", {{"Idempotency-Key", key}});
        ASSERT_EQ(r.status, 201) << r.body;
        created++;
        HttpResponse replay = twin.Post("/orders", "", {{"Idempotency-Key", key}});
        EXPECT_EQ(replay.status, 200);
        EXPECT_EQ(replay.body, r.body);
        std::lock_guard<std::mutex> lock(mu);
        id_by_key[key] = r.Json().Find("id")->AsInt();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(created.load(), kClients * kOrdersEach);
  std::set<int64_t> ids;
  for (const auto& [key, id] : id_by_key) ids.insert(id);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kClients * kOrdersEach));

  // One key raced from many connections on both instances.
  HttpClient owner(a.port());
  ASSERT_EQ(owner.Post("/cart/items", R"({"product_id": 3})").status, 200);
  std::atomic<int> first_time{0}, repeated{0};
  std::set<std::string> bodies;
  threads.clear();
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(t % 2 ? a.port() : b.port());
      c.session = owner.session;
      HttpResponse r = c.Post("/orders", "", {{"Idempotency-Key", "same-key"}});
      if (r.status == 201) first_time++;
      if (r.status == 200) repeated++;
      std::lock_guard<std::mutex> lock(mu);
      bodies.insert(r.body);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(first_time.load(), 1);
  EXPECT_EQ(repeated.load(), kClients - 1);
  EXPECT_EQ(bodies.size(), 1u);

  auto db = Database::Open(db_path(), milliseconds(5000));
  Statement count = db->Prepare("SELECT COUNT(*), COUNT(DISTINCT idempotency_key) FROM orders");
  ASSERT_TRUE(count.Step());
  EXPECT_EQ(count.ColumnInt(0), kClients * kOrdersEach + 1);
  EXPECT_EQ(count.ColumnInt(1), kClients * kOrdersEach + 1);
}

TEST_F(ShopdTest, BadInputGets4xxJson) {
  Shopd& a = Launch("alpha");
  if (HasFatalFailure()) return;
  HttpClient c(a.port());
  for (const char* body :
       {"{", "not json", "[1,2]", R"({"product_id":"1"})", R"({"quantity":2})",
        R"({"product_id":1,"quantity":2.5})", R"({"product_id":1,"a":1,"a":2})"}) {
    ExpectJsonError(c.Post("/cart/items", body), 400, body);
  }
  ExpectJsonError(c.Get("/nowhere"), 404, "unknown path");
  ExpectJsonError(c.Get("/cart/items/7"), 404, "unknown nested path");
  HttpResponse r = c.Send("DELETE", "/cart");
  ExpectJsonError(r, 405, "DELETE /cart");
  EXPECT_EQ(r.Header("allow"), "GET");
  ExpectJsonError(c.Get("/cart/items"), 405, "GET /cart/items");
  ExpectJsonError(c.Send("PUT", "/orders", "{}"), 405, "PUT /orders");
  EXPECT_EQ(r.Header("x-served-by"), "alpha");

  // Oversized body: 413 and the connection closes.
  r = c.Post("/cart/items", std::string(64 * 1024 + 1, ' '));
  ExpectJsonError(r, 413, "oversized");
  EXPECT_EQ(r.Header("x-served-by"), "alpha");
  // Exactly 64 KiB is allowed (and then fails as JSON).
  ExpectJsonError(c.Post("/cart/items", std::string(64 * 1024, ' ')), 400, "64 KiB of spaces");

  // Broken HTTP.
  HttpClient raw(a.port());
  ExpectJsonError(raw.SendRaw("GARBAGE\r\n\r\n"), 400, "garbage request line");
  HttpClient raw2(a.port());
  ExpectJsonError(raw2.SendRaw("POST /cart/items HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400,
                  "bad content-length");
  // The server is still fine.
  EXPECT_EQ(HttpClient(a.port()).Get("/health").status, 200);
}

TEST_F(ShopdTest, PipeliningAndHttp10) {
  Shopd& a = Launch("alpha");
  if (HasFatalFailure()) return;
  HttpClient c(a.port());
  // Two requests in one write are answered in order on the same connection.
  HttpResponse first = c.SendRaw(
      "GET /products/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /products/2 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(first.Json().Find("id")->AsInt(), 1);
  HttpResponse second = c.Receive();
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.Json().Find("id")->AsInt(), 2);
  // HTTP/1.0 without keep-alive: one answer, then the server closes.
  HttpClient old(a.port());
  HttpResponse r = old.SendRaw("GET /health HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("x-served-by"), "alpha");
  EXPECT_TRUE(old.ClosedByPeer(kIoTimeout));
}

TEST_F(ShopdTest, FailRateOneFailsAllButHealth) {
  Shopd& a = Launch("alpha", {"--fail-rate", "1"});
  if (HasFatalFailure()) return;
  HttpClient c(a.port());
  for (const char* path : {"/products", "/products/1", "/search?q=oak", "/cart"}) {
    HttpResponse r = c.Get(path);
    EXPECT_EQ(r.status, 500) << path;
    EXPECT_EQ(r.Header("x-served-by"), "alpha");
    EXPECT_TRUE(r.Json().Find("error")) << r.body;
  }
  EXPECT_EQ(c.Post("/cart/items", R"({"product_id":1})").status, 500);
  EXPECT_EQ(c.Get("/health").status, 200);
}

TEST_F(ShopdTest, SlowDelaysWithoutBlockingThreads) {
  // One thread, 300 ms per request: eight concurrent requests finish in about 300 ms, not 2.4 s,
  // because the delay is a timer, not a sleeping thread.
  Shopd& a = Launch("alpha", {"--slow", "300", "--threads", "1"});
  if (HasFatalFailure()) return;
  auto start = Clock::now();
  EXPECT_EQ(HttpClient(a.port()).Get("/health").status, 200);
  EXPECT_GE(Clock::now() - start, milliseconds(300));
  start = Clock::now();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (HttpClient(a.port()).Get("/products/1").status == 200) ok++;
    });
  }
  for (std::thread& t : threads) t.join();
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(ok.load(), 8);
  EXPECT_LT(elapsed, milliseconds(1500));
}

TEST_F(ShopdTest, InstancesStartingTogetherSeedOnce) {
  // Three processes race on one fresh database file: all spawned before any is waited for.
  for (int i = 0; i < 3; ++i) {
    servers_.push_back(std::make_unique<Shopd>());
    servers_.back()->Spawn("s" + std::to_string(i), db_path(),
                           dir_.File("s" + std::to_string(i) + ".stderr"));
    if (HasFatalFailure()) return;
  }
  for (auto& s : servers_) {
    s->AwaitAddress();
    if (HasFatalFailure()) return;
  }
  for (auto& s : servers_) {
    HttpClient c(s->port());
    EXPECT_EQ(c.Get("/products?page=15").Json().Find("products")->size(), 20u);
    EXPECT_EQ(c.Get("/products?page=16").Json().Find("products")->size(), 0u);
  }
  auto db = Database::Open(db_path(), milliseconds(5000));
  Statement count = db->Prepare("SELECT COUNT(*), MIN(id), MAX(id) FROM products");
  ASSERT_TRUE(count.Step());
  EXPECT_EQ(count.ColumnInt(0), 300);
  EXPECT_EQ(count.ColumnInt(1), 1);
  EXPECT_EQ(count.ColumnInt(2), 300);
}

TEST_F(ShopdTest, CatalogFile) {
  std::ofstream(dir_.File("catalog.tsv")) << "# title\tprice\nRed Mug\t1299\nBlue Mug\t1499\n"
                                             "Green Teapot\t2999\n";
  Shopd& a = Launch("alpha", {"--catalog", dir_.File("catalog.tsv")}, dir_.File("custom.db"));
  if (HasFatalFailure()) return;
  HttpClient c(a.port());
  HttpResponse r = c.Get("/products");
  EXPECT_EQ(r.body, R"({"products":[{"id":1,"title":"Red Mug","price_cents":1299},)"
                    R"({"id":2,"title":"Blue Mug","price_cents":1499},)"
                    R"({"id":3,"title":"Green Teapot","price_cents":2999}],"page":1})");
  EXPECT_EQ(c.Get("/search?q=mug").Json().Find("products")->size(), 2u);
}

TEST_F(ShopdTest, BadFlagsExitTwo) {
  for (std::vector<std::string> extra : std::vector<std::vector<std::string>>{
           {"--fail-rate", "2"}, {"--slow", "-1"}, {"--threads", "0"}, {"--bogus", "1"}}) {
    Shopd s;
    s.Spawn("bad", db_path(), dir_.File("bad.stderr"), extra);
    if (HasFatalFailure()) return;
    EXPECT_EQ(s.FirstLine(), std::nullopt) << extra[0];
    std::optional<int> status = s.WaitExit(kExitTimeout);
    ASSERT_TRUE(status) << extra[0];
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << extra[0];
    EXPECT_NE(s.Stderr().find("usage: shopd"), std::string::npos) << extra[0];
  }
}

TEST_F(ShopdTest, UnusableDatabaseExitsOne) {
  Shopd s;
  s.Spawn("bad", dir_.File("no/such/dir/shop.db"), dir_.File("bad.stderr"));
  if (HasFatalFailure()) return;
  EXPECT_EQ(s.FirstLine(), std::nullopt);
  std::optional<int> status = s.WaitExit(kExitTimeout);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << *status;
}

TEST_F(ShopdTest, SigtermDrainsAndExitsZero) {
  Shopd& a = Launch("alpha", {"--slow", "400"});
  if (HasFatalFailure()) return;
  HttpClient idle(a.port());
  ASSERT_EQ(idle.Get("/health").status, 200);  // an idle keep-alive connection remains

  // A request in flight when SIGTERM arrives is still answered, after the drain started: its
  // /health says 503 and the connection closes.
  HttpClient busy(a.port());
  ASSERT_TRUE(busy.SendOnly("GET", "/health"));
  ASSERT_TRUE(WaitUntil([&] { return ServerReadAll(a.port(), busy.local_port()); }, kIoTimeout));
  a.Signal(SIGTERM);
  HttpResponse in_flight = busy.Receive();
  EXPECT_EQ(in_flight.status, 503);
  EXPECT_EQ(in_flight.body, R"({"status":"draining"})");
  EXPECT_EQ(in_flight.Header("connection"), "close");
  EXPECT_TRUE(idle.ClosedByPeer(kIoTimeout));

  std::optional<int> status = a.WaitExit(kExitTimeout);
  ASSERT_TRUE(status) << "shopd did not exit";
  EXPECT_TRUE(WIFEXITED(*status)) << *status;
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  // No longer accepting.
  EXPECT_EQ(HttpClient(a.port()).Get("/health").status, 0);
}

// A request that outlives --drain-timeout does not hold the process: it exits 0 anyway.
TEST_F(ShopdTest, DrainTimeoutBoundsExit) {
  Shopd& a = Launch("alpha", {"--slow", "30000", "--drain-timeout", "300"});
  if (HasFatalFailure()) return;
  HttpClient stuck(a.port());
  ASSERT_TRUE(stuck.SendOnly("GET", "/products/1"));
  ASSERT_TRUE(WaitUntil([&] { return ServerReadAll(a.port(), stuck.local_port()); }, kIoTimeout));
  auto start = Clock::now();
  a.Signal(SIGTERM);
  std::optional<int> status = a.WaitExit(kExitTimeout);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_LT(Clock::now() - start, milliseconds(5000));
  EXPECT_EQ(stuck.Receive().status, 0);  // dropped, never answered
}

TEST_F(ShopdTest, SecondSignalEndsDrainAtOnce) {
  Shopd& a = Launch("alpha", {"--slow", "30000", "--drain-timeout", "60000"});
  if (HasFatalFailure()) return;
  HttpClient stuck(a.port());
  ASSERT_TRUE(stuck.SendOnly("GET", "/products/1"));
  ASSERT_TRUE(WaitUntil([&] { return ServerReadAll(a.port(), stuck.local_port()); }, kIoTimeout));
  a.Signal(SIGTERM);
  // Once the first signal has been handled (it says so on stderr), send another.
  ASSERT_TRUE(
      WaitUntil([&] { return a.Stderr().find("draining") != std::string::npos; }, kIoTimeout));
  a.Signal(SIGINT);
  std::optional<int> status = a.WaitExit(kExitTimeout);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_EQ(stuck.Receive().status, 0);
}

TEST_F(ShopdTest, SigintExitsZero) {
  Shopd& a = Launch("alpha");
  if (HasFatalFailure()) return;
  ASSERT_EQ(HttpClient(a.port()).Get("/health").status, 200);
  a.Signal(SIGINT);
  std::optional<int> status = a.WaitExit(kExitTimeout);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

}  // namespace
}  // namespace lbd::shop
