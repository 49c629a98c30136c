#include "replay.h"

#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "lbsched/service.h"

namespace lbd::lbsim {
namespace {

// The scheduler's clock is the trace's `time` directive, nothing else.
class TraceClock final : public Clock {
 public:
  std::chrono::nanoseconds Now() const override { return now_; }
  void Set(std::chrono::nanoseconds now) { now_ = now; }

 private:
  std::chrono::nanoseconds now_{0};
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// Splits at blanks, dropping a comment that starts at '#'. Reuses `tokens`.
void Tokenize(std::string_view line, std::vector<std::string_view>* tokens) {
  tokens->clear();
  if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
  size_t i = 0;
  const size_t n = line.size();
  while (i < n) {
    while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t start = i;
    while (i < n && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) tokens->push_back(line.substr(start, i - start));
  }
}

bool ParseInt(std::string_view text, int64_t min, int64_t max, int64_t* out) {
  int64_t v = 0;
  auto [next, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || next != text.data() + text.size() || text.empty() || v < min ||
      v > max) {
    return false;
  }
  *out = v;
  return true;
}

// Built by appending: GCC 12's -Wrestrict misfires on "'" + std::string(s) + "'" at -O3.
std::string Quote(std::string_view s) {
  std::string quoted;
  quoted.reserve(s.size() + 2);
  quoted.append(1, '\'').append(s).append(1, '\'');
  return quoted;
}

class Replayer {
 public:
  Replayer(const ReplayOptions& options, std::FILE* out) : options_(options), out_(out) {
    out_buf_.reserve(kFlushAt + 256);
  }
  ~Replayer() { Flush(); }

  // One directive; an error message when it is malformed.
  Status Apply(const std::vector<std::string_view>& t) {
    const std::string_view op = t[0];
    if (op == "scheduler") return CreateService(t);
    if (!IsDirective(op)) return Status::Error("unknown directive " + Quote(op));
    if (!svc_) return Status::Error("the first directive must be 'scheduler NAME'");
    if (op == "pick") return Pick(t);
    if (op == "server") return AddServer(t);
    if (op == "conns") return Conns(t);
    if (op == "time") return Time(t);
    if (op == "weight") return Weight(t);
    if (op == "remove") return Remove(t);
    if (op == "overload") return Overload(t);
    if (op == "latency") return Latency(t);
    return Health(t);  // down, up
  }

  void Flush() {
    if (!out_buf_.empty()) std::fwrite(out_buf_.data(), 1, out_buf_.size(), out_);
    out_buf_.clear();
    std::fflush(out_);
  }

 private:
  static constexpr size_t kFlushAt = 1 << 16;

  struct Server {
    Endpoint endpoint;
    std::shared_ptr<RealServer> rs;
  };

  static bool IsDirective(std::string_view op) {
    return op == "server" || op == "weight" || op == "remove" || op == "conns" ||
           op == "overload" || op == "down" || op == "up" || op == "time" || op == "pick" ||
           op == "latency";
  }

  static Status Arity(const std::vector<std::string_view>& t, size_t args, const char* usage) {
    if (t.size() != args + 1) {
      return Status::Error(std::string(t[0]) + ": expected " + std::to_string(args) + " argument" +
                           (args == 1 ? "" : "s") + " (" + usage + "), got " +
                           std::to_string(t.size() - 1));
    }
    return Status::Ok();
  }

  Result<Server*> Lookup(std::string_view id) {
    auto it = ids_.find(id);
    if (it == ids_.end()) return Status::Error("unknown server ID " + Quote(id));
    return &it->second;
  }

  Status CreateService(const std::vector<std::string_view>& t) {
    if (svc_) return Status::Error("'scheduler' given twice");
    if (t.size() < 2) return Status::Error("scheduler: expected a NAME (rr wrr sh dh ...)");
    const std::string_view name = t[1];
    SchedulerOptions o;
    o.random_seed = 1;  // a trace is exact: its random stream is always seeded
    for (size_t i = 2; i < t.size(); ++i) {
      const std::string_view flag = t[i];
      int64_t n = 0;
      if (flag == "port") {
        o.hash_port = true;
      } else if (flag == "fallback") {
        o.hash_fallback = true;
      } else if (flag.starts_with("choices=")) {
        if (!ParseInt(flag.substr(8), 1, 64, &n)) {
          return Status::Error("scheduler: choices must be an integer in 1..64, got " +
                               Quote(flag.substr(8)));
        }
        o.choices = static_cast<int>(n);
      } else if (flag.starts_with("decay=")) {
        if (!ParseSeconds(flag.substr(6), &o.ewma_decay) || o.ewma_decay.count() <= 0) {
          return Status::Error("scheduler: decay must be a positive number of seconds, got " +
                               Quote(flag.substr(6)));
        }
      } else if (flag.starts_with("seed=")) {
        if (!ParseInt(flag.substr(5), 0, INT64_MAX, &n)) {
          return Status::Error("scheduler: seed must be a non-negative integer, got " +
                               Quote(flag.substr(5)));
        }
        o.random_seed = static_cast<uint64_t>(n);
      } else {
        return Status::Error("scheduler: unknown flag " + Quote(flag) +
                             " (expected port, fallback, choices=N, decay=SECONDS or seed=N)");
      }
    }
    const bool hashing = name == "sh" || name == "mh" || name == "rendezvous";
    if ((o.hash_port || o.hash_fallback) && !hashing) {
      return Status::Error(
          "scheduler: flags port/fallback apply only to sh, mh and rendezvous, not " + Quote(name));
    }
    o.locality_expiration = options_.expiration;
    o.clock = &clock_;
    auto svc = Service::Create(name, o);
    if (!svc.ok()) return Status::Error("scheduler: " + svc.status().message());
    svc_ = std::move(svc).value();
    return Status::Ok();
  }

  Status AddServer(const std::vector<std::string_view>& t) {
    if (Status s = Arity(t, 3, "server ID IP:PORT WEIGHT"); !s.ok()) return s;
    if (ids_.count(t[1]) != 0) return Status::Error("duplicate server ID " + Quote(t[1]));
    auto ep = ParseEndpoint(t[2], /*allow_port_zero=*/true);
    if (!ep.ok()) return Status::Error("server: " + ep.status().message());
    int64_t w = 0;
    if (!ParseInt(t[3], 0, kMaxWeight, &w)) {
      return Status::Error("server: weight " + Quote(t[3]) + " is not an integer in 0..65535");
    }
    auto rs = svc_->AddServer(*ep, {.weight = static_cast<int>(w)});
    if (!rs.ok()) return Status::Error("server: " + rs.status().message());
    names_[rs->get()] = std::string(t[1]);
    ids_.emplace(std::string(t[1]), Server{*ep, std::move(rs).value()});
    return Status::Ok();
  }

  Status Weight(const std::vector<std::string_view>& t) {
    if (Status s = Arity(t, 2, "weight ID W"); !s.ok()) return s;
    auto srv = Lookup(t[1]);
    if (!srv.ok()) return srv.status();
    int64_t w = 0;
    if (!ParseInt(t[2], 0, kMaxWeight, &w)) {
      return Status::Error("weight: " + Quote(t[2]) + " is not an integer in 0..65535");
    }
    return svc_->SetWeight((*srv)->endpoint, static_cast<int>(w));
  }

  Status Remove(const std::vector<std::string_view>& t) {
    if (Status s = Arity(t, 1, "remove ID"); !s.ok()) return s;
    auto it = ids_.find(t[1]);
    if (it == ids_.end()) return Status::Error("unknown server ID " + Quote(t[1]));
    if (Status s = svc_->RemoveServer(it->second.endpoint); !s.ok()) return s;
    names_.erase(it->second.rs.get());
    ids_.erase(it);
    return Status::Ok();
  }

  Status Conns(const std::vector<std::string_view>& t) {
    if (Status s = Arity(t, 3, "conns ID ACTIVE INACTIVE"); !s.ok()) return s;
    auto srv = Lookup(t[1]);
    if (!srv.ok()) return srv.status();
    int64_t active = 0;
    int64_t inactive = 0;
    constexpr int64_t kMax = INT32_MAX / 256;  // overhead = active*256 + inactive fits an int
    if (!ParseInt(t[2], 0, kMax, &active) || !ParseInt(t[3], 0, kMax, &inactive)) {
      return Status::Error("conns: counters must be integers in 0.." + std::to_string(kMax));
    }
    (*srv)->rs->SetCounters(static_cast<int>(active), static_cast<int>(inactive));
    return Status::Ok();
  }

  Status Overload(const std::vector<std::string_view>& t) {
    if (Status s = Arity(t, 2, "overload ID 0|1"); !s.ok()) return s;
    auto srv = Lookup(t[1]);
    if (!srv.ok()) return srv.status();
    if (t[2] != "0" && t[2] != "1") return Status::Error("overload: expected 0 or 1");
    (*srv)->rs->SetOverloaded(t[2] == "1");
    return Status::Ok();
  }

  Status Health(const std::vector<std::string_view>& t) {
    if (Status s = Arity(t, 1, t[0] == "up" ? "up ID" : "down ID"); !s.ok()) return s;
    auto srv = Lookup(t[1]);
    if (!srv.ok()) return srv.status();
    return svc_->SetUp((*srv)->endpoint, t[0] == "up");
  }

  Status Latency(const std::vector<std::string_view>& t) {
    if (Status s = Arity(t, 2, "latency ID SECONDS"); !s.ok()) return s;
    auto srv = Lookup(t[1]);
    if (!srv.ok()) return srv.status();
    std::chrono::nanoseconds sample{};
    if (!ParseSeconds(t[2], &sample)) {
      return Status::Error("latency: " + Quote(t[2]) + " is not a non-negative number of seconds");
    }
    (*srv)->rs->ReportLatency(sample);
    return Status::Ok();
  }

  Status Time(const std::vector<std::string_view>& t) {
    if (Status s = Arity(t, 1, "time SECONDS"); !s.ok()) return s;
    std::chrono::nanoseconds now{};
    if (!ParseSeconds(t[1], &now)) {
      return Status::Error("time: " + Quote(t[1]) + " is not a non-negative number of seconds");
    }
    clock_.Set(now);
    return Status::Ok();
  }

  Status Pick(const std::vector<std::string_view>& t) {
    if (Status s = Arity(t, 2, "pick SRC_IP:PORT DST_IP:PORT"); !s.ok()) return s;
    auto src = ParseEndpoint(t[1], /*allow_port_zero=*/true);
    if (!src.ok()) return Status::Error("pick: source: " + src.status().message());
    auto dst = ParseEndpoint(t[2], /*allow_port_zero=*/true);
    if (!dst.ok()) return Status::Error("pick: destination: " + dst.status().message());
    std::shared_ptr<RealServer> rs = svc_->Pick(Flow{*src, *dst});
    if (rs == nullptr) {
      out_buf_ += '-';
    } else {
      auto it = names_.find(rs.get());
      // The library only picks servers of the list, and every one has an ID.
      out_buf_ += it != names_.end() ? std::string_view(it->second) : std::string_view("?");
    }
    out_buf_ += '\n';
    if (out_buf_.size() >= kFlushAt) {
      std::fwrite(out_buf_.data(), 1, out_buf_.size(), out_);
      out_buf_.clear();
    }
    return Status::Ok();
  }

  const ReplayOptions options_;
  std::FILE* const out_;
  TraceClock clock_;
  std::unique_ptr<Service> svc_;
  std::unordered_map<std::string, Server, StringHash, std::equal_to<>> ids_;
  std::unordered_map<const RealServer*, std::string> names_;
  std::string out_buf_;
};

}  // namespace

bool ParseSeconds(std::string_view text, std::chrono::nanoseconds* out) {
  // DIGITS[.DIGITS][(e|E)[+|-]DIGITS], exactly: the value is the digit string
  // times 10^exp10; digits below a nanosecond are dropped (truncation).
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  std::string digits;
  int64_t exp10 = 0;
  size_t i = 0;
  const size_t n = text.size();
  for (; i < n && is_digit(text[i]); ++i) digits += text[i];
  if (i < n && text[i] == '.') {
    for (++i; i < n && is_digit(text[i]); ++i) {
      digits += text[i];
      --exp10;
    }
  }
  if (digits.empty()) return false;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
    const size_t start = i;
    int64_t e = 0;
    for (; i < n && is_digit(text[i]); ++i) {
      if (e < 1'000'000) e = e * 10 + (text[i] - '0');
    }
    if (i == start) return false;
    exp10 += negative ? -e : e;
  }
  if (i != n) return false;
  exp10 += 9;  // seconds -> nanoseconds
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  if (exp10 < 0) {
    const auto drop = static_cast<size_t>(-exp10);
    digits.erase(digits.size() - std::min(drop, digits.size()));
  } else if (!digits.empty()) {
    if (exp10 > 19) return false;
    digits.append(static_cast<size_t>(exp10), '0');
  }
  if (digits.empty()) digits.assign(1, '0');  // not = "0": GCC 12 -Wrestrict false positive
  constexpr int64_t kMaxNanos = 9'000'000'000'000'000'000;  // ~285 years
  int64_t ns = 0;
  if (digits.size() > 19 || !ParseInt(digits, 0, kMaxNanos, &ns)) return false;
  *out = std::chrono::nanoseconds(ns);
  return true;
}

int Replay(std::string_view text, const std::string& name, const ReplayOptions& options,
           std::FILE* out, std::FILE* err) {
  Replayer replayer(options, out);
  std::vector<std::string_view> tokens;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    Tokenize(line, &tokens);
    if (tokens.empty()) continue;
    if (Status s = replayer.Apply(tokens); !s.ok()) {
      replayer.Flush();
      std::fprintf(err, "%s:%zu: %s\n", name.c_str(), line_no, s.message().c_str());
      return 2;
    }
  }
  replayer.Flush();
  return 0;
}

}  // namespace lbd::lbsim
