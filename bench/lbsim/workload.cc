#include "workload.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>
#include <string_view>

#include "lbsched/scheduler.h"

namespace lbd::lbsim {
namespace {

// Schema checks with positions; yaml-cpp's own exceptions are caught in
// ParseWorkload() and turned into the same "FILE:LINE:COL: message" form.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  Status Error(const YAML::Node& n, const std::string& message) const {
    const YAML::Mark m = n.Mark();
    return Status::Error(file_ + ":" + std::to_string(m.line + 1) + ":" +
                         std::to_string(m.column + 1) + ": " + message);
  }

  Status CheckMap(const YAML::Node& n, const char* what,
                  std::initializer_list<std::string_view> keys) const {
    if (!n.IsMap()) return Error(n, std::string(what) + " must be a mapping");
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        std::string allowed;
        for (std::string_view k : keys) allowed += (allowed.empty() ? "" : ", ") + std::string(k);
        return Error(kv.first,
                     "unknown key '" + key + "' in " + what + " (expected " + allowed + ")");
      }
    }
    return Status::Ok();
  }

  // Optional scalar `key` of `map`, converted by yaml-cpp, within [lo, hi].
  template <typename T>
  Status Number(const YAML::Node& map, const char* key, T lo, T hi, T* out) const {
    const YAML::Node n = map[key];
    if (!n) return Status::Ok();
    T v{};
    if (!n.IsScalar() || !YAML::convert<T>::decode(n, v)) {
      return Error(n, std::string(key) + ": expected a number");
    }
    if (!(v >= lo && v <= hi)) {
      std::ostringstream range;
      range << lo << ".." << hi;
      return Error(n, std::string(key) + ": " + n.Scalar() + " is outside " + range.str());
    }
    *out = v;
    return Status::Ok();
  }

  // Optional duration `key` ("250ms", "2s", or a number of seconds), > 0
  // unless `allow_zero`.
  Status Duration(const YAML::Node& map, const char* key, double* out,
                  bool allow_zero = false) const {
    const YAML::Node n = map[key];
    if (!n) return Status::Ok();
    double v = 0;
    if (!n.IsScalar() || !ParseDuration(n.Scalar(), &v) || (v == 0 && !allow_zero)) {
      return Error(n, std::string(key) + ": expected a " + (allow_zero ? "" : "positive ") +
                          "duration like 250ms, 2s or 1.5");
    }
    *out = v;
    return Status::Ok();
  }

  Status String(const YAML::Node& map, const char* key, std::string* out) const {
    const YAML::Node n = map[key];
    if (!n) return Status::Ok();
    if (!n.IsScalar()) return Error(n, std::string(key) + ": expected a string");
    *out = n.Scalar();
    return Status::Ok();
  }

  Status Address(const YAML::Node& map, const char* key, Endpoint* out) const {
    const YAML::Node n = map[key];
    if (!n) return Status::Ok();
    auto ep = n.IsScalar() ? ParseEndpoint(n.Scalar()) : Result<Endpoint>(Status::Error("x"));
    if (!ep.ok()) return Error(n, std::string(key) + ": expected IP:PORT");
    *out = *ep;
    return Status::Ok();
  }

 private:
  std::string file_;
};

#define LBSIM_TRY(expr)                          \
  do {                                           \
    if (Status s_ = (expr); !s_.ok()) return s_; \
  } while (0)

Status ReadService(const Reader& r, const YAML::Node& n, ServiceTime* st) {
  LBSIM_TRY(r.CheckMap(n, "service", {"dist", "mean", "sigma"}));
  std::string dist = "exp";
  LBSIM_TRY(r.String(n, "dist", &dist));
  if (dist == "exp") {
    st->dist = Dist::kExp;
  } else if (dist == "const") {
    st->dist = Dist::kConst;
  } else if (dist == "lognormal") {
    st->dist = Dist::kLognormal;
  } else {
    return r.Error(n["dist"], "dist: expected exp, const or lognormal");
  }
  LBSIM_TRY(r.Duration(n, "mean", &st->mean));
  LBSIM_TRY(r.Number(n, "sigma", 0.0, 5.0, &st->sigma));
  return Status::Ok();
}

Status ReadServer(const Reader& r, const YAML::Node& n, size_t index, ServerSpec* s) {
  LBSIM_TRY(r.CheckMap(n, "server",
                       {"name", "address", "weight", "capacity", "service", "cache", "present"}));
  s->name = "s" + std::to_string(index + 1);
  s->endpoint = Endpoint{0x0A000001u + static_cast<uint32_t>(index), 80};
  LBSIM_TRY(r.String(n, "name", &s->name));
  LBSIM_TRY(r.Address(n, "address", &s->endpoint));
  LBSIM_TRY(r.Number(n, "weight", 0, kMaxWeight, &s->weight));
  LBSIM_TRY(r.Number(n, "capacity", 1, 1 << 20, &s->capacity));
  if (n["service"]) LBSIM_TRY(ReadService(r, n["service"], &s->service));
  if (const YAML::Node c = n["cache"]) {
    LBSIM_TRY(r.CheckMap(c, "cache", {"size", "hit", "miss"}));
    if (!c["size"]) return r.Error(c, "cache: 'size' is required");
    LBSIM_TRY(r.Number(c, "size", 1, 1 << 24, &s->cache_size));
    LBSIM_TRY(r.Duration(c, "hit", &s->hit));
    LBSIM_TRY(r.Duration(c, "miss", &s->miss));
  }
  if (const YAML::Node p = n["present"]) {
    if (!p.IsScalar() || !YAML::convert<bool>::decode(p, s->present)) {
      return r.Error(p, "present: expected true or false");
    }
  }
  return Status::Ok();
}

Status ReadArrivals(const Reader& r, const YAML::Node& n, Arrivals* a) {
  LBSIM_TRY(r.CheckMap(n, "arrivals", {"type", "rate", "load", "on", "off", "peak"}));
  std::string type = "poisson";
  LBSIM_TRY(r.String(n, "type", &type));
  if (type == "poisson") {
    a->kind = ArrivalKind::kPoisson;
  } else if (type == "bursts") {
    a->kind = ArrivalKind::kBursts;
  } else {
    return r.Error(n["type"], "type: expected poisson or bursts");
  }
  if (n["rate"] && n["load"]) return r.Error(n["rate"], "give either rate or load, not both");
  LBSIM_TRY(r.Number(n, "rate", 1e-6, 1e9, &a->rate));
  LBSIM_TRY(r.Number(n, "load", 1e-6, 100.0, &a->load));
  LBSIM_TRY(r.Duration(n, "on", &a->on));
  LBSIM_TRY(r.Duration(n, "off", &a->off));
  LBSIM_TRY(r.Number(n, "peak", 1.0, 1000.0, &a->peak));
  return Status::Ok();
}

Status ReadClients(const Reader& r, const YAML::Node& n, Clients* c) {
  LBSIM_TRY(r.CheckMap(n, "clients", {"sources", "destinations", "zipf", "source_zipf"}));
  LBSIM_TRY(r.Number(n, "sources", 1, 1 << 24, &c->sources));
  LBSIM_TRY(r.Number(n, "destinations", 1, 1 << 22, &c->destinations));
  LBSIM_TRY(r.Number(n, "zipf", 0.0, 10.0, &c->zipf));
  LBSIM_TRY(r.Number(n, "source_zipf", 0.0, 10.0, &c->source_zipf));
  return Status::Ok();
}

Status ReadEvent(const Reader& r, const YAML::Node& n, const std::vector<ServerSpec>& servers,
                 Event* e) {
  LBSIM_TRY(r.CheckMap(n, "event", {"at", "action", "server", "weight", "factor"}));
  if (!n["at"] || !n["action"] || !n["server"]) {
    return r.Error(n, "an event needs at, action and server");
  }
  const YAML::Node at = n["at"];
  if (at.IsScalar() && !at.Scalar().empty() && at.Scalar().back() == '%') {
    const std::string pct = at.Scalar().substr(0, at.Scalar().size() - 1);
    double v = -1;
    auto [next, ec] = std::from_chars(pct.data(), pct.data() + pct.size(), v);
    if (ec != std::errc() || next != pct.data() + pct.size() || v < 0 || v > 1000) {
      return r.Error(at, "at: expected a duration or a percentage of the run like 40%");
    }
    e->at_fraction = v / 100;
  } else {
    LBSIM_TRY(r.Duration(n, "at", &e->at, /*allow_zero=*/true));
  }
  std::string action;
  LBSIM_TRY(r.String(n, "action", &action));
  static const std::map<std::string, EventKind> kKinds = {
      {"fail", EventKind::kFail}, {"recover", EventKind::kRecover}, {"weight", EventKind::kWeight},
      {"add", EventKind::kAdd},   {"remove", EventKind::kRemove},   {"slow", EventKind::kSlow}};
  auto it = kKinds.find(action);
  if (it == kKinds.end()) {
    return r.Error(n["action"], "action: expected fail, recover, weight, add, remove or slow");
  }
  e->kind = it->second;
  std::string server;
  LBSIM_TRY(r.String(n, "server", &server));
  auto s = std::find_if(servers.begin(), servers.end(),
                        [&](const ServerSpec& spec) { return spec.name == server; });
  if (s == servers.end()) return r.Error(n["server"], "no server named '" + server + "'");
  e->server = static_cast<size_t>(s - servers.begin());
  if (e->kind == EventKind::kWeight) {
    if (!n["weight"]) return r.Error(n, "a weight event needs 'weight'");
    LBSIM_TRY(r.Number(n, "weight", 0, kMaxWeight, &e->weight));
  } else if (n["weight"]) {
    return r.Error(n["weight"], "'weight' only goes with action: weight");
  }
  if (e->kind == EventKind::kSlow) {
    if (!n["factor"]) return r.Error(n, "a slow event needs 'factor'");
    LBSIM_TRY(r.Number(n, "factor", 0.01, 1000.0, &e->factor));
  } else if (n["factor"]) {
    return r.Error(n["factor"], "'factor' only goes with action: slow");
  }
  return Status::Ok();
}

Result<Workload> Read(const Reader& r, const YAML::Node& root, const std::string& name) {
  Workload w;
  w.source = name;
  w.servers.clear();
  LBSIM_TRY(r.CheckMap(root, "the workload",
                       {"name", "description", "requests", "schedulers", "servers", "arrivals",
                        "clients", "linger", "events", "choices", "decay"}));
  LBSIM_TRY(r.String(root, "name", &w.name));
  LBSIM_TRY(r.String(root, "description", &w.description));
  LBSIM_TRY(r.Number(root, "requests", int64_t{1}, int64_t{1} << 40, &w.requests));
  if (const YAML::Node s = root["schedulers"]) {
    if (!s.IsSequence()) return r.Error(s, "schedulers: expected a list like [rr, wlc]");
    for (const auto& item : s) {
      auto names = Scheduler::Names();
      if (!item.IsScalar() || std::find(names.begin(), names.end(), item.Scalar()) == names.end()) {
        return r.Error(item, "unknown scheduler '" + item.Scalar() + "'");
      }
      w.schedulers.push_back(item.Scalar());
    }
  }
  const YAML::Node servers = root["servers"];
  if (!servers || !servers.IsSequence() || servers.size() == 0) {
    return r.Error(servers ? servers : root, "servers: expected a non-empty list");
  }
  for (size_t i = 0; i < servers.size(); ++i) {
    ServerSpec s;
    LBSIM_TRY(ReadServer(r, servers[i], i, &s));
    for (const ServerSpec& other : w.servers) {
      if (other.name == s.name) return r.Error(servers[i], "duplicate server name " + s.name);
      if (other.endpoint == s.endpoint) {
        return r.Error(servers[i], "duplicate address " + ToString(s.endpoint));
      }
    }
    w.servers.push_back(std::move(s));
  }
  LBSIM_TRY(r.Duration(root, "linger", &w.linger, /*allow_zero=*/true));
  LBSIM_TRY(r.Number(root, "choices", 1, 64, &w.choices));
  LBSIM_TRY(r.Duration(root, "decay", &w.decay));
  if (root["arrivals"]) LBSIM_TRY(ReadArrivals(r, root["arrivals"], &w.arrivals));
  if (root["clients"]) LBSIM_TRY(ReadClients(r, root["clients"], &w.clients));
  if (const YAML::Node events = root["events"]) {
    if (!events.IsSequence()) return r.Error(events, "events: expected a list");
    for (const auto& n : events) {
      Event e;
      LBSIM_TRY(ReadEvent(r, n, w.servers, &e));
      w.events.push_back(e);
    }
  }
  bool any_present = std::any_of(w.servers.begin(), w.servers.end(),
                                 [](const ServerSpec& s) { return s.present; });
  if (!any_present && w.arrivals.rate <= 0) {
    return r.Error(servers, "no server is present at the start: give arrivals.rate");
  }
  return w;
}

#undef LBSIM_TRY

}  // namespace

bool ParseDuration(const std::string& text, double* seconds) {
  double v = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [next, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || next == begin || !std::isfinite(v) || v < 0) return false;
  std::string_view unit(next, static_cast<size_t>(end - next));
  double scale;
  if (unit.empty() || unit == "s") {
    scale = 1;
  } else if (unit == "ms") {
    scale = 1e-3;
  } else if (unit == "us") {
    scale = 1e-6;
  } else if (unit == "m") {
    scale = 60;
  } else if (unit == "h") {
    scale = 3600;
  } else {
    return false;
  }
  *seconds = v * scale;
  return true;
}

Workload DefaultWorkload() {
  Workload w;
  w.name = "default";
  w.description =
      "six servers: two strong (weight 2, 8 slots), three standard (weight 1, 4 slots), one "
      "weighted like a standard one but 20% slower with heavy-tailed (lognormal) service; "
      "Poisson arrivals at load 0.7, Zipf(0.8) destinations; s3 fails at 40% of the run and "
      "returns at 70%";
  w.source = "built-in";
  w.requests = 200000;
  auto add = [&](int weight, int capacity, double mean, Dist dist) {
    ServerSpec s;
    size_t i = w.servers.size();
    s.name = "s" + std::to_string(i + 1);
    s.endpoint = Endpoint{0x0A000001u + static_cast<uint32_t>(i), 80};
    s.weight = weight;
    s.capacity = capacity;
    s.service = {dist, mean, 1.0};
    w.servers.push_back(s);
  };
  add(2, 8, 0.010, Dist::kExp);
  add(2, 8, 0.010, Dist::kExp);
  add(1, 4, 0.010, Dist::kExp);
  add(1, 4, 0.010, Dist::kExp);
  add(1, 4, 0.010, Dist::kExp);
  add(1, 4, 0.012, Dist::kLognormal);
  w.arrivals.load = 0.7;
  w.clients.zipf = 0.8;
  w.events.push_back({0, 0.4, EventKind::kFail, 2, 0});
  w.events.push_back({0, 0.7, EventKind::kRecover, 2, 0});
  return w;
}

Result<Workload> ParseWorkload(const std::string& text, const std::string& name) {
  Reader r(name);
  try {
    YAML::Node root = YAML::Load(text);
    if (!root || root.IsNull()) return Status::Error(name + ":1:1: the workload file is empty");
    return Read(r, root, name);
  } catch (const YAML::Exception& e) {
    return Status::Error(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                         std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

Result<Workload> LoadWorkload(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseWorkload(ss.str(), path);
}

}  // namespace lbd::lbsim
