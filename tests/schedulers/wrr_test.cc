// wrr (ip_vs_wrr.c): full cycles give each server exactly its weight, and a
// "dest changed" event resets the cursor and rounds cw as the kernel does.
#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "test_util.h"

namespace lbd {
namespace {

using testing::Harness;

// A service whose wrr state was built from the whole list at once.
Harness BuiltAtOnce(const std::vector<int>& weights) {
  Harness h("rr");
  for (int w : weights) h.Add(w);
  EXPECT_TRUE(h.svc().SetScheduler("wrr", {}).ok());
  return h;
}

std::map<char, int> Count(const std::string& s) {
  std::map<char, int> m;
  for (char c : s) ++m[c];
  return m;
}

std::string ParamName(const ::testing::TestParamInfo<std::vector<int>>& p) {
  std::string n = "w";
  for (int w : p.param) {
    n += '_';
    n += std::to_string(w);
  }
  return n;
}

class WrrCycle : public ::testing::TestWithParam<std::vector<int>> {};

// One cycle is sum(w)/gcd picks with each server w/gcd times; gcd cycles give
// each server exactly its weight. Cycles repeat identically.
TEST_P(WrrCycle, EachServerGetsExactlyItsWeight) {
  const std::vector<int>& weights = GetParam();
  int g = 0, sum = 0;
  for (int w : weights) {
    if (w > 0) g = std::gcd(g, w);
    sum += w;
  }
  Harness h = BuiltAtOnce(weights);
  const std::string cycle = h.Picks(sum / g);
  std::map<char, int> per_cycle = Count(cycle);
  std::string full = cycle;
  for (int k = 1; k < g; ++k) {
    std::string next = h.Picks(sum / g);
    EXPECT_EQ(next, cycle) << "cycle " << k;
    full += next;
  }
  std::map<char, int> total = Count(full);
  for (size_t i = 0; i < weights.size(); ++i) {
    const char c = static_cast<char>('A' + i);
    EXPECT_EQ(per_cycle[c], weights[i] / g) << c << " in " << cycle;
    EXPECT_EQ(total[c], weights[i]) << c;
  }
  EXPECT_EQ(total['-'], 0);
}

INSTANTIATE_TEST_SUITE_P(WeightSets, WrrCycle,
                         ::testing::Values(std::vector<int>{4, 3, 2}, std::vector<int>{1, 1, 1},
                                           std::vector<int>{5, 1}, std::vector<int>{7},
                                           std::vector<int>{4, 6, 2},      // gcd 2
                                           std::vector<int>{9, 6, 3},      // gcd 3
                                           std::vector<int>{10, 0, 5},     // gcd 5, a zero
                                           std::vector<int>{0, 100, 1},    // skewed
                                           std::vector<int>{12, 18, 30}),  // gcd 6
                         ParamName);

TEST(Wrr, GcdStepSequence) {
  // di = 2, mw = 6 - 1 = 5: cw 5 -> B, cw 3 -> A B, cw 1 -> A B C.
  Harness h = BuiltAtOnce({4, 6, 2});
  EXPECT_EQ(h.Picks(12),
            "BABABC"
            "BABABC");
}

// dest changed mid-cycle with the same weights (like ipvsadm -e): the cursor
// goes back to the head, cw (3, with di 1) is kept.
TEST(Wrr, ChangeMidCycleRestartsFromHeadKeepingCw) {
  Harness h = BuiltAtOnce({4, 3, 2});
  EXPECT_EQ(h.Picks(3), "AAB");  // now cw = 3, cursor on B
  h.SetWeight(2, 2);
  // cw 3: A B; cw 2: A B C; cw 1: A B C; then a fresh cycle.
  EXPECT_EQ(h.Picks(17),
            "AB"
            "ABC"
            "ABC"
            "AABABCABC");
}

// With a new gcd > 1, cw is rounded to (cw / di) * di + 1.
TEST(Wrr, ChangeMidCycleRoundsCwToNewGcd) {
  Harness h = BuiltAtOnce({6, 1});
  EXPECT_EQ(h.Picks(3), "AAA");  // cw 6, 5, 4
  h.SetWeight(1, 4);             // di 2, mw 5; cw 4 -> 5
  // cw 5: A; cw 3: A B; cw 1: A B; repeat. (Without the rounding: A B A B A...)
  EXPECT_EQ(h.Picks(10),
            "AABAB"
            "AABAB");
}

// cw above the new maximum starts over at the new maximum.
TEST(Wrr, ChangeBelowCwResetsToNewMax) {
  Harness h = BuiltAtOnce({8, 1});
  EXPECT_EQ(h.Picks(1), "A");  // cw 8
  h.SetWeight(0, 2);           // mw 2 < cw 8
  EXPECT_EQ(h.Picks(6),
            "A"
            "AB"
            "A"
            "AB");
}

TEST(Wrr, AddingServerMidCycle) {
  Harness h = BuiltAtOnce({2, 2});
  EXPECT_EQ(h.Picks(1), "A");  // di 2, mw 1, cw 1
  h.Add(3);                    // di 1, mw 3; cw 1 kept; cursor to head
  EXPECT_EQ(h.Picks(3 + 7),
            "ABC"
            "CABCABC");
}

TEST(Wrr, OverloadedIsSkippedWithoutRebuild) {
  Harness h = BuiltAtOnce({4, 3, 2});
  h.At(1)->SetOverloaded(true);
  // cw 4: A; 3: A; 2: A C; 1: A C.
  EXPECT_EQ(h.Picks(12),
            "AAACAC"
            "AAACAC");
}

TEST(Wrr, AllOverloadedIsNoneFromAnyCursor) {
  for (int k = 0; k < 9; ++k) {
    Harness g = BuiltAtOnce({4, 3, 2});
    g.Picks(k);  // leave the cursor and cw anywhere in the cycle
    for (int i = 0; i < 3; ++i) g.At(i)->SetOverloaded(true);
    EXPECT_EQ(g.Picks(3), "---") << "after " << k << " picks";
    g.At(2)->SetOverloaded(false);
    EXPECT_EQ(g.Picks(3), "CCC");
  }
}

TEST(Wrr, ZeroWeightsNeverPicked) {
  Harness h = BuiltAtOnce({0, 3, 0, 1});
  EXPECT_EQ(h.Picks(8), "BBBDBBBD");
}

}  // namespace
}  // namespace lbd
