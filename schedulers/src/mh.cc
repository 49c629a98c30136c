// mh: Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software
// Network Load Balancer", NSDI 2016, section 3.4; cf. the kernel's ip_vs_mh.c).
//
// A lookup table of M entries (M prime, 65537 by default). Each server with
// weight > 0 has a permutation of the table given by offset = h1 % M and
// skip = h2 % (M - 1) + 1, where h1 and h2 hash its address and port only, so
// the permutation does not depend on the other servers: removing one of N
// servers moves about 1/N of the keys. Weights: each server gets a quota of
// floor(M * w / sum(w)) entries (the remainder to the largest fractions), and
// rounds in list order let every server under its quota claim its next free
// preferred entry; the kernel uses gcd-reduced turns per round, which is
// coarser. A key (source address,
// plus source port with hash_port) selects entry hash(key) % M; with
// hash_fallback an unusable server is skipped by rehashing with salts 1, 2, ...
// Complexity: O(1) per pick; a change marks the table stale and the next pick
// rebuilds it in O(M log M) expected probes, 4 bytes per entry.
// No allocation when picking, except in that rebuild.
#include <algorithm>
#include <utility>
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

  // The table depends only on the list at pick time, so a change just marks
  // it stale: a burst of changes (a reload, a trace) costs one rebuild.
  void OnServersChanged(const ServerList&, ServerChange) override { stale_ = true; }

  RealServer* Pick(const ServerList& servers, const Flow& flow) override {
    if (stale_) Rebuild(servers);
    return Lookup(flow);
  }

 private:
  void Rebuild(const ServerList& servers) {
    stale_ = false;
    // The table is a function of the (address, weight) list of the servers
    // with weight > 0: an unchanged list (a weight set to its old value, a
    // down/up pair between two picks) keeps it; only the server objects are
    // refreshed (a removed and re-added address is a new object).
    signature_scratch_.clear();
    servers_.clear();
    for (const auto& rs : servers) {
      if (rs->weight() <= 0) continue;
      signature_scratch_.push_back({rs->endpoint(), rs->weight()});
      servers_.push_back(rs.get());
    }
    if (built_ && signature_scratch_ == signature_) return;
    built_ = true;
    signature_.swap(signature_scratch_);
    std::fill(table_.begin(), table_.end(), kEmpty);
    const auto m = static_cast<uint32_t>(table_.size());
    struct Perm {
      uint32_t pos, skip;  // next preferred entry, and the stride (offset + k * skip) % m
      int64_t weight, filled;
    };
    std::vector<Perm> perms;
    for (const auto& rs : servers) {
      int w = rs->weight();
      if (w <= 0) continue;
      uint64_t key = (uint64_t{rs->endpoint().ip} << 16) | rs->endpoint().port;
      perms.push_back({static_cast<uint32_t>(Mix(key, kSeedOffset) % m),
                       static_cast<uint32_t>(Mix(key, kSeedSkip) % (m - 1) + 1), w, 0});
    }
    if (perms.empty()) return;
    // Server i claims its next free preferred entry.
    auto claim = [&](uint32_t i) {
      Perm& p = perms[i];
      uint32_t c;
      do {
        c = p.pos;
        p.pos += p.skip;
        if (p.pos >= m) p.pos -= m;
      } while (table_[c] != kEmpty);
      table_[c] = i;
      ++p.filled;
    };
    // Quotas proportional to weight: floor(M * w / W), the remainder one each to
    // the largest fractional parts (earlier servers first on ties). Rounds in
    // list order then let every server below its quota claim one entry.
    const auto n = static_cast<uint32_t>(perms.size());
    int64_t total_weight = 0;
    for (const Perm& p : perms) total_weight += p.weight;
    std::vector<uint32_t> quota(n);
    std::vector<uint32_t> by_fraction(n);
    uint32_t assigned = 0;
    for (uint32_t i = 0; i < n; ++i) {
      quota[i] = static_cast<uint32_t>(int64_t{m} * perms[i].weight / total_weight);
      assigned += quota[i];
      by_fraction[i] = i;
    }
    auto fraction = [&](uint32_t i) { return int64_t{m} * perms[i].weight % total_weight; };
    std::stable_sort(by_fraction.begin(), by_fraction.end(),
                     [&](uint32_t a, uint32_t b) { return fraction(a) > fraction(b); });
    for (uint32_t k = 0; assigned < m; ++k, ++assigned) ++quota[by_fraction[k % n]];
    std::vector<uint32_t> active(n);
    for (uint32_t i = 0; i < n; ++i) active[i] = i;
    for (uint32_t placed = 0; placed < m;) {
      size_t keep = 0;
      for (uint32_t i : active) {
        claim(i);
        ++placed;
        if (static_cast<uint32_t>(perms[i].filled) < quota[i]) active[keep++] = i;
      }
      active.resize(keep);
    }
  }

  RealServer* Lookup(const Flow& flow) const {
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

  const bool port_;
  const bool fallback_;
  std::vector<uint32_t> table_;       // entry -> index into servers_
  std::vector<RealServer*> servers_;  // servers with weight > 0 at the last rebuild
  bool stale_ = true;
  bool built_ = false;
  std::vector<std::pair<Endpoint, int>> signature_;  // what the table was built from
  std::vector<std::pair<Endpoint, int>> signature_scratch_;
};

}  // namespace

std::unique_ptr<Scheduler> NewMh(const SchedulerOptions& options) {
  return std::make_unique<MhScheduler>(options);
}

}  // namespace lbd::sched_internal
