// Internal header of liblbsched: what several schedulers share.
#ifndef LBSCHED_SRC_COMMON_H_
#define LBSCHED_SRC_COMMON_H_

#include <cstdint>
#include <memory>
#include <string_view>

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

// The kernel's hash_32(val, bits) with GOLDEN_RATIO_32 (include/linux/hash.h).
inline uint32_t Hash32(uint32_t val, unsigned bits) { return (val * 0x61C88647u) >> (32 - bits); }

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

}  // namespace lbd::sched_internal

#endif  // LBSCHED_SRC_COMMON_H_
