// wrr: weighted round robin stepping by the gcd of the weights
// (net/netfilter/ipvs/ip_vs_wrr.c).
//
// State: cursor cl (a server or the head), current weight cw, step di = gcd of
// the positive weights, mw = max weight - (di - 1). A pick scans from cl for a
// server without the overload flag and weight >= cw, lowering cw by di each
// time it passes the head. The kernel's last_pass/restarted/stop bookkeeping
// bounds a failing pick to about two traversals.
// Complexity: amortised O(1) per pick over a cycle of sum(w)/di picks when the
// weights are similar; O(n * mw/di) worst case for one pick. No allocation
// when picking. The O(n) gcd/max scan of a change runs off the service's lock
// (TableSchedulerOf); installing it is O(1).
#include <algorithm>
#include <numeric>

#include "common.h"

namespace lbd::sched_internal {
namespace {

// What a change computes in O(n): the step and the starting weight.
struct WrrTable {
  int di = 1;  // gcd of the positive weights, 1 if none
  int mw = 0;  // max weight - (di - 1)
};

class WrrScheduler final : public TableSchedulerOf<WrrTable> {
 public:
  WrrScheduler() { table_ = std::make_shared<const WrrTable>(); }

  std::string_view name() const override { return "wrr"; }

  RealServer* Pick(const ServerList& servers, const Flow&) override {
    if (mw_ == 0) return nullptr;
    const auto n = static_cast<ptrdiff_t>(servers.size());
    const ptrdiff_t last = cl_;
    ptrdiff_t stop = kNoStop;
    bool last_pass = false;
    bool restarted = false;
    ptrdiff_t dest = cl_;
    while (true) {
      for (++dest; dest < n; ++dest) {
        const RealServer& d = *servers[dest];
        if (!d.overloaded() && d.weight() >= cw_) {
          cl_ = dest;
          return servers[dest].get();
        }
        if (dest == stop) {
          cl_ = dest;
          return nullptr;
        }
      }
      dest = -1;  // passed the head
      cw_ -= di_;
      if (cw_ <= 0) {
        cw_ = mw_;
        if (last_pass || last == -1) {
          cl_ = -1;
          return nullptr;
        }
        restarted = true;
      }
      last_pass = cw_ <= di_;
      if (last_pass && restarted && last != -1) stop = last;
    }
  }

 private:
  std::shared_ptr<const WrrTable> Build(const ServerList&,
                                        std::span<const int> weights) const override {
    int g = 0;
    int max_weight = 0;
    for (int w : weights) {
      if (w > 0) g = g > 0 ? std::gcd(w, g) : w;
      max_weight = std::max(max_weight, w);
    }
    auto t = std::make_shared<WrrTable>();
    t->di = g > 0 ? g : 1;
    t->mw = max_weight - (t->di - 1);
    return t;
  }

  // ip_vs_wrr_dest_changed(); also the initial ip_vs_wrr_init_svc() since cw
  // starts at 0.
  void OnInstalled(const ServerList&, ServerChange) override {
    cl_ = -1;
    di_ = table_->di;
    mw_ = table_->mw;
    if (cw_ > mw_ || cw_ == 0) {
      cw_ = mw_;
    } else if (di_ > 1) {
      cw_ = (cw_ / di_) * di_ + 1;
    }
  }

  static constexpr ptrdiff_t kNoStop = -2;

  ptrdiff_t cl_ = -1;  // -1: the list head
  int cw_ = 0;
  int mw_ = 0;
  int di_ = 1;
};

}  // namespace

std::unique_ptr<Scheduler> NewWrr() { return std::make_unique<WrrScheduler>(); }

}  // namespace lbd::sched_internal
