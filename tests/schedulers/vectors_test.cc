// The test vectors of shared/reference/ipvs-schedulers.md, one test per
// bullet, in the page's order (list order as written, counters 0 unless set).
#include <gtest/gtest.h>

#include "test_util.h"

namespace lbd {
namespace {

using testing::Harness;
using testing::ShBucket;
using testing::ShKeyForBucket;

// rr A1 B1 C0: A B A B ...; with C's weight set to 1 after the 2nd pick: A B C A.
TEST(RrVectors, SkipsWeightZero) {
  Harness h("rr");
  h.AddAll({1, 1, 0});
  EXPECT_EQ(h.Picks(6), "ABABAB");
}

TEST(RrVectors, SeesWeightChangeAfterSecondPick) {
  Harness h("rr");
  h.AddAll({1, 1, 0});
  EXPECT_EQ(h.Picks(2), "AB");
  h.SetWeight(2, 1);
  EXPECT_EQ(h.Picks(4), "CABC");
}

// wrr A4 B3 C2 (built at once): A A B A B C A B C.
TEST(WrrVectors, BuiltAtOnce) {
  Harness h("rr");
  h.AddAll({4, 3, 2});
  ASSERT_TRUE(h.svc().SetScheduler("wrr", {}).ok());
  EXPECT_EQ(h.Picks(18), "AABABCABCAABABCABC");
}

// Built by adding A, B, C one at a time: the first cycle starts at cw = 1.
TEST(WrrVectors, BuiltOneAtATime) {
  Harness h("wrr");
  h.AddAll({4, 3, 2});
  EXPECT_EQ(h.Picks(21),
            "ABC"
            "AABABCABC"
            "AABABCABC");
}

// wrr A2 B2 (gcd 2): A B A B; A0 B0: none.
TEST(WrrVectors, GcdTwo) {
  Harness h("wrr");
  h.AddAll({2, 2});
  EXPECT_EQ(h.Picks(4), "ABAB");
}

TEST(WrrVectors, AllZeroIsNone) {
  Harness h("wrr");
  h.AddAll({0, 0});
  EXPECT_EQ(h.Picks(2), "--");
}

// lc A(act 1) B(act 1) C(act 0, inact 200): C (overhead 200 < 256).
TEST(LcVectors, OverheadCountsInactive) {
  Harness h("lc");
  h.AddAll({1, 1, 1});
  h.At(0)->SetCounters(1, 0);
  h.At(1)->SetCounters(1, 0);
  h.At(2)->SetCounters(0, 200);
  EXPECT_EQ(h.Pick(), 'C');
}

// wlc A w1 act1, B w3 act2: A has 256/1, B 512/3 -> B.
TEST(WlcVectors, Weighted) {
  Harness h("wlc");
  h.AddAll({1, 3});
  h.At(0)->SetCounters(1, 0);
  h.At(1)->SetCounters(2, 0);
  EXPECT_EQ(h.Pick(), 'B');
}

// sed A w1 act0, B w3 act2: A (1/1 vs 3/3 tie -> first in list).
TEST(SedVectors, TieGoesToFirst) {
  Harness h("sed");
  h.AddAll({1, 3});
  h.At(1)->SetCounters(2, 0);
  EXPECT_EQ(h.Pick(), 'A');
}

// nq A w1 act1, B w3 act0: B (idle server wins at once).
TEST(NqVectors, IdleWinsAtOnce) {
  Harness h("nq");
  h.AddAll({1, 3});
  h.At(0)->SetCounters(1, 0);
  EXPECT_EQ(h.Pick(), 'B');
}

// sh: source 192.0.2.1 -> key 0xC0000201 -> * 0x61C88647 = 0x32D51447 -> bucket 50.
TEST(ShVectors, KernelHashOfExampleSource) {
  EXPECT_EQ(0xC0000201u * 0x61C88647u, 0x32D51447u);
  EXPECT_EQ(ShBucket(0xC0000201u), 50u);
  Harness h("sh");
  h.AddAll({1, 0});
  EXPECT_EQ(h.Pick(0xC0000201u), 'A');  // bucket 50 is even: A's
}

// sh, no flags, A w1 and B w0, both up: buckets alternate A,B,A,B...; a source
// hashing to B's bucket gets none, and with `fallback` gets A.
TEST(ShVectors, WeightZeroBucketsAlternate) {
  Harness h("sh");
  h.AddAll({1, 0});
  Harness f("sh", {.hash_fallback = true});
  f.AddAll({1, 0});
  for (unsigned b = 0; b < 256; ++b) {
    SCOPED_TRACE(b);
    EXPECT_EQ(h.Pick(ShKeyForBucket(b)), b % 2 == 0 ? 'A' : '-');
    EXPECT_EQ(f.Pick(ShKeyForBucket(b)), 'A');
  }
}

// lblc A w2 act3, B w2 act0: D first picked -> wlc gives B; make B act 3 and
// A act 0 -> B is lblc-overloaded (3 > 2 and A has 0*2 < 2) -> rescheduled to A.
TEST(LblcVectors, RescheduledWhenLblcOverloaded) {
  Harness h("lblc");
  h.AddAll({2, 2});
  h.At(0)->SetCounters(3, 0);
  EXPECT_EQ(h.Pick(), 'B');
  h.At(1)->SetCounters(3, 0);
  h.At(0)->SetCounters(0, 0);
  EXPECT_EQ(h.Pick(), 'A');
  EXPECT_EQ(h.Pick(), 'A');  // the entry now names A
}

// ... and D stays B while B is not lblc-overloaded, even though wlc would now
// choose A: with A at act 1, no server has active*2 < weight.
TEST(LblcVectors, StaysWhileNotLblcOverloaded) {
  Harness h("lblc");
  h.AddAll({2, 2});
  h.At(0)->SetCounters(3, 0);
  EXPECT_EQ(h.Pick(), 'B');
  h.At(1)->SetCounters(3, 0);
  h.At(0)->SetCounters(1, 0);
  EXPECT_EQ(h.Pick(), 'B');
}

}  // namespace
}  // namespace lbd
