// sh (ip_vs_sh.c): the weighted bucket table, stability, and the port and
// fallback flags.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace lbd {
namespace {

using testing::Harness;
using testing::ShKeyForBucket;

// The 256-letter table ip_vs_sh_reassign() builds: walking the list
// cyclically, each server owns `weight` consecutive buckets (weight 0: one).
std::string ExpectedTable(const std::vector<int>& weights) {
  std::string t;
  for (size_t p = 0; t.size() < 256; p = (p + 1) % weights.size()) {
    for (int k = 0; k < std::max(weights[p], 1) && t.size() < 256; ++k) {
      t += weights[p] > 0 ? static_cast<char>('A' + p) : '-';
    }
  }
  return t;
}

std::string ObservedTable(Harness& h) {
  std::string t;
  for (unsigned b = 0; b < 256; ++b) t += h.Pick(ShKeyForBucket(b));
  return t;
}

TEST(Sh, ServerWithWeightWOwnsWConsecutiveBuckets) {
  for (const std::vector<int>& weights : std::vector<std::vector<int>>{
           {1}, {1, 1, 1}, {3, 1, 2}, {3, 1, 2, 0}, {5, 0, 7}, {200, 100}, {300, 1}}) {
    Harness h("sh");
    for (int w : weights) h.Add(w);
    EXPECT_EQ(ObservedTable(h), ExpectedTable(weights)) << ::testing::PrintToString(weights);
  }
}

TEST(Sh, TableRebuiltOnWeightChangeAndRemoval) {
  Harness h("sh");
  h.AddAll({1, 2, 3});
  EXPECT_EQ(ObservedTable(h), ExpectedTable({1, 2, 3}));
  h.SetWeight(0, 4);
  EXPECT_EQ(ObservedTable(h), ExpectedTable({4, 2, 3}));
  h.Remove(1);
  std::string t = ObservedTable(h);
  for (char& c : t) c = c == 'C' ? 'B' : c;  // C is now second in the list
  EXPECT_EQ(t, ExpectedTable({4, 3}));
}

TEST(Sh, OverloadDoesNotRebuild) {
  Harness h("sh");
  h.AddAll({1, 1});
  h.At(0)->SetOverloaded(true);
  std::string t = ObservedTable(h);
  for (unsigned b = 0; b < 256; ++b) EXPECT_EQ(t[b], b % 2 == 0 ? '-' : 'B') << b;
}

TEST(Sh, StableForASource) {
  Harness h("sh");
  h.AddAll({2, 3, 1, 4});
  std::vector<char> first;
  for (uint32_t s = 0; s < 2000; ++s) first.push_back(h.Pick(0xC0A80000u + s * 131u));
  for (uint32_t s = 0; s < 2000; ++s) {
    EXPECT_EQ(h.Pick(0xC0A80000u + s * 131u, 0x01020304u + s, static_cast<uint16_t>(s)), first[s]);
  }
}

// Without the port flag the source port is ignored; with it, the key is
// port + address (mod 2^32). 256 servers of weight 1 make bucket b server b.
TEST(Sh, PortFlag) {
  Harness plain("sh");
  Harness port("sh", {.hash_port = true});
  for (int i = 0; i < 256; ++i) {
    plain.Add(1);
    port.Add(1);
  }
  auto server = [](Harness& h, uint32_t src, uint16_t sport) {
    auto rs = h.svc().Pick(Flow{{src, sport}, {0xC0000264, 80}});
    return rs ? static_cast<int>(rs->endpoint().ip - testing::kServerBase) : -1;
  };
  for (unsigned b = 0; b < 256; b += 5) {
    const uint32_t key = ShKeyForBucket(b);
    for (uint16_t p : {uint16_t{0}, uint16_t{1}, uint16_t{80}, uint16_t{40000}}) {
      EXPECT_EQ(server(plain, key, p), static_cast<int>(b));
      EXPECT_EQ(server(port, key - p, p), static_cast<int>(b));
    }
  }
  // The sum wraps modulo 2^32: 255.255.255.255 port 1 is key 0, bucket 0.
  EXPECT_EQ(server(port, 0xFFFFFFFFu, 1), 0);
}

TEST(Sh, FlagsRejectedByOtherSchedulers) {
  EXPECT_TRUE(Scheduler::Create("sh", {.hash_port = true, .hash_fallback = true}).ok());
  EXPECT_FALSE(Scheduler::Create("wrr", {.hash_port = true}).ok());
  EXPECT_FALSE(Scheduler::Create("dh", {.hash_fallback = true}).ok());
}

// ip_vs_sh_get_fallback() walks buckets ((ih + offset) % 256 + ih) % 256:
// from bucket 10 it tries 20, 21, 22...; from 200 it tries 144, 145...
TEST(Sh, FallbackWalksTheKernelsOrder) {
  Harness h("sh", {.hash_fallback = true});
  Harness strict("sh");
  for (int i = 0; i < 256; ++i) {
    h.Add(1);
    strict.Add(1);
  }
  h.SetWeight(10, 0);  // still owns exactly bucket 10
  strict.SetWeight(10, 0);
  EXPECT_EQ(strict.Pick(ShKeyForBucket(10)), '-');
  auto index = [&](uint32_t src) {
    auto rs = h.svc().Pick(Flow{{src, 0}, {0, 0}});
    return rs ? static_cast<int>(rs->endpoint().ip - testing::kServerBase) : -1;
  };
  EXPECT_EQ(index(ShKeyForBucket(10)), 20);
  h.At(20)->SetOverloaded(true);
  EXPECT_EQ(index(ShKeyForBucket(10)), 21);
  h.At(200)->SetOverloaded(true);
  EXPECT_EQ(index(ShKeyForBucket(200)), 144);
  EXPECT_EQ(index(ShKeyForBucket(11)), 11);  // usable: no walk
}

TEST(Sh, FallbackWithNothingUsableIsNone) {
  Harness h("sh", {.hash_fallback = true});
  h.AddAll({1, 2});
  h.At(0)->SetOverloaded(true);
  h.At(1)->SetOverloaded(true);
  for (unsigned b = 0; b < 256; b += 17) EXPECT_EQ(h.Pick(ShKeyForBucket(b)), '-');
  h.At(1)->SetOverloaded(false);
  for (unsigned b = 0; b < 256; b += 17) EXPECT_EQ(h.Pick(ShKeyForBucket(b)), 'B');
}

}  // namespace
}  // namespace lbd
