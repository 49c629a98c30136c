// RealServer's connection accounting and overload flag (ip_vs_bind_dest(),
// ip_vs_unbind_dest(), __ip_vs_update_dest() in ip_vs_conn.c / ip_vs_ctl.c).
#include <gtest/gtest.h>

#include "test_util.h"

namespace lbd {
namespace {

using testing::Ep;
using testing::Harness;

TEST(RealServer, CountsActiveAndInactive) {
  auto rs = std::make_shared<RealServer>(Ep(0), RealServerOptions{});
  rs->ConnectionOpened(true);
  rs->ConnectionOpened(false);
  EXPECT_EQ(rs->active(), 1);
  EXPECT_EQ(rs->inactive(), 1);
  EXPECT_EQ(rs->overhead(), 257);
  rs->ConnectionDeactivated();
  EXPECT_EQ(rs->active(), 0);
  EXPECT_EQ(rs->inactive(), 2);
  rs->ConnectionActivated();
  rs->ConnectionClosed(true);
  rs->ConnectionClosed(false);
  EXPECT_EQ(rs->overhead(), 0);
}

// Set when active+inactive reaches the upper threshold; without a lower
// threshold, cleared once total*4 < upper*3.
TEST(RealServer, OverloadUpperAndThreeQuartersRule) {
  auto rs = std::make_shared<RealServer>(Ep(0), RealServerOptions{.upper_threshold = 8});
  for (int i = 0; i < 7; ++i) rs->ConnectionOpened(i % 2 == 0);
  EXPECT_FALSE(rs->overloaded());  // 7 < 8
  rs->ConnectionOpened(false);
  EXPECT_TRUE(rs->overloaded());  // 8 >= 8, inactive counts too
  rs->ConnectionClosed(false);    // 7
  rs->ConnectionClosed(true);     // 6: 24 < 24 is false
  EXPECT_TRUE(rs->overloaded());
  rs->ConnectionClosed(true);  // 5: 20 < 24
  EXPECT_FALSE(rs->overloaded());
  rs->ConnectionOpened(true);  // 6: below the upper threshold, stays clear
  EXPECT_FALSE(rs->overloaded());
}

TEST(RealServer, OverloadLowerThreshold) {
  auto rs = std::make_shared<RealServer>(
      Ep(0), RealServerOptions{.upper_threshold = 4, .lower_threshold = 2});
  for (int i = 0; i < 4; ++i) rs->ConnectionOpened(true);
  EXPECT_TRUE(rs->overloaded());
  rs->ConnectionClosed(true);  // 3
  rs->ConnectionClosed(true);  // 2: 2 < 2 is false
  EXPECT_TRUE(rs->overloaded());
  rs->ConnectionClosed(true);  // 1
  EXPECT_FALSE(rs->overloaded());
}

TEST(RealServer, ActivationDoesNotTouchTheFlag) {
  auto rs = std::make_shared<RealServer>(Ep(0), RealServerOptions{.upper_threshold = 2});
  rs->ConnectionOpened(true);
  rs->ConnectionOpened(true);
  EXPECT_TRUE(rs->overloaded());
  rs->ConnectionDeactivated();
  rs->ConnectionActivated();
  EXPECT_TRUE(rs->overloaded());
}

TEST(RealServer, NoThresholdClearsManualFlagOnClose) {
  auto rs = std::make_shared<RealServer>(Ep(0), RealServerOptions{});
  rs->ConnectionOpened(true);
  rs->ConnectionOpened(true);
  EXPECT_FALSE(rs->overloaded());  // no upper threshold: never set
  rs->SetOverloaded(true);
  rs->ConnectionClosed(true);
  EXPECT_FALSE(rs->overloaded());
}

// __ip_vs_update_dest(): removing or raising the upper threshold clears the
// flag at once; lowering it does not.
TEST(RealServer, ThresholdEditsAsInTheKernel) {
  Harness h("wlc");
  auto a = h.Add(1, /*upper=*/2);
  h.Add(1);
  a->ConnectionOpened(true);
  a->ConnectionOpened(true);
  ASSERT_TRUE(a->overloaded());
  ASSERT_TRUE(h.svc().SetThresholds(Ep(0), 1, 0).ok());  // lowered
  EXPECT_TRUE(a->overloaded());
  ASSERT_TRUE(h.svc().SetThresholds(Ep(0), 3, 0).ok());  // raised
  EXPECT_FALSE(a->overloaded());
  a->ConnectionOpened(true);
  ASSERT_TRUE(a->overloaded());
  ASSERT_TRUE(h.svc().SetThresholds(Ep(0), 0, 0).ok());  // removed
  EXPECT_FALSE(a->overloaded());
}

// End to end: a wlc service stops sending to a server at max_conns.
TEST(RealServer, OverloadedServerLeavesTheRotation) {
  Harness h("wlc");
  h.Add(1, /*upper=*/2);
  h.Add(1, /*upper=*/0);
  std::string seq;
  for (int i = 0; i < 6; ++i) {
    auto rs = h.svc().Pick(Flow{});
    seq += testing::Letter(rs.get());
    rs->ConnectionOpened(true);
  }
  EXPECT_EQ(seq, "ABABBB");
  h.At(0)->ConnectionClosed(true);  // 1 * 4 < 2 * 3: cleared
  EXPECT_EQ(h.Pick(), 'A');
}

}  // namespace
}  // namespace lbd
