// dh (ip_vs_dh.c): 256 buckets round-robin, one per server whatever its
// weight, keyed by (destination * 2654435761) & 255.
#include <gtest/gtest.h>

#include "test_util.h"

namespace lbd {
namespace {

using testing::DhBucket;
using testing::DhDestinationForBucket;
using testing::Harness;

TEST(Dh, KernelHashKey) {
  // 192.0.2.100: 0xC0000264 * 2654435761 = ...0x84 in the low byte.
  EXPECT_EQ(DhBucket(0xC0000264u), (0xC0000264ull * 2654435761ull) & 255);
  Harness h("dh");
  for (int i = 0; i < 256; ++i) h.Add(1);
  EXPECT_EQ(h.svc().Pick(Flow{{1, 1}, {0xC0000264u, 80}})->endpoint().ip - testing::kServerBase,
            DhBucket(0xC0000264u));
}

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
