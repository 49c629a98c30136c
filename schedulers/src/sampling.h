// Internal header of liblbsched: the random stream and the weighted sampling
// that random, p2c and ewma share.
//
// Thread-safety: none. Rng lives in one scheduler and is used under the
// service's pick lock; a WeightTable is immutable once built.
#ifndef LBSCHED_SRC_SAMPLING_H_
#define LBSCHED_SRC_SAMPLING_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "common.h"

namespace lbd::sched_internal {

// xoshiro256** (Blackman and Vigna) seeded through splitmix64: fast, and the
// same numbers on every platform, which std::uniform_int_distribution is not.
class Rng {
 public:
  // No seed: one from std::random_device.
  explicit Rng(std::optional<uint64_t> seed) {
    uint64_t x = seed ? *seed : (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
    for (uint64_t& s : s_) {
      x += 0x9E3779B97F4A7C15ULL;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      s = z ^ (z >> 31);
    }
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n), without bias (Lemire, "Fast Random Integer Generation
  // in an Interval", 2019). REQUIRES: n > 0.
  uint64_t Below(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(Next()) * n;
    auto low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(Next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// The servers with weight > 0 at the last "dest changed" event and their
// cumulative weights, so that a weighted draw is a binary search.
struct WeightTable {
  std::vector<RealServer*> servers;
  std::vector<uint64_t> cumulative;  // cumulative[i] = sum of weights of servers[0..i]
  std::vector<int> weights;
  uint64_t total = 0;

  static std::shared_ptr<const WeightTable> Build(const ServerList& list,
                                                  std::span<const int> weights) {
    auto t = std::make_shared<WeightTable>();
    for (size_t i = 0; i < list.size(); ++i) {
      if (weights[i] <= 0) continue;
      t->total += static_cast<uint64_t>(weights[i]);
      t->servers.push_back(list[i].get());
      t->cumulative.push_back(t->total);
      t->weights.push_back(weights[i]);
    }
    return t;
  }
};

// Draws up to `out.size()` distinct usable servers (Usable(): weight > 0, no
// overload flag), each draw weighted by weight among the usable servers not
// drawn yet (successive sampling without replacement), into `out` in draw
// order, with their table weights in `out_weights`. Returns how many were
// drawn: fewer than asked only when fewer are usable.
// Cost: a draw is a binary search, retried when it meets a flagged or already
// drawn server; after a few misses the remaining draws scan the table, which
// gives the same distribution (rejection sampling conditions on exactly
// that). No allocation.
inline size_t SampleDistinct(const WeightTable& t, Rng& rng, std::span<RealServer*> out,
                             std::span<int> out_weights) {
  const size_t want = std::min(out.size(), t.servers.size());
  size_t k = 0;
  auto drawn = [&](RealServer* rs) {
    return std::find(out.begin(), out.begin() + k, rs) != out.begin() + k;
  };
  const size_t max_tries = 4 * want + 8;
  for (size_t tries = 0; k < want && tries < max_tries; ++tries) {
    const uint64_t r = rng.Below(t.total);
    const auto i = static_cast<size_t>(
        std::upper_bound(t.cumulative.begin(), t.cumulative.end(), r) - t.cumulative.begin());
    RealServer* rs = t.servers[i];
    if (!Usable(*rs) || drawn(rs)) continue;
    out_weights[k] = t.weights[i];
    out[k++] = rs;
  }
  while (k < want) {
    uint64_t total = 0;
    for (size_t i = 0; i < t.servers.size(); ++i) {
      if (Usable(*t.servers[i]) && !drawn(t.servers[i]))
        total += static_cast<uint64_t>(t.weights[i]);
    }
    if (total == 0) break;
    uint64_t r = rng.Below(total);
    for (size_t i = 0; i < t.servers.size(); ++i) {
      RealServer* rs = t.servers[i];
      if (!Usable(*rs) || drawn(rs)) continue;
      const auto w = static_cast<uint64_t>(t.weights[i]);
      if (r < w) {
        out_weights[k] = t.weights[i];
        out[k++] = rs;
        break;
      }
      r -= w;
    }
  }
  return k;
}

// The most choices a pick may sample (SchedulerOptions::choices).
inline constexpr int kMaxChoices = 64;

}  // namespace lbd::sched_internal

#endif  // LBSCHED_SRC_SAMPLING_H_
