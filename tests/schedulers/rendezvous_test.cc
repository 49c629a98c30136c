// rendezvous: weighted highest-random-weight hashing. Its pick is a pure
// function of the flow and the (address, weight) set: the properties below
// (minimal disruption, order independence, weighted shares) follow from that.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "test_util.h"

namespace lbd {
namespace {

using testing::Ep;
using testing::Harness;

Flow SourceFlow(uint32_t i, uint16_t port = 5000) {
  return Flow{{0xC0A80000u + i * 2654435761u % 0x10000u + (i << 16), port}, {0xCB007101u, 80}};
}

std::vector<const RealServer*> PickAll(Service& svc, int flows) {
  std::vector<const RealServer*> out;
  for (int i = 0; i < flows; ++i)
    out.push_back(svc.Pick(SourceFlow(static_cast<uint32_t>(i))).get());
  return out;
}

TEST(Rendezvous, RemovingOneOfNMovesOnlyItsFlows) {
  constexpr int kN = 10, kFlows = 20000;
  Harness h("rendezvous");
  for (int i = 0; i < kN; ++i) h.Add(1);
  const RealServer* gone = h.At(3).get();
  std::vector<const RealServer*> before = PickAll(h.svc(), kFlows);
  h.Remove(3);
  std::vector<const RealServer*> after = PickAll(h.svc(), kFlows);
  int moved = 0;
  for (int i = 0; i < kFlows; ++i) {
    if (before[i] != gone) {
      EXPECT_EQ(after[i], before[i]) << "flow " << i;
    } else {
      ++moved;
      EXPECT_NE(after[i], nullptr);
    }
  }
  EXPECT_NEAR(moved / double{kFlows}, 1.0 / kN, 0.01);
}

TEST(Rendezvous, AddingOneTakesItsShareAllToItself) {
  Harness h("rendezvous");
  h.AddAll({1, 1, 1, 1});
  std::vector<const RealServer*> before = PickAll(h.svc(), 20000);
  const RealServer* added = h.Add(4).get();  // weight 4 of 8: half the flows
  std::vector<const RealServer*> after = PickAll(h.svc(), 20000);
  int moved = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    if (after[i] == before[i]) continue;
    ++moved;
    EXPECT_EQ(after[i], added);
  }
  EXPECT_NEAR(moved / 20000.0, 0.5, 0.015);
}

TEST(Rendezvous, SharesFollowWeightsAndListOrderDoesNotMatter) {
  Harness h("rendezvous"), reversed("rendezvous");
  h.AddAll({1, 2, 3, 4});
  for (int i = 3; i >= 0; --i) ASSERT_TRUE(reversed.svc().AddServer(Ep(i), {.weight = i + 1}).ok());
  std::map<char, int> n;
  for (uint32_t i = 0; i < 40000; ++i) {
    char c = testing::Letter(h.svc().Pick(SourceFlow(i)).get());
    ++n[c];
    ASSERT_EQ(testing::Letter(reversed.svc().Pick(SourceFlow(i)).get()), c) << i;
  }
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(n['A' + i] / 40000.0, (i + 1) / 10.0, 0.012);
}

TEST(Rendezvous, PortFlagHashesTheSourcePortToo) {
  Harness plain("rendezvous"), port("rendezvous", {.hash_port = true});
  plain.AddAll({1, 1, 1, 1});
  port.AddAll({1, 1, 1, 1});
  std::map<char, int> by_port;
  for (uint16_t p = 1000; p < 1400; ++p) {
    EXPECT_EQ(testing::Letter(plain.svc().Pick(SourceFlow(7, p)).get()),
              testing::Letter(plain.svc().Pick(SourceFlow(7, 1000)).get()));
    ++by_port[testing::Letter(port.svc().Pick(SourceFlow(7, p)).get())];
  }
  EXPECT_EQ(by_port.size(), 4u);
}

TEST(Rendezvous, FlaggedWinnerFailsUnlessFallback) {
  Harness strict("rendezvous"), fallback("rendezvous", {.hash_fallback = true});
  strict.AddAll({1, 1, 1});
  fallback.AddAll({1, 1, 1});
  const Flow f = SourceFlow(11);
  const Endpoint winner = strict.svc().Pick(f)->endpoint();
  ASSERT_EQ(fallback.svc().Pick(f)->endpoint(), winner);
  strict.svc().Find(winner)->SetOverloaded(true);
  fallback.svc().Find(winner)->SetOverloaded(true);
  EXPECT_EQ(strict.svc().Pick(f), nullptr);
  auto second = fallback.svc().Pick(f);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(second->endpoint(), winner);
  EXPECT_EQ(fallback.svc().Pick(f), second);  // stable while the flag stays
  fallback.svc().Find(winner)->SetOverloaded(false);
  EXPECT_EQ(fallback.svc().Pick(f)->endpoint(), winner);
  // A server that is down is not a winner at all: its flows move, even strict.
  ASSERT_TRUE(strict.svc().SetUp(winner, false).ok());
  strict.svc().Find(winner)->SetOverloaded(false);
  EXPECT_NE(strict.svc().Pick(f), nullptr);
}

}  // namespace
}  // namespace lbd
