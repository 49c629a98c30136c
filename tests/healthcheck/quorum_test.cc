// QuorumState: keepalived's quorum/hysteresis transitions.
#include "lbd/healthcheck/quorum.h"

#include <gtest/gtest.h>

namespace lbd {
namespace {

using Change = QuorumState::Change;

TEST(QuorumState, WithoutHysteresisLostBelowQuorumRegainedAtQuorum) {
  QuorumState q(3);
  EXPECT_TRUE(q.has_quorum());
  EXPECT_EQ(q.Update(4), Change::kNone);
  EXPECT_EQ(q.Update(3), Change::kNone);
  EXPECT_EQ(q.Update(2), Change::kLost);
  EXPECT_FALSE(q.has_quorum());
  EXPECT_EQ(q.Update(0), Change::kNone);
  EXPECT_EQ(q.Update(3), Change::kRegained);
  EXPECT_TRUE(q.has_quorum());
}

TEST(QuorumState, HysteresisDampsFlapping) {
  QuorumState q(10, 2);  // lost below 8, regained at 12
  EXPECT_EQ(q.Update(9), Change::kNone);
  EXPECT_EQ(q.Update(8), Change::kNone);
  EXPECT_EQ(q.Update(7), Change::kLost);
  EXPECT_EQ(q.Update(8), Change::kNone);
  EXPECT_EQ(q.Update(10), Change::kNone);
  EXPECT_EQ(q.Update(11), Change::kNone);
  EXPECT_FALSE(q.has_quorum());
  EXPECT_EQ(q.Update(12), Change::kRegained);
  EXPECT_EQ(q.Update(8), Change::kNone);
  EXPECT_EQ(q.Update(7), Change::kLost);
}

TEST(QuorumState, InitiallyDownNeedsQuorumPlusHysteresis) {
  QuorumState q(5, 1, /*initially_up=*/false);
  EXPECT_FALSE(q.has_quorum());
  EXPECT_EQ(q.Update(5), Change::kNone);
  EXPECT_EQ(q.Update(6), Change::kRegained);
}

TEST(QuorumState, ZeroQuorumIsOff) {
  QuorumState q(0, 0, /*initially_up=*/false);
  EXPECT_TRUE(q.has_quorum());
  EXPECT_EQ(q.Update(0), Change::kNone);
  EXPECT_EQ(q.Update(-5), Change::kNone);
  EXPECT_TRUE(q.has_quorum());
}

TEST(QuorumState, NegativeHysteresisCountsAsZero) {
  QuorumState q(3, -4);
  EXPECT_EQ(q.hysteresis(), 0);
  EXPECT_EQ(q.Update(2), Change::kLost);
  EXPECT_EQ(q.Update(3), Change::kRegained);
}

}  // namespace
}  // namespace lbd
