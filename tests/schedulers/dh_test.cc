// dh (ip_vs_dh.c): 256 buckets round-robin, one per server whatever its
// weight, keyed by (destination * 2654435761) & 255.
#include <gtest/gtest.h>

#include "test_util.h"

namespace lbd {
namespace {

using testing::DhDestinationForBucket;
using testing::Harness;

// Vectors derived by hand, not by the formula the scheduler uses. Only the low
// byte of dst * 2654435761 is kept, and the low byte of a product depends only
// on the low bytes of its factors: 2654435761 = 0x9E3779B1, low byte 0xB1 =
// 177, so bucket = (low byte of dst) * 177 mod 256.
struct DhVector {
  uint32_t dst;
  unsigned bucket;
};
constexpr DhVector kDhVectors[] = {
    {0x01010101u, 177},  // 1.1.1.1: 1 * 177 = 177 (the reference's example)
    {0xC0000264u, 36},   // 192.0.2.100: 0x64 = 100; 100 * 177 = 17700 = 69 * 256 + 36 (0x24)
    {0x0A000002u, 98},   // 10.0.0.2: 2 * 177 = 354 = 256 + 98
    {0xCB0071FFu, 79},   // 203.0.113.255: 255 * 177 = 45135 = 176 * 256 + 79
    {0xC6336407u, 215},  // 198.51.100.7: 7 * 177 = 1239 = 4 * 256 + 215
    {0x00000000u, 0},    // 0.0.0.0: 0
};

TEST(Dh, KernelHashKey) {
  // 256 servers of weight 1: bucket b holds server b.
  Harness h("dh");
  for (int i = 0; i < 256; ++i) h.Add(1);
  for (const DhVector& v : kDhVectors) {
    for (uint16_t port : {80, 443, 65535}) {  // the port is not part of the key
      auto rs = h.svc().Pick(Flow{{1, 1}, {v.dst, port}});
      ASSERT_NE(rs, nullptr);
      EXPECT_EQ(rs->endpoint().ip - testing::kServerBase, v.bucket) << std::hex << v.dst;
    }
  }
}

// The tests below reach every bucket through DhDestinationForBucket; these
// pin that helper to the hand-derived vectors (177 is odd, so the low byte of
// the destination for a bucket is unique).
static_assert((DhDestinationForBucket(177) & 255u) == 0x01u);
static_assert((DhDestinationForBucket(36) & 255u) == 0x64u);
static_assert((DhDestinationForBucket(98) & 255u) == 0x02u);
static_assert((DhDestinationForBucket(79) & 255u) == 0xFFu);
static_assert((DhDestinationForBucket(215) & 255u) == 0x07u);

TEST(Dh, BucketsRoundRobinIgnoringWeights) {
  Harness h("dh");
  h.AddAll({5, 1, 3});
  for (unsigned b = 0; b < 256; ++b) {
    EXPECT_EQ(h.PickDst(DhDestinationForBucket(b)), static_cast<char>('A' + b % 3)) << b;
  }
}

TEST(Dh, StableForADestinationWhateverTheSource) {
  Harness h("dh");
  h.AddAll({1, 2, 3, 4, 5});
  for (uint32_t d = 0; d < 500; ++d) {
    const uint32_t dst = 0xCB000000u + d * 977u;
    const char first = h.Pick(1, dst);
    for (uint32_t s = 0; s < 5; ++s) EXPECT_EQ(h.Pick(0x0B000000u + s * 12345u, dst), first);
  }
}

TEST(Dh, UnusableBucketIsNoneWithoutFallback) {
  Harness h("dh");
  h.AddAll({1, 0, 1});
  h.At(2)->SetOverloaded(true);
  for (unsigned b = 0; b < 256; ++b) {
    EXPECT_EQ(h.PickDst(DhDestinationForBucket(b)), b % 3 == 0 ? 'A' : '-') << b;
  }
}

TEST(Dh, RemovalReassigns) {
  Harness h("dh");
  h.AddAll({1, 1, 1});
  h.Remove(0);
  for (unsigned b = 0; b < 256; ++b) {
    EXPECT_EQ(h.PickDst(DhDestinationForBucket(b)), b % 2 == 0 ? 'B' : 'C') << b;
  }
}

}  // namespace
}  // namespace lbd
