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
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <random>
#include <string>
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

}  // namespace
}  // namespace lbd

int main(int argc, char** argv) {
  for (std::string_view name : lbd::Scheduler::Names()) {
    auto* b = benchmark::RegisterBenchmark(("Pick/" + std::string(name)).c_str(), lbd::BM_Pick,
                                           std::string(name));
    for (int n : lbd::kSizes) b->Arg(n);
    b->Threads(1)->Threads(2)->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
