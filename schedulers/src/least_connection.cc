// The least-connection family: lc, wlc, sed, nq (net/netfilter/ipvs/
// ip_vs_{lc,wlc,sed,nq}.c). Stateless: every pick scans the list once.
// Complexity: O(n) per pick (nq stops at the first idle server). No allocation.
#include "common.h"

namespace lbd::sched_internal {
namespace {

class StatelessScheduler : public Scheduler {
 public:
  void OnServersChanged(const ServerList&, ServerChange) override {}
};

// lc: the first server, among weight > 0 and no overload flag, with the
// smallest active*256 + inactive.
class LcScheduler final : public StatelessScheduler {
 public:
  std::string_view name() const override { return "lc"; }
  RealServer* Pick(const ServerList& servers, const Flow&) override {
    RealServer* least = nullptr;
    int64_t loh = 0;
    for (const auto& p : servers) {
      RealServer& d = *p;
      if (d.overloaded() || d.weight() == 0) continue;
      int64_t doh = d.overhead();
      if (least == nullptr || doh < loh) {
        least = &d;
        loh = doh;
      }
    }
    return least;
  }
};

// wlc: smallest overhead/weight, first in list order on ties.
class WlcScheduler final : public StatelessScheduler {
 public:
  std::string_view name() const override { return "wlc"; }
  RealServer* Pick(const ServerList& servers, const Flow&) override {
    return WeightedLeast(servers, ConnOverhead);
  }
};

// sed: as wlc with overhead = active + 1 (inactive ignored).
inline int64_t SedOverhead(const RealServer& rs) { return int64_t{rs.active()} + 1; }

class SedScheduler final : public StatelessScheduler {
 public:
  std::string_view name() const override { return "sed"; }
  RealServer* Pick(const ServerList& servers, const Flow&) override {
    return WeightedLeast(servers, SedOverhead);
  }
};

// nq: the first idle usable server at once; otherwise as sed.
class NqScheduler final : public StatelessScheduler {
 public:
  std::string_view name() const override { return "nq"; }
  RealServer* Pick(const ServerList& servers, const Flow&) override {
    RealServer* least = nullptr;
    int64_t loh = 0;
    int lw = 0;
    for (const auto& p : servers) {
      RealServer& d = *p;
      if (d.overloaded() || d.weight() == 0) continue;
      int64_t doh = SedOverhead(d);
      if (d.active() == 0) return &d;
      if (least == nullptr || MoreLoaded(loh, lw, doh, d.weight())) {
        least = &d;
        loh = doh;
        lw = d.weight();
      }
    }
    return least;
  }
};

}  // namespace

std::unique_ptr<Scheduler> NewLc() { return std::make_unique<LcScheduler>(); }
std::unique_ptr<Scheduler> NewWlc() { return std::make_unique<WlcScheduler>(); }
std::unique_ptr<Scheduler> NewSed() { return std::make_unique<SedScheduler>(); }
std::unique_ptr<Scheduler> NewNq() { return std::make_unique<NqScheduler>(); }

}  // namespace lbd::sched_internal
