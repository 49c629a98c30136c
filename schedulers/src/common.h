// Internal header of liblbsched: what several schedulers share.
#ifndef LBSCHED_SRC_COMMON_H_
#define LBSCHED_SRC_COMMON_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "lbsched/scheduler.h"

namespace lbd::sched_internal {

// Usable for a new connection by rr, wrr, lc, wlc, sed, nq, sh, dh, mh:
// weight > 0 and no overload flag.
inline bool Usable(const RealServer& rs) { return rs.weight() > 0 && !rs.overloaded(); }

// a/wa > b/wb without dividing: a*wb > b*wa in 64 bits (ip_vs_wlc.c). Strict,
// so on a tie the server met first in list order stays.
inline bool MoreLoaded(int64_t a, int wa, int64_t b, int wb) {
  return a * static_cast<int64_t>(wb) > b * static_cast<int64_t>(wa);
}

// The weighted-least scan of wlc, sed, lblc and lblcr's fallback: the first
// server with no overload flag and weight > 0 is the candidate; a later one
// without the overload flag replaces it when strictly less loaded. `overhead`
// maps a server to its load (ip_vs_dest_conn_overhead, or sed's active + 1).
template <typename Overhead>
RealServer* WeightedLeast(const ServerList& servers, Overhead overhead) {
  size_t i = 0;
  const size_t n = servers.size();
  RealServer* least = nullptr;
  for (; i < n; ++i) {
    RealServer* d = servers[i].get();
    if (!d->overloaded() && d->weight() > 0) {
      least = d;
      break;
    }
  }
  if (least == nullptr) return nullptr;
  int64_t loh = overhead(*least);
  int lw = least->weight();
  for (++i; i < n; ++i) {
    RealServer* d = servers[i].get();
    if (d->overloaded()) continue;
    int64_t doh = overhead(*d);
    int dw = d->weight();
    if (MoreLoaded(loh, lw, doh, dw)) {
      least = d;
      loh = doh;
      lw = dw;
    }
  }
  return least;
}

inline int64_t ConnOverhead(const RealServer& rs) { return rs.overhead(); }

// A 64-bit finalizer (MurmurHash3's fmix64) over a seeded key: mh's and
// rendezvous's hash.
inline uint64_t Mix(uint64_t k, uint64_t seed) {
  k ^= seed * 0x9E3779B97F4A7C15ULL;
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

// The kernel's hash_32(val, bits) with GOLDEN_RATIO_32 (include/linux/hash.h).
inline uint32_t Hash32(uint32_t val, unsigned bits) { return (val * 0x61C88647u) >> (32 - bits); }

// A scheduler whose state after a "dest changed" event is mostly an immutable
// table (sh/dh buckets, the mh lookup table, wrr's gcd and max weight). Its
// OnServersChanged() is split in two so that Service builds the table off its
// pick lock and only swaps it in under the lock (STYLE 7):
//   BuildTable(): pure, may take milliseconds (mh), runs off the lock;
//   InstallTable(): O(1) apart from the scheduler's cheap bookkeeping (wrr's
//   cursor and current weight), runs under the lock.
// Thread-safety: BuildTable() may run while Pick() runs on another thread
// (both only read the installed table); InstallTable() and OnServersChanged()
// need exclusive access, and no BuildTable() may run concurrently with them.
class TableScheduler : public Scheduler {
 public:
  using AnyTable = std::shared_ptr<const void>;

  // The table for `servers` where servers[i] will have weight `weights[i]`
  // once the change is committed (the weights are passed because the caller
  // commits the weight change together with the table).
  // REQUIRES: weights.size() == servers.size().
  virtual AnyTable BuildTable(const ServerList& servers, std::span<const int> weights) const = 0;
  // Installs `table` (built by BuildTable() for `servers`) and applies
  // `change`. On return `table` holds the previous table, so that the caller
  // frees it after unlocking.
  virtual void InstallTable(const ServerList& servers, ServerChange change, AnyTable& table) = 0;

  void OnServersChanged(const ServerList& servers, ServerChange change) final {
    std::vector<int> weights;
    weights.reserve(servers.size());
    for (const auto& rs : servers) weights.push_back(rs->weight());
    AnyTable table = BuildTable(servers, weights);
    InstallTable(servers, change, table);
  }
};

// The typed half of TableScheduler: the concrete class keeps a
// std::shared_ptr<const Table> that Pick() reads (never null after the first
// install) and implements Build() and, when it has more state, OnInstalled().
template <typename Table>
class TableSchedulerOf : public TableScheduler {
 public:
  AnyTable BuildTable(const ServerList& servers, std::span<const int> weights) const final {
    return Build(servers, weights);
  }
  void InstallTable(const ServerList& servers, ServerChange change, AnyTable& table) final {
    std::shared_ptr<const Table> next = std::static_pointer_cast<const Table>(std::move(table));
    table = std::move(table_);
    table_ = std::move(next);
    OnInstalled(servers, change);
  }

 protected:
  virtual std::shared_ptr<const Table> Build(const ServerList& servers,
                                             std::span<const int> weights) const = 0;
  // Bookkeeping beyond the table, under the caller's lock. REQUIRES: cheap.
  virtual void OnInstalled(const ServerList&, ServerChange) {}

  std::shared_ptr<const Table> table_;
};

// Factories of the private scheduler classes, one file pair each.
std::unique_ptr<Scheduler> NewRr();
std::unique_ptr<Scheduler> NewWrr();
std::unique_ptr<Scheduler> NewLc();
std::unique_ptr<Scheduler> NewWlc();
std::unique_ptr<Scheduler> NewSed();
std::unique_ptr<Scheduler> NewNq();
std::unique_ptr<Scheduler> NewSh(const SchedulerOptions& options);
std::unique_ptr<Scheduler> NewDh();
std::unique_ptr<Scheduler> NewLblc(const SchedulerOptions& options);
std::unique_ptr<Scheduler> NewLblcr(const SchedulerOptions& options);
std::unique_ptr<Scheduler> NewMh(const SchedulerOptions& options);
std::unique_ptr<Scheduler> NewRandom(const SchedulerOptions& options);
std::unique_ptr<Scheduler> NewP2c(const SchedulerOptions& options);
std::unique_ptr<Scheduler> NewEwma(const SchedulerOptions& options);
std::unique_ptr<Scheduler> NewRendezvous(const SchedulerOptions& options);

}  // namespace lbd::sched_internal

#endif  // LBSCHED_SRC_COMMON_H_
