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
// Complexity: O(1) per pick, no allocation. A change builds a new table in
// O(M log M) expected probes (about 1 ms for M = 65537), 4 bytes per entry,
// off the service's lock: picks keep using the old table meanwhile, and the
// new one is swapped in under the lock (TableSchedulerOf, STYLE 7).
#include <algorithm>
#include <utility>
#include <vector>

#include "common.h"

namespace lbd::sched_internal {
namespace {

constexpr uint64_t kSeedOffset = 1;
constexpr uint64_t kSeedSkip = 2;
constexpr uint64_t kSeedKey = 3;
constexpr uint32_t kEmpty = UINT32_MAX;

// The immutable state a pick reads. Tables built from the same (address,
// weight) list share their lookup array.
struct MhTable {
  std::shared_ptr<const std::vector<uint32_t>> lookup;  // entry -> index into servers
  std::vector<RealServer*> servers;                     // weight > 0 at build time
  std::vector<std::pair<Endpoint, int>> signature;      // what `lookup` was built from
};

class MhScheduler final : public TableSchedulerOf<MhTable> {
 public:
  explicit MhScheduler(const SchedulerOptions& o)
      : port_(o.hash_port), fallback_(o.hash_fallback), size_(o.mh_table_size) {
    table_ = std::make_shared<const MhTable>();
  }

  std::string_view name() const override { return "mh"; }

  RealServer* Pick(const ServerList&, const Flow& flow) override {
    const MhTable& t = *table_;
    if (t.servers.empty()) return nullptr;
    const std::vector<uint32_t>& lookup = *t.lookup;
    uint64_t key = (uint64_t{flow.source.ip} << 16) | (port_ ? flow.source.port : 0u);
    RealServer* d = t.servers[lookup[Mix(key, kSeedKey) % lookup.size()]];
    if (Usable(*d)) return d;
    if (!fallback_) return nullptr;
    // A bounded walk of rehashes; every entry is filled, so this only fails
    // when (nearly) no server is usable.
    const uint64_t limit = std::min<uint64_t>(lookup.size(), 4 * t.servers.size() + 64);
    for (uint64_t salt = 1; salt < limit; ++salt) {
      d = t.servers[lookup[Mix(key, kSeedKey + salt * 0x10001) % lookup.size()]];
      if (Usable(*d)) return d;
    }
    // Last resort, so that fallback never fails while a server is usable.
    const size_t n = t.servers.size();
    const size_t start = Mix(key, kSeedKey) % n;
    for (size_t k = 0; k < n; ++k) {
      d = t.servers[(start + k) % n];
      if (Usable(*d)) return d;
    }
    return nullptr;
  }

 private:
  std::shared_ptr<const MhTable> Build(const ServerList& servers,
                                       std::span<const int> weights) const override {
    auto t = std::make_shared<MhTable>();
    for (size_t i = 0; i < servers.size(); ++i) {
      if (weights[i] <= 0) continue;
      t->signature.push_back({servers[i]->endpoint(), weights[i]});
      t->servers.push_back(servers[i].get());
    }
    // The lookup array is a function of the (address, weight) list of the
    // servers with weight > 0: an unchanged list (a weight set to its old
    // value, a down/up pair) keeps it; only the server objects are refreshed
    // (a removed and re-added address is a new object).
    if (table_ && table_->lookup && t->signature == table_->signature) {
      t->lookup = table_->lookup;
    } else if (!t->servers.empty()) {
      t->lookup = Populate(t->signature);
    }
    return t;
  }

  // Maglev's population (NSDI 2016 section 3.4, pseudocode 1), with quotas for
  // weights.
  std::shared_ptr<const std::vector<uint32_t>> Populate(
      const std::vector<std::pair<Endpoint, int>>& servers) const {
    auto table = std::make_shared<std::vector<uint32_t>>(size_, kEmpty);
    const uint32_t m = size_;
    struct Perm {
      uint32_t pos, skip;  // next preferred entry, and the stride (offset + k * skip) % m
      int64_t weight, filled;
    };
    std::vector<Perm> perms;
    perms.reserve(servers.size());
    for (const auto& [ep, w] : servers) {
      uint64_t key = (uint64_t{ep.ip} << 16) | ep.port;
      perms.push_back({static_cast<uint32_t>(Mix(key, kSeedOffset) % m),
                       static_cast<uint32_t>(Mix(key, kSeedSkip) % (m - 1) + 1), w, 0});
    }
    std::vector<uint32_t>& entries = *table;
    // Server i claims its next free preferred entry.
    auto claim = [&](uint32_t i) {
      Perm& p = perms[i];
      uint32_t c;
      do {
        c = p.pos;
        p.pos += p.skip;
        if (p.pos >= m) p.pos -= m;
      } while (entries[c] != kEmpty);
      entries[c] = i;
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
    return table;
  }

  const bool port_;
  const bool fallback_;
  const uint32_t size_;
};

}  // namespace

std::unique_ptr<Scheduler> NewMh(const SchedulerOptions& options) {
  return std::make_unique<MhScheduler>(options);
}

}  // namespace lbd::sched_internal
