// Test helpers for tests/lb: temp dirs, bounded waits, loopback sockets, a
// pool of in-test backends, a tiny JSON reader, and RAII handles for the real
// lbd process. Every wait is bounded by a deadline; every process started is
// killed by PID in a destructor.
#ifndef LBD_TESTS_LB_LB_TEST_UTIL_H_
#define LBD_TESTS_LB_LB_TEST_UTIL_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace lbtest {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Polls `cond` every few ms until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 5000ms) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

// When a condition read by a slow probe (a forked lbctl: tens of ms on a
// loaded 2-core machine) first held. The event happened after the last poll
// that saw the condition false had started (`after`) and before the first
// poll that saw it true had ended (`by`); `polling` = by - after is what the
// probe adds. Times are relative to `since`. A bound on the event is checked
// without any slack for the probe as `after <= bound`: `after` is a lower
// bound of the event's time, so the check never fails because lbctl was slow
// (and misses lateness of less than `polling`, printed for the record).
struct Observed {
  bool held = false;
  Clock::duration after{};
  Clock::duration by{};
  Clock::duration polling{};
};
inline Observed Observe(Clock::time_point since, const std::function<bool()>& cond,
                        std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Clock::time_point last_false_start = since;
  for (;;) {
    const auto start = Clock::now();
    const bool held = cond();
    const auto end = Clock::now();
    if (held) return {true, last_false_start - since, end - since, end - last_false_start};
    if (end >= deadline) return {};
    last_false_start = start;
    std::this_thread::sleep_for(5ms);
  }
}
inline long Ms(Clock::duration d) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/lbd-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(File(name)) << text;
  }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline sockaddr_in Addr(const std::string& ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  return sa;
}

// A free TCP port on 127.0.0.1 (bound to 0, then released).
inline uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa = Addr("127.0.0.1", 0);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// A listening TCP socket on 127.0.0.1:port (0: a free port; SO_REUSEADDR, no
// SO_REUSEPORT), or an invalid Fd when bind or listen fails. *bound, when
// given, gets the port it is bound to.
inline Fd ListenLoopback(uint16_t port, int backlog, uint16_t* bound = nullptr) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa = Addr("127.0.0.1", port);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return Fd();
  if (listen(fd.get(), backlog) != 0) return Fd();
  if (bound != nullptr) {
    socklen_t len = sizeof(sa);
    getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
    *bound = ntohs(sa.sin_port);
  }
  return fd;
}

// A blocking client socket connected to 127.0.0.1:port, optionally bound to
// `source_ip` first; receive timeout 10 s so no read hangs a test forever.
inline Fd Connect(uint16_t port, const std::string& source_ip = "") {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{10, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (!source_ip.empty()) {
    sockaddr_in src = Addr(source_ip, 0);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) return Fd();
  }
  sockaddr_in sa = Addr("127.0.0.1", port);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return Fd();
  return fd;
}

inline bool SendAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}
inline bool SendAll(int fd, const std::string& s) { return SendAll(fd, s.data(), s.size()); }

// Reads until EOF (or error/timeout); returns what arrived.
inline std::string ReadAll(int fd, size_t limit = 1 << 20) {
  std::string out;
  char buf[16384];
  while (out.size() < limit) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

inline std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// FNV-1a 64 over a stream.
struct Fnv {
  uint64_t h = 1469598103934665603ULL;
  void Add(const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      h ^= static_cast<unsigned char>(p[i]);
      h *= 1099511628211ULL;
    }
  }
};

// Deterministic bytes: block i of the stream for a seed.
inline void FillPattern(char* buf, size_t n, uint64_t offset, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL + offset;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    buf[i] = static_cast<char>(x >> 24);
  }
}

// One in-test real server. A client sends one command line:
//   ID\n              -> "<name>\n", then close
//   ECHO\n            -> echo every byte until EOF, then close
//   SINK\n + data     -> after EOF: "<bytes> <fnv1a64 hex>\n", then close
//   SOURCE n seed\n   -> n pattern bytes, then close
//   HOLD\n            -> keep the connection open until the client closes
// Anything else (or EOF before a line) gets "<name>\n" too.
class Backend {
 public:
  // Listens on `port` (0: a free one); a given port lets a test bring a
  // stopped server back on its old address.
  explicit Backend(std::string name, uint16_t port = 0) : name_(std::move(name)) {
    listen_fd_ = ListenLoopback(port, 1024, &port_);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~Backend() { Stop(); }

  // Closes the listener (connects are refused from now on) and every
  // connection, and joins every thread.
  void Stop() {
    if (stopped_.exchange(true)) return;
    shutdown(listen_fd_.get(), SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    listen_fd_.Reset();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : conn_fds_) shutdown(fd, SHUT_RDWR);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& name() const { return name_; }
  int accepted() const { return accepted_.load(); }

 private:
  void AcceptLoop() {
    while (!stopped_.load()) {
      pollfd p{listen_fd_.get(), POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      if (stopped_.load()) break;
      int fd = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      accepted_.fetch_add(1);
      timeval tv{20, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      std::lock_guard<std::mutex> lock(mu_);
      conn_fds_.push_back(fd);
      threads_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    std::string line;
    char c;
    bool got_line = false;
    while (line.size() < 256) {
      ssize_t n = recv(fd, &c, 1, 0);
      if (n <= 0) break;
      if (c == '\n') {
        got_line = true;
        break;
      }
      line += c;
    }
    if (got_line && line == "ECHO") {
      char buf[65536];
      while (true) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        if (!SendAll(fd, buf, static_cast<size_t>(n))) break;
      }
    } else if (got_line && line == "SINK") {
      char buf[65536];
      uint64_t total = 0;
      Fnv fnv;
      while (true) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        fnv.Add(buf, static_cast<size_t>(n));
        total += static_cast<uint64_t>(n);
      }
      char out[64];
      snprintf(out, sizeof(out), "%llu %016llx\n", static_cast<unsigned long long>(total),
               static_cast<unsigned long long>(fnv.h));
      SendAll(fd, out, strlen(out));
    } else if (got_line && line.rfind("SOURCE ", 0) == 0) {
      unsigned long long n = 0, seed = 0;
      sscanf(line.c_str(), "SOURCE %llu %llu", &n, &seed);
      std::vector<char> buf(65536);
      for (uint64_t off = 0; off < n;) {
        size_t k = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - off));
        FillPattern(buf.data(), k, off, seed);
        if (!SendAll(fd, buf.data(), k)) break;
        off += k;
      }
    } else if (got_line && line == "RESET") {
      linger lg{1, 0};  // close with RST
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    } else if (got_line && line == "HOLD") {
      char buf[4096];
      while (recv(fd, buf, sizeof(buf), 0) > 0) {
      }
    } else {
      std::string reply = name_ + "\n";
      SendAll(fd, reply);
    }
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(conn_fds_, fd);
    close(fd);
  }

  std::string name_;
  Fd listen_fd_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> conn_fds_;
  std::vector<std::thread> threads_;
};

// Connects to `port`, asks "ID" and returns the backend's name ("" on failure).
inline std::string AskId(uint16_t port, const std::string& source_ip = "") {
  Fd fd = Connect(port, source_ip);
  if (!fd.valid()) return "";
  if (!SendAll(fd.get(), "ID\n")) return "";
  return Trim(ReadAll(fd.get()));
}

// --- a tiny JSON reader (enough to check lbctl's output) ---
struct Json {
  using Object = std::map<std::string, Json>;
  using Array = std::vector<Json>;
  std::variant<std::nullptr_t, bool, double, std::string, Array, Object> v;

  bool is_object() const { return std::holds_alternative<Object>(v); }
  bool is_array() const { return std::holds_alternative<Array>(v); }
  const Json& operator[](const std::string& k) const {
    static const Json kNull;
    if (!is_object()) return kNull;
    auto it = std::get<Object>(v).find(k);
    return it == std::get<Object>(v).end() ? kNull : it->second;
  }
  const Array& array() const {
    static const Array kEmpty;
    return is_array() ? std::get<Array>(v) : kEmpty;
  }
  double number() const { return std::holds_alternative<double>(v) ? std::get<double>(v) : -1; }
  std::string str() const {
    return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : "";
  }
  bool boolean() const { return std::holds_alternative<bool>(v) && std::get<bool>(v); }
};

class JsonParser {
 public:
  // nullopt on any syntax error or trailing garbage.
  static std::optional<Json> Parse(const std::string& text) {
    JsonParser p(text);
    Json j;
    if (!p.Value(j)) return std::nullopt;
    p.Ws();
    if (p.i_ != text.size()) return std::nullopt;
    return j;
  }

 private:
  explicit JsonParser(const std::string& t) : t_(t) {}
  void Ws() {
    while (i_ < t_.size() && isspace(static_cast<unsigned char>(t_[i_]))) ++i_;
  }
  bool Lit(const char* s) {
    size_t n = strlen(s);
    if (t_.compare(i_, n, s) != 0) return false;
    i_ += n;
    return true;
  }
  bool String(std::string& out) {
    if (i_ >= t_.size() || t_[i_] != '"') return false;
    ++i_;
    while (i_ < t_.size() && t_[i_] != '"') {
      if (t_[i_] == '\\') {
        if (++i_ >= t_.size()) return false;
        char c = t_[i_];
        if (c == 'u') {
          if (i_ + 4 >= t_.size()) return false;
          out += static_cast<char>(std::stoi(t_.substr(i_ + 1, 4), nullptr, 16));
          i_ += 4;
        } else {
          out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
        }
      } else {
        out += t_[i_];
      }
      ++i_;
    }
    if (i_ >= t_.size()) return false;
    ++i_;
    return true;
  }
  bool Value(Json& j) {
    Ws();
    if (i_ >= t_.size()) return false;
    char c = t_[i_];
    if (c == '{') {
      ++i_;
      Json::Object o;
      Ws();
      if (i_ < t_.size() && t_[i_] == '}') {
        ++i_;
        j.v = std::move(o);
        return true;
      }
      while (true) {
        Ws();
        std::string k;
        if (!String(k)) return false;
        Ws();
        if (i_ >= t_.size() || t_[i_++] != ':') return false;
        Json val;
        if (!Value(val)) return false;
        o[k] = std::move(val);
        Ws();
        if (i_ >= t_.size()) return false;
        if (t_[i_] == ',') {
          ++i_;
          continue;
        }
        if (t_[i_++] != '}') return false;
        break;
      }
      j.v = std::move(o);
      return true;
    }
    if (c == '[') {
      ++i_;
      Json::Array a;
      Ws();
      if (i_ < t_.size() && t_[i_] == ']') {
        ++i_;
        j.v = std::move(a);
        return true;
      }
      while (true) {
        Json val;
        if (!Value(val)) return false;
        a.push_back(std::move(val));
        Ws();
        if (i_ >= t_.size()) return false;
        if (t_[i_] == ',') {
          ++i_;
          continue;
        }
        if (t_[i_++] != ']') return false;
        break;
      }
      j.v = std::move(a);
      return true;
    }
    if (c == '"') {
      std::string s;
      if (!String(s)) return false;
      j.v = std::move(s);
      return true;
    }
    if (Lit("true")) {
      j.v = true;
      return true;
    }
    if (Lit("false")) {
      j.v = false;
      return true;
    }
    if (Lit("null")) {
      j.v = nullptr;
      return true;
    }
    size_t start = i_;
    while (i_ < t_.size() && (isdigit(static_cast<unsigned char>(t_[i_])) || t_[i_] == '-' ||
                              t_[i_] == '+' || t_[i_] == '.' || t_[i_] == 'e' || t_[i_] == 'E')) {
      ++i_;
    }
    if (start == i_) return false;
    j.v = std::stod(t_.substr(start, i_ - start));
    return true;
  }

  const std::string& t_;
  size_t i_ = 0;
};

}  // namespace lbtest

#endif  // LBD_TESTS_LB_LB_TEST_UTIL_H_
