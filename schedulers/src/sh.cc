// sh: source hashing (net/netfilter/ipvs/ip_vs_sh.c).
//
// 256 buckets, rebuilt on every "dest changed": walking the list cyclically,
// each server gets `weight` consecutive buckets (a weight-0 server exactly
// one). Bucket of a flow: hash_32(source port (only with hash_port) + source
// address, 8). With hash_fallback an unusable bucket walks on to
// ((ih + offset) % 256 + ih) % 256 for offset = 0..255.
// The buckets are an immutable table built off the service's lock and swapped
// in (TableSchedulerOf).
// Complexity: O(1) per pick (O(256) worst case with fallback). No allocation
// when picking; a change allocates one 2 KiB table.
#include <array>

#include "common.h"

namespace lbd::sched_internal {
namespace {

constexpr unsigned kBits = 8;
constexpr unsigned kSize = 1u << kBits;

using Buckets = std::array<RealServer*, kSize>;

class ShScheduler final : public TableSchedulerOf<Buckets> {
 public:
  explicit ShScheduler(const SchedulerOptions& o) : port_(o.hash_port), fallback_(o.hash_fallback) {
    table_ = std::make_shared<const Buckets>();
  }

  std::string_view name() const override { return "sh"; }

  RealServer* Pick(const ServerList&, const Flow& flow) override {
    const Buckets& buckets = *table_;
    uint32_t key = flow.source.ip + (port_ ? flow.source.port : 0u);
    uint32_t ih = Hash32(key, kBits);
    RealServer* d = buckets[ih];
    if (d == nullptr) return nullptr;
    if (Usable(*d)) return d;
    if (!fallback_) return nullptr;
    // ip_vs_sh_get_fallback(): hashkey with offset roffset = (offset + ih) % 256.
    for (unsigned offset = 0; offset < kSize; ++offset) {
      unsigned roffset = (offset + ih) % kSize;
      d = buckets[(roffset + ih) % kSize];
      if (d == nullptr) return nullptr;
      if (Usable(*d)) return d;
    }
    return nullptr;
  }

 private:
  // ip_vs_sh_reassign().
  std::shared_ptr<const Buckets> Build(const ServerList& servers,
                                       std::span<const int> weights) const override {
    auto buckets = std::make_shared<Buckets>();
    buckets->fill(nullptr);
    if (servers.empty()) return buckets;
    size_t p = 0;
    int count = 0;
    for (unsigned i = 0; i < kSize; ++i) {
      (*buckets)[i] = servers[p].get();
      if (++count >= weights[p]) {
        p = (p + 1) % servers.size();
        count = 0;
      }
    }
    return buckets;
  }

  const bool port_;
  const bool fallback_;
};

}  // namespace

std::unique_ptr<Scheduler> NewSh(const SchedulerOptions& options) {
  return std::make_unique<ShScheduler>(options);
}

}  // namespace lbd::sched_internal
