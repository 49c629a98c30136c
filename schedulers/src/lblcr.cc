// lblcr: locality-based least connection with replication
// (net/netfilter/ipvs/ip_vs_lblcr.c).
//
// A table destination address -> a set of servers (newest first) with the
// set's last modification time. A pick for D with an entry:
//  1. the candidate is the least loaded member (ip_vs_dest_set_min());
//  2. a set of more than one member not modified for longer than the
//     expiration loses its most loaded member (ip_vs_dest_set_max());
//  3. a candidate that is not lblc-overloaded is picked;
//  4. otherwise wlc over the whole list chooses, and the choice joins the set.
// Without an entry, wlc chooses and a one-member set is created.
// The table is bounded as lblc's is (locality_table.h).
// Complexity: O(set size + n); once per check interval, a check of O(table
// slots). Allocates only when the table grows or a set gains a member.
#include <algorithm>

#include "common.h"
#include "locality.h"
#include "locality_table.h"

namespace lbd::sched_internal {
namespace {

struct LblcrEntry {
  uint32_t key = 0;
  bool used = false;
  std::chrono::nanoseconds last_use{};
  std::chrono::nanoseconds last_mod{};
  std::vector<std::shared_ptr<RealServer>> set;  // newest first
};

// ip_vs_dest_set_min().
RealServer* SetMin(const LblcrEntry& en) {
  size_t i = 0;
  RealServer* least = nullptr;
  for (; i < en.set.size(); ++i) {
    RealServer* d = en.set[i].get();
    if (d->overloaded()) continue;
    if (d->weight() > 0 && d->available()) {
      least = d;
      break;
    }
  }
  if (least == nullptr) return nullptr;
  int64_t loh = least->overhead();
  for (++i; i < en.set.size(); ++i) {
    RealServer* d = en.set[i].get();
    if (d->overloaded()) continue;
    int64_t doh = d->overhead();
    if (MoreLoaded(loh, least->weight(), doh, d->weight()) && d->available()) {
      least = d;
      loh = doh;
    }
  }
  return least;
}

// ip_vs_dest_set_max(): index of the most loaded member with weight > 0.
ptrdiff_t SetMax(const LblcrEntry& en) {
  ptrdiff_t most = -1;
  int64_t moh = 0;
  for (size_t i = 0; i < en.set.size(); ++i) {
    const RealServer& d = *en.set[i];
    if (most < 0) {
      if (d.weight() > 0) {
        most = static_cast<ptrdiff_t>(i);
        moh = d.overhead();
      }
      continue;
    }
    int64_t doh = d.overhead();
    const RealServer& m = *en.set[static_cast<size_t>(most)];
    // moh/mw < doh/dw  <=>  moh*dw < doh*mw
    if (moh * d.weight() < doh * m.weight() && d.weight() > 0) {
      most = static_cast<ptrdiff_t>(i);
      moh = doh;
    }
  }
  return most;
}

class LblcrScheduler final : public Scheduler {
 public:
  explicit LblcrScheduler(const SchedulerOptions& o)
      : clock_(o.clock != nullptr ? *o.clock : SteadyClock()),
        expiration_(o.locality_expiration),
        table_(o) {}

  std::string_view name() const override { return "lblcr"; }
  void OnServersChanged(const ServerList&, ServerChange) override {}

  RealServer* Pick(const ServerList& servers, const Flow& flow) override {
    const auto now = clock_.Now();
    const uint32_t key = flow.destination.ip;
    table_.Tick(now);
    if (LblcrEntry* en = table_.Find(key, now)) {
      en->last_use = now;
      RealServer* dest = SetMin(*en);
      if (en->set.size() > 1 && now > en->last_mod + expiration_) {
        ptrdiff_t m = SetMax(*en);
        if (m >= 0) {
          en->set.erase(en->set.begin() + m);
          en->last_mod = now;
        }
      }
      if (dest != nullptr && !LblcOverloaded(*dest, servers)) return dest;
      dest = WeightedLeast(servers, ConnOverhead);
      if (dest == nullptr) return nullptr;
      bool member = std::any_of(en->set.begin(), en->set.end(),
                                [&](const auto& p) { return p.get() == dest; });
      if (!member) {
        en->set.insert(en->set.begin(), dest->shared_from_this());
        en->last_mod = now;
      }
      return dest;
    }
    RealServer* dest = WeightedLeast(servers, ConnOverhead);
    if (dest == nullptr) return nullptr;
    if (LblcrEntry* en = table_.Insert(key, now)) {  // null: the table is full
      en->last_use = now;
      en->last_mod = now;
      en->set.assign(1, dest->shared_from_this());
    }
    return dest;
  }

 private:
  const Clock& clock_;
  const std::chrono::nanoseconds expiration_;
  LocalityTable<LblcrEntry> table_;
};

}  // namespace

std::unique_ptr<Scheduler> NewLblcr(const SchedulerOptions& options) {
  return std::make_unique<LblcrScheduler>(options);
}

}  // namespace lbd::sched_internal
