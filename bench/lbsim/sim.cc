#include "sim.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <memory>
#include <numbers>
#include <optional>
#include <queue>
#include <unordered_map>

#include "lbsched/service.h"
#include "lru.h"
#include "random.h"

namespace lbd::lbsim {
namespace {

constexpr uint32_t kSourceBase = 0x0B000001;  // 11.0.0.1
constexpr uint32_t kDestBase = 0x64400001;    // 100.64.0.1
constexpr uint16_t kDestPort = 80;
constexpr size_t kProbeFlows = 20000;

// The scheduler's clock is simulated time.
class SimClock final : public Clock {
 public:
  std::chrono::nanoseconds Now() const override { return now_; }
  void Set(double seconds) { now_ = std::chrono::nanoseconds(std::llround(seconds * 1e9)); }

 private:
  std::chrono::nanoseconds now_{0};
};

struct Request {
  double arrival = 0;
  uint32_t source = 0;  // index
  uint32_t dest = 0;    // index
  uint16_t port = 0;
  double u1 = 0, u2 = 0;  // the request's intrinsic size
};

double MeanRate(const Workload& w) {
  if (w.arrivals.rate > 0) return w.arrivals.rate;
  double capacity = 0;
  for (const ServerSpec& s : w.servers) {
    if (s.present && s.weight > 0) capacity += s.capacity / s.NominalMean();
  }
  return w.arrivals.load * capacity;
}

// The request stream: identical for every scheduler under one seed.
class RequestStream {
 public:
  RequestStream(const Workload& w, uint64_t seed)
      : a_(w.arrivals),
        rate_(MeanRate(w)),
        rng_(seed),
        sources_(w.clients.sources, w.clients.source_zipf),
        dests_(w.clients.destinations, w.clients.zipf) {
    if (a_.kind == ArrivalKind::kBursts) {
      on_rate_ = rate_ * a_.peak;
      off_rate_ = std::max(0.0, (rate_ * (a_.on + a_.off) - on_rate_ * a_.on) / a_.off);
      phase_end_ = a_.on;
    }
  }

  Request Next() {
    Request r;
    t_ = NextTime(t_);
    r.arrival = t_;
    r.source = sources_.Sample(rng_.Uniform());
    r.dest = dests_.Sample(rng_.Uniform());
    r.port = static_cast<uint16_t>(1024 + (rng_.Next() >> 32) % 64512);
    r.u1 = rng_.Uniform();
    r.u2 = rng_.Uniform();
    return r;
  }

 private:
  double NextTime(double t) {
    if (a_.kind == ArrivalKind::kPoisson) return t - std::log1p(-rng_.Uniform()) / rate_;
    // Piecewise-constant rate: exponential gaps are memoryless, so a gap that
    // crosses a phase boundary restarts at the boundary with the new rate.
    // The phase is state, not recomputed from t, so rounding cannot stall it.
    while (true) {
      const double r = on_ ? on_rate_ : off_rate_;
      if (r > 0) {
        const double next = t - std::log1p(-rng_.Uniform()) / r;
        if (next < phase_end_) return next;
      }
      t = phase_end_;
      on_ = !on_;
      phase_end_ += on_ ? a_.on : a_.off;
    }
  }

  const lbsim::Arrivals& a_;
  const double rate_;
  double on_rate_ = 0, off_rate_ = 0;
  bool on_ = true;        // bursts: in an "on" phase
  double phase_end_ = 0;  // bursts: when the current phase ends
  Rng rng_;
  Popularity sources_;
  Popularity dests_;
  double t_ = 0;
};

double ServiceTimeOf(Dist dist, double mean, double sigma, double u1, double u2) {
  switch (dist) {
    case Dist::kConst:
      return mean;
    case Dist::kExp:
      return -mean * std::log1p(-u1);
    case Dist::kLognormal: {
      // Box-Muller; mu chosen so that the mean is `mean`.
      const double z = std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2.0 * std::numbers::pi * u2);
      return std::exp(std::log(mean) - sigma * sigma / 2 + sigma * z);
    }
  }
  return mean;
}

struct Server {
  const ServerSpec* spec = nullptr;
  std::shared_ptr<RealServer> rs;
  bool member = false;  // in the service's list
  bool ever_member = false;
  int busy = 0;
  uint32_t generation = 0;  // bumped on failure: older completions are void
  std::deque<Request> queue;
  std::optional<Lru> cache;
  int64_t assigned = 0, hits = 0, misses = 0;
  double busy_time = 0;
  double slowdown = 1;  // `slow` events
};

// A request leaving service, or (linger) its connection leaving TIME_WAIT.
struct Completion {
  double t;
  uint32_t server;
  uint32_t generation;
  double arrival;
  bool linger_end = false;
  bool operator>(const Completion& o) const {
    if (t != o.t) return t > o.t;
    if (server != o.server) return server > o.server;
    return linger_end < o.linger_end;
  }
};

bool IsHashing(const std::string& name) {
  return name == "sh" || name == "dh" || name == "mh" || name == "rendezvous";
}

class Simulation {
 public:
  Simulation(const Workload& w, std::string scheduler, const SimOptions& o)
      : w_(w), sched_(std::move(scheduler)), o_(o), arrivals_(w, o.seed) {
    requests_ = o.requests > 0 ? o.requests : w.requests;
  }

  Result<SimResult> Run() {
    const auto wall_start = std::chrono::steady_clock::now();
    SchedulerOptions so;
    so.clock = &clock_;
    // The scheduler's own stream, seeded from the run's seed but not equal to
    // the request stream (the same xoshiro state would correlate the two).
    so.random_seed = o_.seed ^ 0x5C4ED01AB53C0DE5ULL;
    if (sched_ == "p2c" || sched_ == "ewma") so.choices = w_.choices;
    so.ewma_decay = std::chrono::nanoseconds(std::llround(w_.decay * 1e9));
    auto svc = Service::Create(sched_, so);
    if (!svc.ok()) return svc.status();
    svc_ = std::move(svc).value();
    servers_.resize(w_.servers.size());
    for (size_t i = 0; i < servers_.size(); ++i) {
      Server& s = servers_[i];
      s.spec = &w_.servers[i];
      if (s.spec->cache_size > 0) s.cache.emplace(static_cast<size_t>(s.spec->cache_size));
      if (s.spec->present) {
        if (Status st = Add(i); !st.ok()) return st;
      }
    }
    const double expected = ExpectedDuration(w_, requests_);
    std::vector<Event> events = w_.events;
    for (Event& e : events) {
      if (e.at_fraction >= 0) e.at = e.at_fraction * expected;
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) { return a.at < b.at; });
    if (IsHashing(sched_)) BuildProbes();

    rts_.reserve(static_cast<size_t>(requests_));
    arrival_of_rt_.reserve(static_cast<size_t>(requests_));
    int64_t issued = 0;
    size_t next_event = 0;
    Request next = arrivals_.Next();
    const int64_t progress_every = std::max<int64_t>(1, requests_ / 50);
    while (issued < requests_ || !heap_.empty()) {
      const double t_arrival = issued < requests_ ? next.arrival : INFINITY;
      const double t_done = heap_.empty() ? INFINITY : heap_.top().t;
      const double t_event = next_event < events.size() ? events[next_event].at : INFINITY;
      if (t_done <= t_event && t_done <= t_arrival) {
        Completion c = heap_.top();
        heap_.pop();
        OnCompletion(c);
      } else if (t_event <= t_arrival) {
        if (Status st = OnEvent(events[next_event++]); !st.ok()) return st;
      } else {
        OnArrival(next);
        if (++issued < requests_) next = arrivals_.Next();
        if (o_.progress && issued % progress_every == 0) {
          o_.progress(static_cast<double>(issued) / static_cast<double>(requests_));
        }
      }
    }
    SimResult r = Summarize();
    r.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    return r;
  }

 private:
  Status Add(size_t i) {
    Server& s = servers_[i];
    if (s.member) return Status::Ok();
    auto rs = svc_->AddServer(s.spec->endpoint, {.weight = s.spec->weight});
    if (!rs.ok()) return rs.status();
    s.rs = std::move(rs).value();
    s.member = s.ever_member = true;
    index_of_[s.rs.get()] = static_cast<uint32_t>(i);
    return Status::Ok();
  }

  Flow FlowOf(uint32_t source, uint32_t dest, uint16_t port) const {
    return Flow{{kSourceBase + source, port}, {kDestBase + dest, kDestPort}};
  }

  void BuildProbes() {
    const size_t n = std::min<size_t>(
        kProbeFlows, static_cast<size_t>(std::max(w_.clients.sources, w_.clients.destinations)));
    for (size_t i = 0; i < n; ++i) {
      probes_.push_back(
          FlowOf(static_cast<uint32_t>(i % static_cast<size_t>(w_.clients.sources)),
                 static_cast<uint32_t>(i % static_cast<size_t>(w_.clients.destinations)),
                 static_cast<uint16_t>(1024 + i % 64512)));
    }
  }

  std::vector<const RealServer*> Probe() {
    std::vector<const RealServer*> out;
    out.reserve(probes_.size());
    for (const Flow& f : probes_) out.push_back(svc_->Pick(f).get());
    return out;
  }

  void StartService(uint32_t i, const Request& req, double now) {
    Server& s = servers_[i];
    const ServerSpec& spec = *s.spec;
    double mean = spec.service.mean;
    if (s.cache) {
      if (s.cache->Touch(req.dest)) {
        ++s.hits;
        mean = spec.hit;
      } else {
        ++s.misses;
        mean = spec.miss;
      }
    }
    const double st =
        s.slowdown * ServiceTimeOf(spec.service.dist, mean, spec.service.sigma, req.u1, req.u2);
    ++s.busy;
    s.busy_time += st;
    heap_.push({now + st, i, s.generation, req.arrival, /*linger_end=*/false});
  }

  void OnArrival(const Request& req) {
    const double now = req.arrival;
    clock_.Set(now);
    std::shared_ptr<RealServer> rs = svc_->Pick(FlowOf(req.source, req.dest, req.port));
    if (rs == nullptr) {
      ++rejected_;
      return;
    }
    const uint32_t i = index_of_.at(rs.get());
    Server& s = servers_[i];
    rs->ConnectionOpened(/*active=*/true);
    ++s.assigned;
    if (s.busy < s.spec->capacity) {
      StartService(i, req, now);
      return;
    }
    for (const Server& other : servers_) {
      if (&other != &s && other.member && other.rs->weight() > 0 && !other.rs->overloaded() &&
          other.rs->active() == 0) {
        ++queued_while_idle_;
        break;
      }
    }
    s.queue.push_back(req);
  }

  void OnCompletion(const Completion& c) {
    Server& s = servers_[c.server];
    if (c.linger_end) {
      s.rs->ConnectionClosed(/*was_active=*/false);
      return;
    }
    if (c.generation != s.generation) return;  // lost in a failure, already counted
    --s.busy;
    // The latency signal (ewma): this model's time to the server's first byte
    // is the whole response time, queueing included.
    clock_.Set(c.t);
    s.rs->ReportLatency(std::chrono::nanoseconds(std::llround((c.t - c.arrival) * 1e9)));
    if (w_.linger > 0) {
      // The connection closes but stays counted inactive (TIME_WAIT) a while.
      s.rs->ConnectionDeactivated();
      heap_.push({c.t + w_.linger, c.server, s.generation, c.arrival, /*linger_end=*/true});
    } else {
      s.rs->ConnectionClosed(/*was_active=*/true);
    }
    rts_.push_back(static_cast<float>(c.t - c.arrival));
    arrival_of_rt_.push_back(static_cast<float>(c.arrival));
    last_completion_ = c.t;
    if (!s.queue.empty()) {
      Request req = s.queue.front();
      s.queue.pop_front();
      StartService(c.server, req, c.t);
    }
  }

  Status OnEvent(const Event& e) {
    clock_.Set(e.at);
    Server& s = servers_[e.server];
    static constexpr const char* kNames[] = {"fail", "recover", "weight", "add", "remove", "slow"};
    RemapResult remap;
    remap.at = e.at;
    remap.what = std::string(kNames[static_cast<int>(e.kind)]) + " " + s.spec->name;
    if (e.kind == EventKind::kWeight) remap.what += " to " + std::to_string(e.weight);
    if (e.kind == EventKind::kSlow) {
      char factor[32];
      std::snprintf(factor, sizeof factor, " x%g", e.factor);
      remap.what += factor;
    }
    std::vector<const RealServer*> before;
    if (!probes_.empty()) before = Probe();
    Status st;
    switch (e.kind) {
      case EventKind::kFail:
        if (s.member) {
          st = svc_->SetUp(s.spec->endpoint, false);
          // The server's connections are lost, its cache is cold when it returns.
          for (int k = 0; k < s.busy + static_cast<int>(s.queue.size()); ++k) {
            s.rs->ConnectionClosed(/*was_active=*/true);
          }
          dropped_ += s.busy + static_cast<int64_t>(s.queue.size());
          s.busy = 0;
          s.queue.clear();
          ++s.generation;
          if (s.cache) s.cache->Clear();
        }
        break;
      case EventKind::kRecover:
        if (s.member) st = svc_->SetUp(s.spec->endpoint, true);
        break;
      case EventKind::kWeight:
        if (s.member) st = svc_->SetWeight(s.spec->endpoint, e.weight);
        break;
      case EventKind::kAdd:
        st = Add(e.server);
        break;
      case EventKind::kSlow:
        s.slowdown = e.factor;  // requests already in service keep their time
        break;
      case EventKind::kRemove:
        // Removed, its connections drain (completions still reach its counters).
        if (s.member) {
          st = svc_->RemoveServer(s.spec->endpoint);
          s.member = false;
        }
        break;
    }
    if (!st.ok()) return st;
    if (!probes_.empty()) {
      std::vector<const RealServer*> after = Probe();
      size_t moved = 0, unserved = 0;
      for (size_t k = 0; k < after.size(); ++k) {
        moved += before[k] != after[k] ? 1 : 0;
        unserved += after[k] == nullptr ? 1 : 0;
      }
      remap.moved = static_cast<double>(moved) / static_cast<double>(after.size());
      remap.unserved = static_cast<double>(unserved) / static_cast<double>(after.size());
    }
    remaps_.push_back(remap);
    return Status::Ok();
  }

  SimResult Summarize() {
    SimResult r;
    r.scheduler = sched_;
    r.requests = requests_;
    r.completed = static_cast<int64_t>(rts_.size());
    r.rejected = rejected_;
    r.dropped = dropped_;
    r.queued_while_idle = queued_while_idle_;
    r.duration = last_completion_;
    r.throughput = r.duration > 0 ? static_cast<double>(r.completed) / r.duration : 0;
    r.remaps = remaps_;
    int64_t total_assigned = 0;
    int64_t hits = 0, misses = 0;
    bool any_cache = false;
    for (const Server& s : servers_) {
      total_assigned += s.assigned;
      hits += s.hits;
      misses += s.misses;
      any_cache = any_cache || s.cache.has_value();
    }
    double util_sum = 0, util_max = 0;
    int util_n = 0;
    for (const Server& s : servers_) {
      ServerResult sr;
      sr.name = s.spec->name;
      sr.weight = s.spec->weight;
      sr.capacity = s.spec->capacity;
      sr.assigned = s.assigned;
      sr.share = total_assigned > 0 ? static_cast<double>(s.assigned) / total_assigned : 0;
      sr.utilisation = r.duration > 0 ? s.busy_time / (s.spec->capacity * r.duration) : 0;
      sr.hits = s.hits;
      sr.misses = s.misses;
      if (s.ever_member) {
        util_sum += sr.utilisation;
        util_max = std::max(util_max, sr.utilisation);
        ++util_n;
      }
      r.servers.push_back(sr);
    }
    r.imbalance = util_sum > 0 ? util_max / (util_sum / util_n) : 0;
    if (any_cache && hits + misses > 0) r.hit_rate = static_cast<double>(hits) / (hits + misses);

    // Timeline, by arrival time, before rts_ is sorted.
    const int windows = std::max(1, o_.timeline_windows);
    double t_max = 0;
    for (float a : arrival_of_rt_) t_max = std::max(t_max, static_cast<double>(a));
    const double width = t_max > 0 ? t_max / windows : 1;
    std::vector<std::vector<float>> per(static_cast<size_t>(windows));
    for (size_t k = 0; k < rts_.size(); ++k) {
      auto wdx = std::min<size_t>(static_cast<size_t>(arrival_of_rt_[k] / width),
                                  static_cast<size_t>(windows - 1));
      per[wdx].push_back(rts_[k]);
    }
    for (int k = 0; k < windows; ++k) {
      auto& v = per[static_cast<size_t>(k)];
      TimelinePoint p;
      p.t = k * width;
      p.count = static_cast<int64_t>(v.size());
      if (!v.empty()) {
        double sum = 0;
        for (float x : v) sum += x;
        p.mean = sum / static_cast<double>(v.size());
        auto nth = v.begin() + static_cast<ptrdiff_t>(std::min(v.size() - 1, v.size() * 99 / 100));
        std::nth_element(v.begin(), nth, v.end());
        p.p99 = *nth;
      }
      r.timeline.push_back(p);
    }

    if (!rts_.empty()) {
      double sum = 0;
      for (float x : rts_) sum += x;
      r.mean = sum / static_cast<double>(rts_.size());
      std::sort(rts_.begin(), rts_.end());
      auto q = [&](double p) {
        size_t k =
            std::min(rts_.size() - 1, static_cast<size_t>(p * static_cast<double>(rts_.size())));
        return static_cast<double>(rts_[k]);
      };
      r.p50 = q(0.5);
      r.p99 = q(0.99);
      r.p999 = q(0.999);
      r.max = rts_.back();
      const int points = std::max(2, o_.cdf_points);
      for (int k = 0; k < points; ++k) r.cdf.push_back(q(static_cast<double>(k) / (points - 1)));
    }
    return r;
  }

  const Workload& w_;
  const std::string sched_;
  const SimOptions& o_;
  int64_t requests_ = 0;
  RequestStream arrivals_;
  SimClock clock_;
  std::unique_ptr<Service> svc_;
  std::vector<Server> servers_;
  std::unordered_map<const RealServer*, uint32_t> index_of_;
  std::priority_queue<Completion, std::vector<Completion>, std::greater<>> heap_;
  std::vector<Flow> probes_;
  std::vector<RemapResult> remaps_;
  std::vector<float> rts_;
  std::vector<float> arrival_of_rt_;
  int64_t rejected_ = 0, dropped_ = 0, queued_while_idle_ = 0;
  double last_completion_ = 0;
};

}  // namespace

double ExpectedDuration(const Workload& w, int64_t requests) {
  const double rate = MeanRate(w);
  return rate > 0 ? static_cast<double>(requests) / rate : 0;
}

Result<SimResult> Simulate(const Workload& workload, const std::string& scheduler,
                           const SimOptions& options) {
  Simulation sim(workload, scheduler, options);
  return sim.Run();
}

}  // namespace lbd::lbsim
