// sched_bench: the cost of Service::Pick for every scheduler, at 8, 64, 1024
// and 10000 real servers, from 1 and 2 threads, and the memory a service and
// its scheduler state hold.
//
// Setup per (scheduler, size): random weights 1..10 and random counters
// (active 1..50, inactive 0..199, so nq never meets an idle server and lblc's
// overload test scans), 16384 precomputed flows with distinct source and
// destination addresses (sh/mh hash the source, dh/lblc/lblcr the
// destination), all flows picked once before timing so that the lblc/lblcr
// tables are warm. Counters do not change while timing: this is the pick
// alone (the spin lock, the algorithm, the shared_ptr copy), not the
// accounting around it.
//
// Counters (constant per run):
//   B/server  live heap bytes of the whole service (servers, list, scheduler
//             state) divided by the number of servers;
//   sched_B   live heap bytes of the scheduler object and its state alone
//             (sh/dh: 256 bucket pointers; mh: 65537 4-byte entries plus a
//             pointer per server; lblc/lblcr: the destination table after the
//             16384-destination warm-up).
// items_per_second is the aggregate rate over all threads in wall time.
//
// PickContended/NAME/64: as Pick, from 1, 2, 4 and 8 threads on one service
// of 64 servers, to see how the service lock behaves when the threads
// outnumber the cores (2 on the reference machine).
//
// PickWhileUpdating/NAME/SERVERS/KIND: one thread picks on a service of NAME
// (mh or wrr, weights 1..10) while a second thread changes it without pause:
// KIND 0 sets a weight (cycling over the servers; each visit gives a server
// the next of the weights 1..10, so every update changes the table), KIND 1
// removes a server and adds it back. Counters: max_us, the longest single
// pick seen, and p99_us / p999_us, the 99th and 99.9th percentiles of the
// pick time (each pick is timed with steady_clock into a histogram of 4
// buckets per octave; a percentile is its bucket's upper bound; the timing
// adds ~40 ns to every iteration, in the mean as well); upd/s, updates
// completed per second of the run. A pick preempted by the OS counts as a
// slow pick too: compare these on a quiet machine.
//
// LocalityFlood/NAME/DESTS: lblc or lblcr fed DESTS distinct destination
// addresses, one pick each, on a fake clock advancing 1 ms per pick (a flood
// of 1000 new destinations a second, spanning DESTS/1000 seconds), with the
// default options. Counters: entries, the destinations the table still
// remembers at the end; table_B, the live heap bytes of the scheduler;
// B/entry, their quotient.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lbsched/service.h"

// Live heap bytes, counted by replacing the global operator new/delete. Only
// read around setup; the timed picks do not allocate.
namespace {
std::atomic<int64_t> g_live_bytes{0};

void* Allocate(size_t n, size_t align) {
  void* p = align <= alignof(std::max_align_t)
                ? std::malloc(n == 0 ? 1 : n)
                : std::aligned_alloc(align, (n + align - 1) / align * align);
  if (p == nullptr) throw std::bad_alloc();
  g_live_bytes.fetch_add(static_cast<int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  return p;
}
void Release(void* p) noexcept {
  if (p == nullptr) return;
  g_live_bytes.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  std::free(p);
}
}  // namespace

void* operator new(size_t n) { return Allocate(n, 0); }
void* operator new[](size_t n) { return Allocate(n, 0); }
void* operator new(size_t n, std::align_val_t a) { return Allocate(n, static_cast<size_t>(a)); }
void* operator new[](size_t n, std::align_val_t a) { return Allocate(n, static_cast<size_t>(a)); }
void operator delete(void* p) noexcept { Release(p); }
void operator delete[](void* p) noexcept { Release(p); }
void operator delete(void* p, size_t) noexcept { Release(p); }
void operator delete[](void* p, size_t) noexcept { Release(p); }
void operator delete(void* p, std::align_val_t) noexcept { Release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { Release(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { Release(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { Release(p); }

namespace lbd {
namespace {

constexpr size_t kFlows = 16384;  // a power of two
constexpr int kSizes[] = {8, 64, 1024, 10000};

const std::vector<Flow>& Flows() {
  static const std::vector<Flow> flows = [] {
    std::mt19937 rng(2024);
    std::vector<Flow> f(kFlows);
    for (Flow& x : f) {
      x.source = {static_cast<uint32_t>(rng()), static_cast<uint16_t>(1024 + rng() % 60000)};
      x.destination = {0xC6000000u | (static_cast<uint32_t>(rng()) & 0xFFFFFu), 80};
    }
    return f;
  }();
  return flows;
}

struct Fixture {
  std::unique_ptr<Service> service;
  double bytes_per_server = 0;
  double scheduler_bytes = 0;
};

// One service per (scheduler, size), built once and shared by the 1- and
// 2-thread runs.
Fixture& Get(const std::string& name, int n) {
  static std::mutex mu;
  static std::map<std::pair<std::string, int>, Fixture> fixtures;
  std::lock_guard<std::mutex> lock(mu);
  Fixture& fx = fixtures[{name, n}];
  if (fx.service) return fx;
  Flows();
  const int64_t before = g_live_bytes.load();
  // Built under rr, then switched: one table build instead of n.
  fx.service = std::move(Service::Create("rr")).value();
  std::mt19937 rng(static_cast<uint32_t>(n));
  for (int i = 0; i < n; ++i) {
    Endpoint ep{0x0A000000u + static_cast<uint32_t>(i), 8080};
    auto rs = fx.service->AddServer(ep, {.weight = 1 + static_cast<int>(rng() % 10)});
    rs.value()->SetCounters(1 + static_cast<int>(rng() % 50), static_cast<int>(rng() % 200));
  }
  if (!fx.service->SetScheduler(name, {}).ok()) std::abort();
  for (const Flow& f : Flows()) benchmark::DoNotOptimize(fx.service->Pick(f));
  fx.bytes_per_server = static_cast<double>(g_live_bytes.load() - before) / n;
  // The scheduler state alone: a second instance on the same list, warmed up
  // the same way, measured and dropped.
  const ServerList list = fx.service->Servers();
  const int64_t before_sched = g_live_bytes.load();
  {
    auto sched = std::move(Scheduler::Create(name, {})).value();
    sched->OnServersChanged(list, {ServerChange::Kind::kUpdated, 0});
    for (const Flow& f : Flows()) benchmark::DoNotOptimize(sched->Pick(list, f));
    fx.scheduler_bytes = static_cast<double>(g_live_bytes.load() - before_sched);
  }
  return fx;
}

void BM_Pick(benchmark::State& state, const std::string& name) {
  Fixture& fx = Get(name, static_cast<int>(state.range(0)));
  const std::vector<Flow>& flows = Flows();
  size_t i = static_cast<size_t>(state.thread_index()) * (kFlows / 2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(fx.service->Pick(flows[i++ & (kFlows - 1)]));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["B/server"] =
      benchmark::Counter(fx.bytes_per_server, benchmark::Counter::kAvgThreads);
  state.counters["sched_B"] =
      benchmark::Counter(fx.scheduler_bytes, benchmark::Counter::kAvgThreads);
}

// One service per (scheduler, size) for PickWhileUpdating: weights 1..10.
std::unique_ptr<Service> MakeService(const std::string& name, int n) {
  auto svc = std::move(Service::Create(name)).value();
  std::mt19937 rng(static_cast<uint32_t>(n));
  for (int i = 0; i < n; ++i) {
    Endpoint ep{0x0A000000u + static_cast<uint32_t>(i), 8080};
    (void)svc->AddServer(ep, {.weight = 1 + static_cast<int>(rng() % 10)});
  }
  return svc;
}

// A latency histogram with 4 buckets per octave (exact below 8 ns).
size_t Bucket(uint64_t ns) {
  if (ns < 8) return static_cast<size_t>(ns);
  const auto b = static_cast<unsigned>(std::bit_width(ns));  // 2^(b-1) <= ns < 2^b
  return 8 + (b - 4) * 4 + static_cast<size_t>((ns >> (b - 3)) & 3);
}
uint64_t BucketTop(size_t i) {
  if (i < 8) return i + 1;
  const auto b = static_cast<unsigned>((i - 8) / 4 + 4);
  return uint64_t{4 + (i - 8) % 4 + 1} << (b - 3);
}
double Percentile(const std::array<int64_t, 256>& hist, double q) {
  int64_t total = 0;
  for (int64_t c : hist) total += c;
  int64_t seen = 0;
  for (size_t i = 0; i < hist.size(); ++i) {
    seen += hist[i];
    if (static_cast<double>(seen) >= q * static_cast<double>(total)) {
      return static_cast<double>(BucketTop(i));
    }
  }
  return 0;
}

void BM_PickWhileUpdating(benchmark::State& state, const std::string& name) {
  const int n = static_cast<int>(state.range(0));
  const bool membership = state.range(1) != 0;
  auto svc = MakeService(name, n);
  const std::vector<Flow>& flows = Flows();
  for (const Flow& f : flows) benchmark::DoNotOptimize(svc->Pick(f));
  std::atomic<bool> stop{false};
  std::atomic<int64_t> updates{0};
  std::thread updater([&] {
    for (int64_t k = 0; !stop.load(std::memory_order_relaxed); ++k) {
      Endpoint ep{0x0A000000u + static_cast<uint32_t>(k % n), 8080};
      if (membership) {
        (void)svc->RemoveServer(ep);
        (void)svc->AddServer(ep, {.weight = 1 + static_cast<int>(k / n % 10)});
      } else {
        (void)svc->SetWeight(ep, 1 + static_cast<int>(k / n % 10));
      }
      updates.fetch_add(1, std::memory_order_relaxed);
    }
  });
  using Clock = std::chrono::steady_clock;
  int64_t max_ns = 0;
  std::array<int64_t, 256> hist{};
  size_t i = 0;
  const auto start = Clock::now();
  for (auto _ : state) {
    const auto t0 = Clock::now();
    benchmark::DoNotOptimize(svc->Pick(flows[i++ & (kFlows - 1)]));
    const int64_t ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
    max_ns = std::max(max_ns, ns);
    ++hist[Bucket(static_cast<uint64_t>(ns))];
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stop.store(true);
  updater.join();
  state.SetItemsProcessed(state.iterations());
  state.counters["max_us"] = static_cast<double>(max_ns) / 1000.0;
  state.counters["p99_us"] = Percentile(hist, 0.99) / 1000.0;
  state.counters["p999_us"] = Percentile(hist, 0.999) / 1000.0;
  state.counters["upd/s"] = static_cast<double>(updates.load()) / seconds;
}

// Test time for LocalityFlood: moves only when told.
class StepClock final : public lbd::Clock {
 public:
  std::chrono::nanoseconds Now() const override { return now_; }
  void Advance(std::chrono::nanoseconds d) { now_ += d; }

 private:
  std::chrono::nanoseconds now_ = std::chrono::hours(1);
};

void BM_LocalityFlood(benchmark::State& state, const std::string& name) {
  const auto dests = static_cast<uint32_t>(state.range(0));
  double bytes = 0;
  size_t remembered = 0;
  for (auto _ : state) {
    StepClock clock;
    ServerList list;
    for (uint32_t i = 0; i < 8; ++i) {
      list.push_back(std::make_shared<RealServer>(Endpoint{0x0A000000u + i, 80},
                                                  RealServerOptions{.weight = 1}));
    }
    const int64_t before = g_live_bytes.load();
    auto sched = std::move(Scheduler::Create(name, {.clock = &clock})).value();
    sched->OnServersChanged(list, {ServerChange::Kind::kUpdated, 0});
    for (uint32_t d = 0; d < dests; ++d) {
      benchmark::DoNotOptimize(sched->Pick(list, Flow{{1, 1}, {0x40000000u + d, 80}}));
      clock.Advance(std::chrono::milliseconds(1));
    }
    bytes = static_cast<double>(g_live_bytes.load() - before);
    // All counters are 0, so wlc sent every destination to server 0. Loaded
    // now, server 0 loses wlc: a destination that still picks it is one the
    // table remembers.
    remembered = 0;
    list[0]->SetCounters(0, 1000);
    for (uint32_t d = 0; d < dests; ++d) {
      RealServer* rs = sched->Pick(list, Flow{{1, 1}, {0x40000000u + d, 80}});
      remembered += rs == list[0].get() ? 1 : 0;
    }
  }
  state.counters["table_B"] = bytes;
  state.counters["B/entry"] = remembered > 0 ? bytes / static_cast<double>(remembered) : 0;
  state.counters["entries"] = static_cast<double>(remembered);
}

}  // namespace
}  // namespace lbd

int main(int argc, char** argv) {
  for (std::string_view name : lbd::Scheduler::Names()) {
    auto* b = benchmark::RegisterBenchmark(("Pick/" + std::string(name)).c_str(), lbd::BM_Pick,
                                           std::string(name));
    for (int n : lbd::kSizes) b->Arg(n);
    b->Threads(1)->Threads(2)->UseRealTime();
  }
  // Oversubscription: more picking threads than the machine has cores.
  for (std::string name : {"rr", "mh", "lblc"}) {
    auto* b = benchmark::RegisterBenchmark(("PickContended/" + name).c_str(), lbd::BM_Pick, name);
    b->Arg(64)->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();
  }
  for (std::string name : {"mh", "wrr"}) {
    auto* b = benchmark::RegisterBenchmark(("PickWhileUpdating/" + name).c_str(),
                                           lbd::BM_PickWhileUpdating, name);
    for (int n : {50, 1000}) b->Args({n, 0})->Args({n, 1});
    b->UseRealTime()->MinTime(0.5);
  }
  for (std::string name : {"lblc", "lblcr"}) {
    auto* b = benchmark::RegisterBenchmark(("LocalityFlood/" + name).c_str(), lbd::BM_LocalityFlood,
                                           name);
    for (int n : {1000, 16384, 100000, 1000000}) b->Arg(n);
    b->Iterations(1)->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
