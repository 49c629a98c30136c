// lblc: locality-based least connection (net/netfilter/ipvs/ip_vs_lblc.c).
//
// A table destination address -> server with a last-use time. A pick for D
// refreshes D's entry and keeps its server while that server is still in the
// service, has weight > 0 and is not "lblc-overloaded" (active > weight while
// some server in the list has active * 2 < weight; the overload flag is not
// consulted). Otherwise wlc over the whole list chooses, and D's entry is
// replaced. Entries unused for longer than the expiration are dropped, and
// the table is bounded as the kernel's periodic check bounds it, plus a hard
// cap (locality_table.h).
// Complexity: O(1) for a valid entry plus O(n) for the lblc-overload test;
// O(n) on a miss; once per check interval, a check of O(table slots).
// Allocates only when the table grows (see locality_table.h).
#include "common.h"
#include "locality.h"
#include "locality_table.h"

namespace lbd::sched_internal {
namespace {

struct LblcEntry {
  uint32_t key = 0;
  bool used = false;
  std::chrono::nanoseconds last_use{};
  std::shared_ptr<RealServer> server;  // keeps a removed server's state readable
};

class LblcScheduler final : public Scheduler {
 public:
  explicit LblcScheduler(const SchedulerOptions& o)
      : clock_(o.clock != nullptr ? *o.clock : SteadyClock()), table_(o) {}

  std::string_view name() const override { return "lblc"; }
  void OnServersChanged(const ServerList&, ServerChange) override {}

  RealServer* Pick(const ServerList& servers, const Flow& flow) override {
    const auto now = clock_.Now();
    const uint32_t d = flow.destination.ip;
    table_.Tick(now);
    if (LblcEntry* en = table_.Find(d, now)) {
      en->last_use = now;
      RealServer& rs = *en->server;
      if (rs.available() && rs.weight() > 0 && !LblcOverloaded(rs, servers)) return &rs;
    }
    RealServer* chosen = WeightedLeast(servers, ConnOverhead);
    if (chosen == nullptr) return nullptr;
    if (LblcEntry* en = table_.Insert(d, now)) {  // null: the table is full
      en->last_use = now;
      en->server = chosen->shared_from_this();
    }
    return chosen;
  }

 private:
  const Clock& clock_;
  LocalityTable<LblcEntry> table_;
};

}  // namespace

std::unique_ptr<Scheduler> NewLblc(const SchedulerOptions& options) {
  return std::make_unique<LblcScheduler>(options);
}

}  // namespace lbd::sched_internal
