// rr: round robin (net/netfilter/ipvs/ip_vs_rr.c).
//
// A cursor sits on the server picked last (initially the list head, before the
// first server). A pick scans forward from the cursor, wrapping once, for the
// first server with weight > 0 and no overload flag.
// Complexity: O(1) when the next server is usable, O(n) worst case. No allocation.
#include "common.h"

namespace lbd::sched_internal {
namespace {

class RrScheduler final : public Scheduler {
 public:
  std::string_view name() const override { return "rr"; }

  void OnServersChanged(const ServerList&, ServerChange change) override {
    // ip_vs_rr_del_dest(): the cursor on the removed server moves to its
    // predecessor (or the head). Additions and updates leave it in place.
    if (change.kind != ServerChange::Kind::kRemoved || cursor_ < 0) return;
    auto removed = static_cast<ptrdiff_t>(change.index);
    if (cursor_ >= removed) --cursor_;
  }

  RealServer* Pick(const ServerList& servers, const Flow&) override {
    const auto n = static_cast<ptrdiff_t>(servers.size());
    // From the cursor to the end, then (unless the cursor is the head) from the
    // start up to and including the cursor.
    for (ptrdiff_t i = cursor_ + 1; i < n; ++i) {
      if (Usable(*servers[i])) return Take(servers, i);
    }
    for (ptrdiff_t i = 0; i <= cursor_ && i < n; ++i) {
      if (Usable(*servers[i])) return Take(servers, i);
    }
    return nullptr;
  }

 private:
  RealServer* Take(const ServerList& servers, ptrdiff_t i) {
    cursor_ = i;
    return servers[i].get();
  }

  ptrdiff_t cursor_ = -1;  // -1: the list head
};

}  // namespace

std::unique_ptr<Scheduler> NewRr() { return std::make_unique<RrScheduler>(); }

}  // namespace lbd::sched_internal
