// lc, wlc, sed, nq (ip_vs_{lc,wlc,sed,nq}.c) against brute-force definitions
// on random loads, and their first-in-list tie-breaks.
#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "test_util.h"

namespace lbd {
namespace {

using testing::Harness;

bool Usable(const RealServer& rs) { return rs.weight() > 0 && !rs.overloaded(); }

// The first usable server minimising load/weight (exact: cross-multiplied).
RealServer* FirstLeast(const ServerList& list,
                       const std::function<int64_t(const RealServer&)>& load, bool weighted) {
  RealServer* best = nullptr;
  for (const auto& p : list) {
    if (!Usable(*p)) continue;
    if (best == nullptr) {
      best = p.get();
      continue;
    }
    const int64_t wb = weighted ? best->weight() : 1;
    const int64_t wd = weighted ? p->weight() : 1;
    if (load(*p) * wb < load(*best) * wd) best = p.get();
  }
  return best;
}

int64_t Overhead(const RealServer& rs) { return int64_t{rs.active()} * 256 + rs.inactive(); }
int64_t SedLoad(const RealServer& rs) { return int64_t{rs.active()} + 1; }

RealServer* Expected(std::string_view name, const ServerList& list) {
  if (name == "lc") return FirstLeast(list, Overhead, false);
  if (name == "wlc") return FirstLeast(list, Overhead, true);
  if (name == "sed") return FirstLeast(list, SedLoad, true);
  for (const auto& p : list) {  // nq: the first idle usable server at once
    if (Usable(*p) && p->active() == 0) return p.get();
  }
  return FirstLeast(list, SedLoad, true);
}

std::string ParamName(const ::testing::TestParamInfo<std::string_view>& p) {
  return std::string(p.param);
}

class LeastConnection : public ::testing::TestWithParam<std::string_view> {};

TEST_P(LeastConnection, PicksTheLeastLoadedFirstInList) {
  std::mt19937 rng(99);
  auto roll = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  for (int trial = 0; trial < 500; ++trial) {
    Harness h(GetParam());
    const int n = 1 + roll(8);
    for (int i = 0; i < n; ++i) {
      auto rs = h.Add(roll(5));  // weights 0..4
      // Small ranges so that ties are common.
      rs->SetCounters(roll(4), roll(3) * 128);
      rs->SetOverloaded(roll(6) == 0);
    }
    ServerList list = h.svc().Servers();
    RealServer* want = Expected(GetParam(), list);
    EXPECT_EQ(h.svc().Pick(Flow{}).get(), want) << "trial " << trial;
  }
}

TEST_P(LeastConnection, TieGoesToFirstUsableInList) {
  Harness h(GetParam());
  h.AddAll({0, 2, 2, 2});  // A quiesced
  for (int i = 0; i < 4; ++i) h.At(i)->SetCounters(1, 10);
  EXPECT_EQ(h.Pick(), 'B');
  h.At(1)->SetOverloaded(true);
  EXPECT_EQ(h.Pick(), 'C');
}

INSTANTIATE_TEST_SUITE_P(Family, LeastConnection, ::testing::Values("lc", "wlc", "sed", "nq"),
                         ParamName);

TEST(Lc, IgnoresWeightBeyondZero) {
  Harness h("lc");
  h.AddAll({1, 100});
  h.At(0)->SetCounters(1, 0);
  h.At(1)->SetCounters(1, 1);
  EXPECT_EQ(h.Pick(), 'A');  // 256 < 257, whatever the weights
}

TEST(Wlc, EqualRatiosTieToFirst) {
  Harness h("wlc");
  h.AddAll({1, 2, 4});
  h.At(0)->SetCounters(1, 0);  // 256/1
  h.At(1)->SetCounters(2, 0);  // 512/2
  h.At(2)->SetCounters(4, 0);  // 1024/4
  EXPECT_EQ(h.Pick(), 'A');
}

TEST(Sed, IgnoresInactive) {
  Harness h("sed");
  h.AddAll({1, 1});
  h.At(0)->SetCounters(0, 1000);
  h.At(1)->SetCounters(1, 0);
  EXPECT_EQ(h.Pick(), 'A');
}

TEST(Nq, FirstIdleEvenIfHeavierRatioLater) {
  Harness h("nq");
  h.AddAll({1, 1, 100});
  h.At(0)->SetCounters(5, 0);
  h.At(2)->SetCounters(1, 0);  // sed would choose C (2/100)
  EXPECT_EQ(h.Pick(), 'B');    // B is idle
  h.At(1)->SetCounters(1, 0);
  EXPECT_EQ(h.Pick(), 'C');
}

}  // namespace
}  // namespace lbd
