// random and p2c: the sampling schedulers (schedulers/src/sampling.h), with
// their random stream seeded so every expectation here is exact or a fixed
// draw checked against a tolerance that the seed makes deterministic.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <string>

#include "test_util.h"

namespace lbd {
namespace {

using testing::Harness;

SchedulerOptions Seeded(uint64_t seed, int choices = 2) {
  SchedulerOptions o;
  o.random_seed = seed;
  o.choices = choices;
  return o;
}

std::map<char, int> Count(Harness& h, int picks) {
  std::map<char, int> n;
  for (int i = 0; i < picks; ++i) ++n[h.Pick()];
  return n;
}

TEST(Random, SameSeedSamePicksOtherSeedOthers) {
  for (const char* sched : {"random", "p2c", "ewma"}) {
    SCOPED_TRACE(sched);
    Harness a(sched, Seeded(42)), b(sched, Seeded(42)), c(sched, Seeded(43));
    for (Harness* h : {&a, &b, &c}) h->AddAll({1, 2, 3, 1, 5});
    const std::string pa = a.Picks(200);
    EXPECT_EQ(pa, b.Picks(200));
    EXPECT_NE(pa, c.Picks(200));
  }
}

TEST(Random, SharesFollowWeights) {
  Harness h("random", Seeded(1));
  h.AddAll({1, 2, 3, 4});
  constexpr int kPicks = 200000;
  std::map<char, int> n = Count(h, kPicks);
  for (int i = 0; i < 4; ++i) {
    // Binomial standard deviation is at most 0.0011 here: 5 sigma.
    EXPECT_NEAR(n['A' + i] / double{kPicks}, (i + 1) / 10.0, 0.0055) << char('A' + i);
  }
}

TEST(Random, FlaggedServersAreSkippedAndTheRestKeepTheirRatio) {
  // A holds almost all the weight and is flagged: the retries run out and the
  // exact scan decides, with B and C still 1:3.
  Harness h("random", Seeded(2));
  h.AddAll({5000, 1, 3});
  h.At(0)->SetOverloaded(true);
  std::map<char, int> n = Count(h, 40000);
  EXPECT_EQ(n['A'], 0);
  EXPECT_NEAR(n['B'] / 40000.0, 0.25, 0.01);
  h.At(1)->SetOverloaded(true);
  h.At(2)->SetOverloaded(true);
  EXPECT_EQ(h.Picks(10), "----------");
}

TEST(P2c, ChoicesOutsideOneToSixtyFourOrOnAnotherSchedulerAreErrors) {
  for (int bad : {0, -1, 65}) {
    auto s = Scheduler::Create("p2c", Seeded(1, bad));
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.status().message().find("out of range 1..64"), std::string::npos);
  }
  EXPECT_TRUE(Scheduler::Create("p2c", Seeded(1, 64)).ok());
  EXPECT_TRUE(Scheduler::Create("ewma", Seeded(1, 3)).ok());
  auto wlc = Scheduler::Create("wlc", Seeded(1, 3));
  ASSERT_FALSE(wlc.ok());
  EXPECT_NE(wlc.status().message().find("only to the p2c and ewma"), std::string::npos);
}

TEST(P2c, OfTwoServersAlwaysTheLeastActivePerWeight) {
  Harness h("p2c", Seeded(3));
  h.AddAll({2, 1});
  h.At(0)->SetCounters(3, 900);  // 3/2 < 2/1; inactive connections do not count
  h.At(1)->SetCounters(2, 0);
  EXPECT_EQ(h.Picks(50), std::string(50, 'A'));
  h.At(0)->SetCounters(5, 0);  // 5/2 > 2/1
  EXPECT_EQ(h.Picks(50), std::string(50, 'B'));
}

TEST(P2c, TiesGoToTheFirstDrawWhichIsWeighted) {
  // Both idle: the winner is the first draw, A with probability 3/4.
  Harness h("p2c", Seeded(4));
  h.AddAll({3, 1});
  std::map<char, int> n = Count(h, 40000);
  EXPECT_NEAR(n['A'] / 40000.0, 0.75, 0.01);
}

TEST(P2c, AsManyChoicesAsServersIsTheGlobalLeast) {
  Harness h("p2c", Seeded(5, 8));
  h.AddAll({1, 1, 2, 1, 1});
  const int active[] = {4, 3, 5, 2, 6};  // per weight: 4 3 2.5 2 6 -> D
  for (int i = 0; i < 5; ++i) h.At(i)->SetCounters(active[i], 0);
  EXPECT_EQ(h.Picks(30), std::string(30, 'D'));
}

TEST(P2c, OneChoiceIsAWeightedRandomPick) {
  Harness h("p2c", Seeded(6, 1));
  h.AddAll({1, 3});
  h.At(1)->SetCounters(100, 0);  // load does not matter with one choice
  std::map<char, int> n = Count(h, 40000);
  EXPECT_NEAR(n['B'] / 40000.0, 0.75, 0.01);
}

// The classic result, small: 1000 requests that stay on 1000 equal servers.
// With one random choice some server gets 5 or more; with two, at most 4.
TEST(P2c, TwoChoicesFlattenTheMaximum) {
  auto max_load = [](const char* sched) {
    Harness h(sched, Seeded(7));
    for (int i = 0; i < 1000; ++i) h.Add(1);
    int most = 0;
    for (int i = 0; i < 1000; ++i) {
      auto rs = h.svc().Pick(Flow{});
      rs->ConnectionOpened(true);
      most = std::max(most, rs->active());
    }
    return most;
  };
  EXPECT_GE(max_load("random"), 5);
  EXPECT_LE(max_load("p2c"), 4);
}

}  // namespace
}  // namespace lbd
