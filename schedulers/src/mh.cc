// mh: Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software
// Network Load Balancer", NSDI 2016, section 3.4; cf. the kernel's ip_vs_mh.c).
//
// A lookup table of M entries (M prime, 65537 by default). Each server with
// weight > 0 has a permutation of the table given by offset = h1 % M and
// skip = h2 % (M - 1) + 1, where h1 and h2 hash its address and port only, so
// the permutation does not depend on the other servers: removing one of N
// servers moves about 1/N of the keys. Weights: turns go to the server with
// the smallest (entries + 1) / weight (stride scheduling), so every server
// owns a share of the table within one entry of M * w / sum(w); the kernel
// uses gcd-reduced turns per round, which is coarser. A key (source address,
// plus source port with hash_port) selects entry hash(key) % M; with
// hash_fallback an unusable server is skipped by rehashing with salts 1, 2, ...
// Complexity: O(1) per pick; rebuild O(M log n) time, 4 bytes per entry.
// No allocation when picking.
#include <algorithm>
#include <queue>
#include <vector>

#include "common.h"

namespace lbd::sched_internal {
namespace {

// A 64-bit finalizer (MurmurHash3's fmix64) over a seeded key.
uint64_t Mix(uint64_t k, uint64_t seed) {
  k ^= seed * 0x9E3779B97F4A7C15ULL;
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

constexpr uint64_t kSeedOffset = 1;
constexpr uint64_t kSeedSkip = 2;
constexpr uint64_t kSeedKey = 3;
constexpr uint32_t kEmpty = UINT32_MAX;

class MhScheduler final : public Scheduler {
 public:
  explicit MhScheduler(const SchedulerOptions& o)
      : port_(o.hash_port), fallback_(o.hash_fallback), table_(o.mh_table_size, kEmpty) {}

  std::string_view name() const override { return "mh"; }

  void OnServersChanged(const ServerList& servers, ServerChange) override {
    std::fill(table_.begin(), table_.end(), kEmpty);
    servers_.clear();
    const uint64_t m = table_.size();
    struct Perm {
      uint64_t offset, skip, next;
      int64_t weight, filled;
      uint32_t index;
    };
    std::vector<Perm> perms;
    for (size_t i = 0; i < servers.size(); ++i) {
      int w = servers[i]->weight();
      if (w <= 0) continue;
      uint64_t key = (uint64_t{servers[i]->endpoint().ip} << 16) | servers[i]->endpoint().port;
      perms.push_back({Mix(key, kSeedOffset) % m, Mix(key, kSeedSkip) % (m - 1) + 1, 0, w, 0,
                       static_cast<uint32_t>(servers_.size())});
      servers_.push_back(servers[i].get());
    }
    if (perms.empty()) return;
    // Next turn: smallest (filled + 1) / weight, then lowest index.
    auto later = [&](uint32_t a, uint32_t b) {
      const Perm& pa = perms[a];
      const Perm& pb = perms[b];
      int64_t lhs = (pa.filled + 1) * pb.weight;
      int64_t rhs = (pb.filled + 1) * pa.weight;
      return lhs != rhs ? lhs > rhs : a > b;
    };
    std::priority_queue<uint32_t, std::vector<uint32_t>, decltype(later)> turns(later);
    for (uint32_t i = 0; i < perms.size(); ++i) turns.push(i);
    for (uint64_t placed = 0; placed < m; ++placed) {
      uint32_t i = turns.top();
      turns.pop();
      Perm& p = perms[i];
      uint64_t c;
      do {
        c = (p.offset + p.next * p.skip) % m;
        ++p.next;
      } while (table_[c] != kEmpty);
      table_[c] = p.index;
      ++p.filled;
      turns.push(i);
    }
  }

  RealServer* Pick(const ServerList&, const Flow& flow) override {
    if (servers_.empty()) return nullptr;
    uint64_t key = (uint64_t{flow.source.ip} << 16) | (port_ ? flow.source.port : 0u);
    RealServer* d = servers_[table_[Mix(key, kSeedKey) % table_.size()]];
    if (Usable(*d)) return d;
    if (!fallback_) return nullptr;
    // A bounded walk of rehashes; every entry is filled, so this only fails
    // when (nearly) no server is usable.
    const uint64_t limit = std::min<uint64_t>(table_.size(), 4 * servers_.size() + 64);
    for (uint64_t salt = 1; salt < limit; ++salt) {
      d = servers_[table_[Mix(key, kSeedKey + salt * 0x10001) % table_.size()]];
      if (Usable(*d)) return d;
    }
    // Last resort, so that fallback never fails while a server is usable.
    const size_t n = servers_.size();
    const size_t start = Mix(key, kSeedKey) % n;
    for (size_t k = 0; k < n; ++k) {
      d = servers_[(start + k) % n];
      if (Usable(*d)) return d;
    }
    return nullptr;
  }

 private:
  const bool port_;
  const bool fallback_;
  std::vector<uint32_t> table_;       // entry -> index into servers_
  std::vector<RealServer*> servers_;  // servers with weight > 0 at the last rebuild
};

}  // namespace

std::unique_ptr<Scheduler> NewMh(const SchedulerOptions& options) {
  return std::make_unique<MhScheduler>(options);
}

}  // namespace lbd::sched_internal
