// The simulator: determinism per seed, the properties every scheduler must
// show under simple workloads, and workload-file errors with their position.
#include "sim.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lbsched/scheduler.h"
#include "lru.h"
#include "random.h"
#include "workload.h"

namespace lbd::lbsim {
namespace {

Workload EqualServers(int n, int capacity, double load, int64_t requests) {
  Workload w;
  w.name = "test";
  w.requests = requests;
  for (int i = 0; i < n; ++i) {
    ServerSpec s;
    s.name = "s" + std::to_string(i + 1);
    s.endpoint = Endpoint{0x0A000001u + static_cast<uint32_t>(i), 80};
    s.capacity = capacity;
    s.service = {Dist::kExp, 0.010, 1.0};
    w.servers.push_back(s);
  }
  w.arrivals.load = load;
  return w;
}

SimResult RunSim(const Workload& w, const std::string& sched, uint64_t seed = 1) {
  SimOptions o;
  o.seed = seed;
  auto r = Simulate(w, sched, o);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : SimResult{};
}

// Everything but the wall-clock time.
void ExpectSameResult(const SimResult& a, const SimResult& b) {
  EXPECT_EQ(a.completed, b.completed);
  EXPECT_EQ(a.rejected, b.rejected);
  EXPECT_EQ(a.dropped, b.dropped);
  EXPECT_EQ(a.duration, b.duration);
  EXPECT_EQ(a.mean, b.mean);
  EXPECT_EQ(a.p99, b.p99);
  EXPECT_EQ(a.p999, b.p999);
  EXPECT_EQ(a.cdf, b.cdf);
  ASSERT_EQ(a.servers.size(), b.servers.size());
  for (size_t i = 0; i < a.servers.size(); ++i) {
    EXPECT_EQ(a.servers[i].assigned, b.servers[i].assigned);
    EXPECT_EQ(a.servers[i].utilisation, b.servers[i].utilisation);
  }
  ASSERT_EQ(a.remaps.size(), b.remaps.size());
  for (size_t i = 0; i < a.remaps.size(); ++i) EXPECT_EQ(a.remaps[i].moved, b.remaps[i].moved);
}

TEST(Simulation, SeededRunsAreIdentical) {
  Workload w = DefaultWorkload();
  w.requests = 20000;
  for (const char* sched : {"wlc", "lblcr", "mh", "rr", "random", "p2c", "ewma"}) {
    SCOPED_TRACE(sched);
    ExpectSameResult(RunSim(w, sched, 7), RunSim(w, sched, 7));
  }
  EXPECT_NE(RunSim(w, "wlc", 7).mean, RunSim(w, "wlc", 8).mean);
}

TEST(Simulation, EveryRequestIsAccountedFor) {
  Workload w = DefaultWorkload();
  w.requests = 20000;
  for (std::string_view sched : Scheduler::Names()) {
    SCOPED_TRACE(sched);
    SimResult r = RunSim(w, std::string(sched));
    EXPECT_EQ(r.completed + r.rejected + r.dropped, w.requests);
    int64_t assigned = 0;
    for (const ServerResult& s : r.servers) assigned += s.assigned;
    EXPECT_EQ(assigned, w.requests - r.rejected);
  }
}

// A latency spike (`slow` event): ewma, fed each response time, sends the
// slow server less than wlc does, and both less than random.
TEST(Simulation, EwmaShiftsAwayFromASlowServerMoreThanWlc) {
  Workload w = EqualServers(4, 4, 0.6, 60000);
  w.decay = 1;
  w.events.push_back({0, 0.3, EventKind::kSlow, 1, 0, 10});
  w.events.push_back({0, 0.7, EventKind::kSlow, 1, 0, 1});
  const double ewma = RunSim(w, "ewma").servers[1].share;
  const double wlc = RunSim(w, "wlc").servers[1].share;
  const double random = RunSim(w, "random").servers[1].share;
  EXPECT_LT(ewma, wlc);
  EXPECT_LT(wlc, random);
  SimResult r = RunSim(w, "ewma");
  ASSERT_EQ(r.remaps.size(), 2u);
  EXPECT_EQ(r.remaps[0].what, "slow s2 x10");
}

TEST(Simulation, RrSharesAreEqualOnEqualServers) {
  SimResult r = RunSim(EqualServers(4, 2, 0.7, 40000), "rr");
  for (const ServerResult& s : r.servers) EXPECT_EQ(s.assigned, 10000) << s.name;
}

TEST(Simulation, WrrSharesFollowWeights) {
  Workload w = EqualServers(4, 8, 0.5, 50000);
  for (int i = 0; i < 4; ++i) w.servers[static_cast<size_t>(i)].weight = i + 1;
  SimResult r = RunSim(w, "wrr");
  for (int i = 0; i < 4; ++i) {
    // One wrr cycle is 10 picks, so shares are exact to within a cycle.
    EXPECT_NEAR(r.servers[static_cast<size_t>(i)].share, (i + 1) / 10.0, 1e-3);
  }
}

TEST(Simulation, MhMovesAboutOneNthWhenOneOfNFails) {
  constexpr int kN = 10;
  Workload w = EqualServers(kN, 4, 0.5, 20000);
  w.clients.sources = 20000;
  w.events.push_back({0, 0.5, EventKind::kFail, 3, 0});
  SimResult r = RunSim(w, "mh");
  ASSERT_EQ(r.remaps.size(), 1u);
  EXPECT_NEAR(r.remaps[0].moved, 1.0 / kN, 0.02);
  EXPECT_EQ(r.remaps[0].unserved, 0.0);
  EXPECT_EQ(r.rejected, 0);
  // The failed server's flows move to the others: it served only the first
  // half of the run (1/N of it), and each of the other N - 1 grows by at most
  // its part of the second half's 1/N, (1/N) / 2 / (N - 1), plus the noise of
  // hashing 20000 sources (measured with seed 1: within 0.007 of the formula).
  const double fair = 1.0 / kN;
  ASSERT_EQ(r.servers.size(), static_cast<size_t>(kN));
  for (int i = 0; i < kN; ++i) {
    const ServerResult& s = r.servers[static_cast<size_t>(i)];
    if (i == 3) {
      EXPECT_NEAR(s.share, fair / 2, 0.01) << s.name;
    } else {
      EXPECT_LT(s.share, fair + fair / 2 / (kN - 1) + 0.01) << s.name;
      EXPECT_GT(s.share, fair - 0.01) << s.name;
    }
  }
}

TEST(Simulation, ShWithoutFallbackLeavesTheFailedServersBucketsUnserved) {
  Workload w = EqualServers(4, 4, 0.5, 20000);
  w.events.push_back({0, 0.5, EventKind::kFail, 0, 0});
  SimResult r = RunSim(w, "sh");
  ASSERT_EQ(r.remaps.size(), 1u);
  EXPECT_NEAR(r.remaps[0].unserved, 0.25, 0.03);
  EXPECT_GT(r.rejected, 0);
}

TEST(Simulation, NqNeverQueuesWhileAServerIsIdle) {
  Workload w = EqualServers(5, 1, 0.9, 50000);
  w.servers[0].service.mean = 0.030;  // one slow server makes rr queue needlessly
  EXPECT_EQ(RunSim(w, "nq").queued_while_idle, 0);
  EXPECT_GT(RunSim(w, "rr").queued_while_idle, 0);
}

TEST(Simulation, LocalitySchedulersHitTheCacheMoreThanWlc) {
  Workload w = EqualServers(4, 4, 0.6, 40000);
  w.clients.destinations = 2000;
  w.clients.zipf = 0.8;
  for (ServerSpec& s : w.servers) {
    s.cache_size = 400;
    s.hit = 0.002;
    s.miss = 0.020;
  }
  const double wlc = RunSim(w, "wlc").hit_rate;
  EXPECT_GT(RunSim(w, "lblc").hit_rate, wlc + 0.1);
  EXPECT_GT(RunSim(w, "dh").hit_rate, wlc + 0.1);
}

TEST(Simulation, BurstsKeepTheMeanRate) {
  Workload w = EqualServers(4, 8, 0.5, 40000);
  w.arrivals.kind = ArrivalKind::kBursts;
  w.arrivals.on = 0.2;
  w.arrivals.off = 0.8;
  w.arrivals.peak = 3;
  SimResult bursty = RunSim(w, "wlc");
  w.arrivals.kind = ArrivalKind::kPoisson;
  SimResult poisson = RunSim(w, "wlc");
  EXPECT_NEAR(bursty.duration / poisson.duration, 1.0, 0.05);
  EXPECT_GT(bursty.p99, poisson.p99);
}

TEST(Simulation, LingeringConnectionsCountInactive) {
  // With TIME_WAIT-like lingering, lc counts inactive connections and sed
  // ignores them: on a fast and a slow server of equal weight lc spreads
  // connections more evenly (closer to 50/50) than sed.
  Workload w = EqualServers(2, 4, 0.5, 20000);
  w.servers[1].service.mean = 0.030;
  w.linger = 5;
  const double lc = RunSim(w, "lc").servers[1].share;
  const double sed = RunSim(w, "sed").servers[1].share;
  EXPECT_GT(lc, sed + 0.05);
  SimResult r = RunSim(w, "lc");
  EXPECT_EQ(r.completed, 20000);
}

TEST(Simulation, ServerAddedLaterGetsTraffic) {
  Workload w = EqualServers(3, 4, 0.5, 30000);
  w.servers[2].present = false;
  w.events.push_back({0, 0.5, EventKind::kAdd, 2, 0});
  SimResult r = RunSim(w, "rr");
  EXPECT_GT(r.servers[2].assigned, 4000);
  EXPECT_LT(r.servers[2].assigned, 6000);
}

TEST(Lru, EvictsTheLeastRecentlyUsed) {
  Lru lru(2);
  EXPECT_FALSE(lru.Touch(1));
  EXPECT_FALSE(lru.Touch(2));
  EXPECT_TRUE(lru.Touch(1));   // order now 1, 2
  EXPECT_FALSE(lru.Touch(3));  // evicts 2
  EXPECT_TRUE(lru.Touch(1));
  EXPECT_FALSE(lru.Touch(2));  // evicts 3
  EXPECT_FALSE(lru.Touch(3));  // evicts 1
  EXPECT_TRUE(lru.Touch(2));
  lru.Clear();
  EXPECT_FALSE(lru.Touch(2));
}

TEST(Random, SameSeedSameNumbersAndZipfFollowsItsLaw) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    EXPECT_NE(x, c.Next());
  }
  Popularity zipf(10, 1.0);
  std::vector<int> hits(10, 0);
  Rng r(1);
  for (int i = 0; i < 200000; ++i) ++hits[zipf.Sample(r.Uniform())];
  // P(i) = (1 / (i + 1)) / H(10), H(10) = 2.929: P(0) = 0.341, P(1) / P(0) = 1/2.
  EXPECT_NEAR(hits[0] / 200000.0, 0.341, 0.01);
  EXPECT_NEAR(static_cast<double>(hits[1]) / hits[0], 0.5, 0.02);
  Popularity uniform(4, 0.0);
  EXPECT_EQ(uniform.Sample(0.0), 0u);
  EXPECT_EQ(uniform.Sample(0.999999), 3u);
}

// Workload files.

std::string ParseError(const std::string& yaml) {
  auto w = ParseWorkload(yaml, "w.yaml");
  return w.ok() ? "OK" : w.status().message();
}

TEST(WorkloadFile, ParsesAFullFile) {
  auto w = ParseWorkload(R"(
name: t
requests: 1000
schedulers: [rr, wlc]
arrivals: {type: bursts, load: 0.5, on: 100ms, off: 1s, peak: 4}
clients: {sources: 10, destinations: 20, zipf: 1.1}
servers:
  - {name: a, weight: 3, capacity: 2, service: {dist: lognormal, mean: 5ms, sigma: 0.5}}
  - {name: b, address: 10.9.9.9:8080, cache: {size: 10, hit: 1ms, miss: 30ms}, present: false}
events:
  - {at: 50%, action: add, server: b}
  - {at: 2s, action: weight, server: a, weight: 1}
)",
                         "w.yaml");
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->schedulers, (std::vector<std::string>{"rr", "wlc"}));
  EXPECT_EQ(w->servers[1].endpoint.port, 8080);
  EXPECT_EQ(w->servers[0].service.dist, Dist::kLognormal);
  EXPECT_DOUBLE_EQ(w->servers[0].service.mean, 0.005);
  EXPECT_DOUBLE_EQ(w->events[0].at_fraction, 0.5);
  EXPECT_DOUBLE_EQ(w->events[1].at, 2.0);
  EXPECT_EQ(w->events[1].weight, 1);
  EXPECT_FALSE(w->servers[1].present);
  EXPECT_EQ(w->arrivals.kind, ArrivalKind::kBursts);
}

TEST(WorkloadFile, ErrorsNameFileLineAndColumn) {
  EXPECT_EQ(ParseError("servers:\n  - {name: a}\nfoo: 1\n"),
            "w.yaml:3:1: unknown key 'foo' in the workload (expected name, description, "
            "requests, schedulers, servers, arrivals, clients, linger, events, choices, "
            "decay)");
  EXPECT_EQ(ParseError("servers:\n  - {name: a, weight: 70000}\n").rfind("w.yaml:2:", 0), 0u);
  EXPECT_EQ(
      ParseError("servers:\n  - name: a\n    service: {dist: pareto}\n").rfind("w.yaml:3:", 0), 0u);
  EXPECT_EQ(ParseError("servers:\n  - {name: a}\nevents:\n  - {at: 1s, action: fail, server: z}\n")
                .rfind("w.yaml:4:", 0),
            0u);
  EXPECT_EQ(ParseError("servers:\n  - {name: a, service: {mean: fast}}\n").rfind("w.yaml:2:", 0),
            0u);
  EXPECT_EQ(ParseError("servers: [\n").rfind("w.yaml:", 0), 0u);  // YAML syntax error
  EXPECT_EQ(ParseError("servers:\n  - {name: a}\n  - {name: a}\n").rfind("w.yaml:3:", 0), 0u);
  EXPECT_EQ(ParseError("servers:\n  - {name: a, cache: {hit: 1ms}}\n").rfind("w.yaml:2:", 0), 0u);
  EXPECT_EQ(ParseError("schedulers: [rr, fifo]\nservers:\n  - {name: a}\n").rfind("w.yaml:1:", 0),
            0u);
  EXPECT_EQ(ParseError("name: x\n").rfind("w.yaml:1:", 0), 0u);  // no servers
  EXPECT_EQ(ParseError(""), "w.yaml:1:1: the workload file is empty");
}

TEST(WorkloadFile, BundledWorkloadsLoadAndRun) {
  DIR* d = ::opendir(LBD_WORKLOADS_DIR);
  ASSERT_NE(d, nullptr);
  int files = 0;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 5 || name.substr(name.size() - 5) != ".yaml") continue;
    ++files;
    SCOPED_TRACE(name);
    auto w = LoadWorkload(std::string(LBD_WORKLOADS_DIR) + "/" + name);
    ASSERT_TRUE(w.ok()) << w.status().message();
    w->requests = 3000;
    for (const std::string& sched : w->schedulers) RunSim(*w, sched);
  }
  ::closedir(d);
  EXPECT_GE(files, 3);
}

}  // namespace
}  // namespace lbd::lbsim
