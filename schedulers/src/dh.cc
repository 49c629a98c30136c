// dh: destination hashing (net/netfilter/ipvs/ip_vs_dh.c).
//
// 256 buckets filled round-robin, one bucket per server, ignoring weights,
// rebuilt on every "dest changed". The bucket of a flow is the kernel's
// ip_vs_dh_hashkey(): (destination address * 2654435761) & 255 -- the low
// bits of a multiplicative hash, unlike sh's hash_32() which keeps the high
// ones. Pick: the bucket's server unless its weight is 0 or it is overloaded.
// The buckets are an immutable table built off the service's lock and swapped
// in (TableSchedulerOf).
// Complexity: O(1) per pick. No allocation when picking; a change allocates
// one 2 KiB table.
#include <array>

#include "common.h"

namespace lbd::sched_internal {
namespace {

constexpr unsigned kSize = 256;

using Buckets = std::array<RealServer*, kSize>;

class DhScheduler final : public TableSchedulerOf<Buckets> {
 public:
  DhScheduler() { table_ = std::make_shared<const Buckets>(); }

  std::string_view name() const override { return "dh"; }

  RealServer* Pick(const ServerList&, const Flow& flow) override {
    RealServer* d = (*table_)[HashKey(flow.destination.ip)];
    return d != nullptr && Usable(*d) ? d : nullptr;
  }

  static unsigned HashKey(uint32_t ip) { return (ip * 2654435761u) & (kSize - 1); }

 private:
  // ip_vs_dh_reassign(): weights are ignored.
  std::shared_ptr<const Buckets> Build(const ServerList& servers,
                                       std::span<const int>) const override {
    auto buckets = std::make_shared<Buckets>();
    buckets->fill(nullptr);
    if (servers.empty()) return buckets;
    for (unsigned i = 0; i < kSize; ++i) (*buckets)[i] = servers[i % servers.size()].get();
    return buckets;
  }
};

}  // namespace

std::unique_ptr<Scheduler> NewDh() { return std::make_unique<DhScheduler>(); }

}  // namespace lbd::sched_internal
