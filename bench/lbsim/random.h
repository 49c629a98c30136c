// Internal header of lbsim: deterministic random numbers (a seeded generator
// and a popularity sampler), identical on every platform, unlike the std::
// distributions, whose output the standard does not pin down.
//
// Thread-safety: none; one object per simulation.
#ifndef LBD_BENCH_LBSIM_RANDOM_H_
#define LBD_BENCH_LBSIM_RANDOM_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace lbd::lbsim {

// xoshiro256** seeded through splitmix64: fast, and the same numbers on every
// platform (the std:: distributions are not specified bit for bit).
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& s : s_) {
      seed += 0x9E3779B97F4A7C15ULL;
      uint64_t z = seed;
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
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Index in [0, n) with probability proportional to 1 / (i + 1)^s.
class Popularity {
 public:
  Popularity(int n, double s) : n_(n) {
    if (s <= 0) return;
    cdf_.resize(static_cast<size_t>(n));
    double sum = 0;
    for (int i = 0; i < n; ++i) {
      sum += 1.0 / std::pow(i + 1.0, s);
      cdf_[static_cast<size_t>(i)] = sum;
    }
    for (double& c : cdf_) c /= sum;
  }
  uint32_t Sample(double u) const {
    if (cdf_.empty()) return std::min(static_cast<uint32_t>(u * n_), static_cast<uint32_t>(n_ - 1));
    auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    return static_cast<uint32_t>(std::min<ptrdiff_t>(it - cdf_.begin(), n_ - 1));
  }

 private:
  int n_;
  std::vector<double> cdf_;  // empty: uniform
};

}  // namespace lbd::lbsim

#endif  // LBD_BENCH_LBSIM_RANDOM_H_
