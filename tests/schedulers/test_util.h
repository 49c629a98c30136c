// Internal header of the scheduler tests: a Service harness that names real
// servers A, B, C..., a fake Clock, and the inverses of the sh/dh hashes so a
// test can aim a flow at a chosen bucket.
#ifndef LBD_TESTS_SCHEDULERS_TEST_UTIL_H_
#define LBD_TESTS_SCHEDULERS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "lbsched/service.h"

namespace lbd::testing {

// Server number n (0 = 'A') lives at 10.0.0.n:80.
inline constexpr uint32_t kServerBase = 0x0A000000u;
inline Endpoint Ep(int n) { return Endpoint{kServerBase + static_cast<uint32_t>(n), 80}; }
inline char Letter(const RealServer* rs) {
  return rs != nullptr ? static_cast<char>('A' + (rs->endpoint().ip - kServerBase)) : '-';
}

// Test time: starts at 1 h and moves only when told. Not thread-safe.
class FakeClock final : public Clock {
 public:
  std::chrono::nanoseconds Now() const override { return now_; }
  void Advance(std::chrono::nanoseconds d) { now_ += d; }

 private:
  std::chrono::nanoseconds now_ = std::chrono::hours(1);
};

// A Service whose servers are added in order as A, B, C...
class Harness {
 public:
  explicit Harness(std::string_view sched, const SchedulerOptions& o = {})
      : svc_(std::move(Service::Create(sched, o)).value()) {}

  // Adds the next server (A, then B, ...).
  std::shared_ptr<RealServer> Add(int weight, uint32_t upper = 0, uint32_t lower = 0) {
    auto rs = svc_->AddServer(
        Ep(next_++), {.weight = weight, .upper_threshold = upper, .lower_threshold = lower});
    EXPECT_TRUE(rs.ok()) << rs.status().message();
    return rs.ok() ? rs.value() : nullptr;
  }
  void AddAll(std::initializer_list<int> weights) {
    for (int w : weights) Add(w);
  }
  std::shared_ptr<RealServer> At(int i) const { return svc_->Find(Ep(i)); }
  void SetWeight(int i, int w) { ASSERT_TRUE(svc_->SetWeight(Ep(i), w).ok()); }
  void Remove(int i) { ASSERT_TRUE(svc_->RemoveServer(Ep(i)).ok()); }

  // Letter of the server picked for the flow, or '-'.
  char Pick(uint32_t src = 0x0A0000FF, uint32_t dst = 0xC0000264, uint16_t sport = 1234) {
    return Letter(svc_->Pick(Flow{{src, sport}, {dst, 80}}).get());
  }
  char PickDst(uint32_t dst) { return Pick(0x0A0000FF, dst); }
  std::string Picks(int k) {
    std::string s;
    for (int i = 0; i < k; ++i) s += Pick();
    return s;
  }
  Service& svc() { return *svc_; }

 private:
  std::unique_ptr<Service> svc_;
  int next_ = 0;
};

// lblc/lblcr under a flood of distinct destinations (kernel periodic check +
// lbd's hard cap, schedulers/src/locality_table.h), seen through picks only:
// with idle servers every new destination goes to A (first on the tie); once A
// is busier, wlc says B, so a destination still picking A is one the table
// remembers. Soft limit 100, hard cap 1000, 24 h expiration.
inline void ExpectFloodBounded(std::string_view sched) {
  using namespace std::chrono_literals;
  FakeClock clock;
  Harness h(sched, {.locality_expiration = 24h,
                    .locality_soft_limit = 100,
                    .locality_max_entries = 1000,
                    .clock = &clock});
  h.AddAll({1, 1});
  auto dst = [](uint32_t d) { return 0x0C000000u + d; };
  // 20 000 destinations in 20 s: far more than the cap.
  for (uint32_t d = 0; d < 20'000; ++d, clock.Advance(1ms)) ASSERT_EQ(h.PickDst(dst(d)), 'A');
  h.At(0)->SetCounters(0, 1);  // A busier (overhead 1 > 0), not lblc-overloaded
  // At the cap the first 1000 are remembered and later ones were not stored
  // (and still are not: the table is full).
  for (uint32_t d = 0; d < 1000; d += 37) ASSERT_EQ(h.PickDst(dst(d)), 'A') << d;
  for (uint32_t d = 1000; d < 20'000; d += 997) ASSERT_EQ(h.PickDst(dst(d)), 'B') << d;
  // 30 minutes pass; destinations 0..9 stay in use. From the 6th minute each
  // check (every 60 s, above the soft limit) drops min(4/3 * excess, 100 / 2)
  // entries idle for 6 min, down to the soft limit.
  for (int minute = 0; minute < 30; ++minute) {
    clock.Advance(60s);
    for (uint32_t d = 0; d < 10; ++d) ASSERT_EQ(h.PickDst(dst(d)), 'A') << d;
  }
  size_t remembered = 0;
  for (uint32_t d = 0; d < 1000; ++d) remembered += h.PickDst(dst(d)) == 'A' ? 1 : 0;
  EXPECT_EQ(remembered, 100u);  // the soft limit: the 10 in use and 90 idle ones
}

// The multiplicative inverse of an odd number modulo 2^32 (Newton's iteration:
// each step doubles the correct low bits, 3 -> 6 -> 12 -> 24 -> 48).
constexpr uint32_t InverseMod2To32(uint32_t a) {
  uint32_t x = a;
  for (int i = 0; i < 5; ++i) x *= 2u - a * x;
  return x;
}

// sh's bucket of a key: the kernel's hash_32(key, 8) with GOLDEN_RATIO_32.
constexpr unsigned ShBucket(uint32_t key) { return (key * 0x61C88647u) >> 24; }
// A key (source address + port with the port flag) that lands in `bucket`.
constexpr uint32_t ShKeyForBucket(unsigned bucket) {
  return (uint32_t{bucket} << 24) * InverseMod2To32(0x61C88647u);
}
// dh's bucket of a destination: ip_vs_dh_hashkey().
constexpr unsigned DhBucket(uint32_t dst) { return (dst * 2654435761u) & 255u; }
constexpr uint32_t DhDestinationForBucket(unsigned bucket) {
  return uint32_t{bucket} * InverseMod2To32(2654435761u);
}

static_assert(InverseMod2To32(0x61C88647u) * 0x61C88647u == 1u);
static_assert(ShBucket(ShKeyForBucket(200)) == 200);
static_assert(DhBucket(DhDestinationForBucket(77)) == 77);

}  // namespace lbd::testing

#endif  // LBD_TESTS_SCHEDULERS_TEST_UTIL_H_
