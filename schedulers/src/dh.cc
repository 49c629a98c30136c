// dh: destination hashing (net/netfilter/ipvs/ip_vs_dh.c).
//
// 256 buckets filled round-robin, one bucket per server, ignoring weights,
// rebuilt on every "dest changed". The bucket of a flow is the kernel's
// ip_vs_dh_hashkey(): (destination address * 2654435761) & 255 -- the low
// bits of a multiplicative hash, unlike sh's hash_32() which keeps the high
// ones. Pick: the bucket's server unless its weight is 0 or it is overloaded.
// Complexity: O(1) per pick. No allocation.
#include <array>

#include "common.h"

namespace lbd::sched_internal {
namespace {

constexpr unsigned kSize = 256;

class DhScheduler final : public Scheduler {
 public:
  std::string_view name() const override { return "dh"; }

  // ip_vs_dh_reassign().
  void OnServersChanged(const ServerList& servers, ServerChange) override {
    buckets_.fill(nullptr);
    if (servers.empty()) return;
    for (unsigned i = 0; i < kSize; ++i) buckets_[i] = servers[i % servers.size()].get();
  }

  RealServer* Pick(const ServerList&, const Flow& flow) override {
    RealServer* d = buckets_[HashKey(flow.destination.ip)];
    return d != nullptr && Usable(*d) ? d : nullptr;
  }

  static unsigned HashKey(uint32_t ip) { return (ip * 2654435761u) & (kSize - 1); }

 private:
  std::array<RealServer*, kSize> buckets_{};
};

}  // namespace

std::unique_ptr<Scheduler> NewDh() { return std::make_unique<DhScheduler>(); }

}  // namespace lbd::sched_internal
