// `lbctl top`: the status page's live view in a terminal. Every interval it
// asks lbd for `stats --json`, and prints services and real servers like
// `ipvsadm -Ln --rate` with state, weight, connections and the rates of
// each server (its counters' differences since the previous frame). On a
// terminal each frame clears the screen (plain ANSI) and `q` or Ctrl-C
// quits; elsewhere (tests, pipes) frames follow each other unadorned.
//
// Thread-safety: one thread; a SIGINT/SIGTERM handler only sets a flag.
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lbd/daemon/control_client.h"

namespace lbd {
namespace {

volatile sig_atomic_t g_stop = 0;
void OnStopSignal(int) { g_stop = 1; }

// Just enough JSON for lbd's own documents: objects, arrays, strings with
// the escapes JsonString writes, numbers, true/false/null.
struct Json {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  const Json& operator[](std::string_view key) const {
    static const Json kMissing;
    for (const auto& [k, v] : members) {
      if (k == key) return v;
    }
    return kMissing;
  }
  double Num() const { return kind == kNumber ? number : 0; }
  bool Bool() const { return kind == kBool && boolean; }
};

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  std::optional<Json> Parse() {
    Json v;
    if (!Value(&v)) return std::nullopt;
    Space();
    if (i_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  void Space() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) {
      ++i_;
    }
  }
  bool Eat(char c) {
    Space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool Word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c == '\\' && i_ < s_.size()) {
        c = s_[i_++];
        if (c == 'n') c = '\n';
        if (c == 't') c = '\t';
        if (c == 'r') c = '\r';
        if (c == 'u' && i_ + 4 <= s_.size()) {  // lbd escapes control characters only
          c = static_cast<char>(std::strtol(std::string(s_.substr(i_, 4)).c_str(), nullptr, 16));
          i_ += 4;
        }
      }
      out->push_back(c);
    }
    return Eat('"');
  }
  bool Value(Json* v) {
    if (++depth_ > 32) return false;
    Space();
    bool ok = false;
    if (i_ >= s_.size()) {
    } else if (s_[i_] == '{') {
      ++i_;
      v->kind = Json::kObject;
      ok = Eat('}');
      while (!ok) {
        std::pair<std::string, Json> m;
        if (!String(&m.first) || !Eat(':') || !Value(&m.second)) break;
        v->members.push_back(std::move(m));
        if (Eat('}')) ok = true;
        if (!ok && !Eat(',')) break;
      }
    } else if (s_[i_] == '[') {
      ++i_;
      v->kind = Json::kArray;
      ok = Eat(']');
      while (!ok) {
        if (!Value(&v->items.emplace_back())) break;
        if (Eat(']')) ok = true;
        if (!ok && !Eat(',')) break;
      }
    } else if (s_[i_] == '"') {
      v->kind = Json::kString;
      ok = String(&v->string);
    } else if (Word("true")) {
      v->kind = Json::kBool;
      v->boolean = ok = true;
    } else if (Word("false")) {
      v->kind = Json::kBool;
      ok = true;
    } else if (Word("null")) {
      ok = true;
    } else {
      const std::string rest(s_.substr(i_, 40));
      char* end = nullptr;
      v->kind = Json::kNumber;
      v->number = std::strtod(rest.c_str(), &end);
      ok = end != rest.c_str();
      i_ += static_cast<size_t>(end - rest.c_str());
    }
    --depth_;
    return ok;
  }

  std::string_view s_;
  size_t i_ = 0;
  int depth_ = 0;
};

// "12.3K", "4.1M": bytes per second in ipvsadm's style (1024-based).
std::string Bytes(double v) {
  const char* units[] = {"", "K", "M", "G", "T"};
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  snprintf(buf, sizeof(buf), u == 0 ? "%.0f%s" : "%.1f%s", v, units[u]);
  return buf;
}

std::string Rate(double v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

struct Counters {
  double connections = 0, bytes_in = 0, bytes_out = 0;
};

struct Sample {
  std::chrono::steady_clock::time_point time;
  std::map<std::string, Counters> servers;  // "service|address"
};

const char* State(const Json& s) {
  if (s["disabled"].Bool()) return "disabled";
  if (!s["up"].Bool()) return "down";
  if (s["weight"].Num() == 0) return "drained";
  return "up";
}

// One screen from one `stats --json` document; per-server rates against
// `previous` ("-" without one).
std::string Frame(const Json& d, const std::optional<Sample>& previous, Sample* sample) {
  std::string out;
  char line[512];
  const Json& rates = d["rates"];
  const std::time_t now = std::time(nullptr);
  char clock[16];
  std::strftime(clock, sizeof(clock), "%H:%M:%S", std::localtime(&now));
  snprintf(line, sizeof(line), "%s  %s  live %.0f  %s conn/s  in %sB/s  out %sB/s  accepted %.0f\n",
           d["version"].string.c_str(), clock, d["counters"]["live"].Num(),
           Rate(rates["connections"].Num()).c_str(), Bytes(rates["bytes_in"].Num()).c_str(),
           Bytes(rates["bytes_out"].Num()).c_str(), d["counters"]["accepted"].Num());
  out += line;
  // Columns as ipvsadm -Ln --rate, plus state and totals; the service's
  // rates line up under its servers'.
  snprintf(line, sizeof(line), "%-62s %8s %8s %8s %7s\n", "Prot LocalAddress:Port Scheduler (Name)",
           "CPS", "InBPS", "OutBPS", "Conns");
  out += line;
  snprintf(line, sizeof(line), "  -> %-21s %-8s %6s %10s %9s %8s %8s %8s %7s\n",
           "RemoteAddress:Port", "State", "Weight", "ActiveConn", "InActConn", "CPS", "InBPS",
           "OutBPS", "Conns");
  out += line;
  const double dt =
      previous ? std::chrono::duration<double>(sample->time - previous->time).count() : 0;
  for (const Json& svc : d["services"].items) {
    const Json& sr = d["service_rates"][svc["name"].string];
    std::string head = "TCP  " + svc["listen"].string + " " + svc["scheduler"].string + " (" +
                       svc["name"].string + ")";
    if (!svc["quorum"]["up"].Bool()) head += " QUORUM LOST";
    snprintf(line, sizeof(line), "%-62s %8s %8s %8s %7.0f\n", head.c_str(),
             Rate(sr["connections"].Num()).c_str(), Bytes(sr["bytes_in"].Num()).c_str(),
             Bytes(sr["bytes_out"].Num()).c_str(), svc["connections"].Num());
    out += line;
    for (const Json& s : svc["servers"].items) {
      const std::string key = svc["name"].string + "|" + s["address"].string;
      Counters c{s["connections"].Num(), s["bytes_in"].Num(), s["bytes_out"].Num()};
      sample->servers[key] = c;
      std::string cps = "-", in = "-", outb = "-";
      if (previous && dt > 0) {
        auto it = previous->servers.find(key);
        if (it != previous->servers.end() && c.connections >= it->second.connections &&
            c.bytes_in >= it->second.bytes_in && c.bytes_out >= it->second.bytes_out) {
          cps = Rate((c.connections - it->second.connections) / dt);
          in = Bytes((c.bytes_in - it->second.bytes_in) / dt);
          outb = Bytes((c.bytes_out - it->second.bytes_out) / dt);
        }
      }
      snprintf(line, sizeof(line), "  -> %-21s %-8s %6.0f %10.0f %9.0f %8s %8s %8s %7.0f\n",
               s["address"].string.c_str(), State(s), s["weight"].Num(), s["active"].Num(),
               s["inactive"].Num(), cps.c_str(), in.c_str(), outb.c_str(), s["connections"].Num());
      out += line;
    }
  }
  return out;
}

void TopUsage(FILE* out) {
  fprintf(out,
          "usage: lbctl [-s SOCKET] top [--interval SECONDS] [--iterations N]\n"
          "  live services and real servers with rates, redrawn every interval (default 1 s,\n"
          "  0.1..3600); q or Ctrl-C quits; --iterations N stops after N frames\n");
}

// Restores the terminal's mode when top ends, however it ends.
class RawTerminal {
 public:
  RawTerminal() {
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // keys one by one; ISIG stays
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  bool active() const { return active_; }

 private:
  termios saved_{};
  bool active_ = false;
};

// Waits up to `seconds` for a stop: a signal, `q`, or stdin closed.
bool WaitForQuit(double seconds, bool keys) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!g_stop) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          until - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return false;
    pollfd p{STDIN_FILENO, POLLIN, 0};
    int n = poll(&p, keys ? 1 : 0, static_cast<int>(left));
    if (n > 0) {
      char c = 0;
      if (read(STDIN_FILENO, &c, 1) <= 0) return false;  // EOF: keep going until the timer
      if (c == 'q' || c == 'Q' || c == 3) return true;
    }
  }
  return true;
}

}  // namespace

// REQUIRES: args are the words after `top`.
int RunTop(const std::string& socket_path, int argc, char** argv) {
  double interval = 1.0;
  long iterations = 0;  // 0 = until q or Ctrl-C
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    char* end = nullptr;
    if (a == "-h" || a == "--help") {
      TopUsage(stdout);
      return 0;
    } else if (a == "--interval" && i + 1 < argc) {
      interval = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(interval >= 0.1 && interval <= 3600)) {
        fprintf(stderr, "lbctl: bad --interval '%s': expected 0.1..3600 seconds\n", argv[i]);
        return 2;
      }
    } else if (a == "--iterations" && i + 1 < argc) {
      iterations = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || iterations < 1 || iterations > 1000000000) {
        fprintf(stderr, "lbctl: bad --iterations '%s': expected a positive count\n", argv[i]);
        return 2;
      }
    } else {
      TopUsage(stderr);
      return 2;
    }
  }
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;  // no SA_RESTART: poll() returns at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const bool tty = isatty(STDOUT_FILENO);
  RawTerminal terminal;
  if (tty) fputs("\x1b[?25l", stdout);  // hide the cursor while redrawing
  std::optional<Sample> previous;
  int status = 0;
  for (long frame = 0; !g_stop && (iterations == 0 || frame < iterations); ++frame) {
    if (frame > 0 && WaitForQuit(interval, terminal.active())) break;
    Sample sample{std::chrono::steady_clock::now(), {}};
    std::string text;
    auto reply = SendControlCommand(socket_path, "stats --json", std::chrono::seconds(5));
    std::optional<Json> doc;
    if (!reply.ok()) {
      text = "lbctl: " + reply.status().message() + "\n";
    } else if (!reply->ok) {
      text = "lbctl: " + reply->error + "\n";
    } else if (!(doc = JsonParser(reply->body).Parse())) {
      text = "lbctl: lbd's reply is not the JSON expected\n";
    } else {
      text = Frame(*doc, previous, &sample);
      previous = std::move(sample);
    }
    if (!doc && frame == 0) {  // nothing to watch: say why and stop
      fputs(text.c_str(), stderr);
      status = 1;
      break;
    }
    if (tty) {
      fputs("\x1b[H\x1b[2J", stdout);
      text += "\n(q quits)";
    } else if (frame > 0) {
      fputs("\n", stdout);
    }
    fputs(text.c_str(), stdout);
    fflush(stdout);
  }
  if (tty) fputs("\x1b[?25h\n", stdout);
  fflush(stdout);
  return status;
}

}  // namespace lbd
