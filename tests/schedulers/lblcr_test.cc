// lblcr (ip_vs_lblcr.c): the server set per destination grows while its least
// loaded member is lblc-overloaded, and loses its most loaded member once the
// set is older than the expiration.
#include <gtest/gtest.h>

#include <chrono>

#include "test_util.h"

namespace lbd {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::Harness;

constexpr uint32_t kD = 0xC0000264;

class Lblcr : public ::testing::Test {
 protected:
  Lblcr() : h_("lblcr", {.locality_expiration = 10s, .clock = &clock_}) { h_.AddAll({1, 1, 1}); }
  void Load(int a, int b, int c) {
    h_.At(0)->SetCounters(a, 0);
    h_.At(1)->SetCounters(b, 0);
    h_.At(2)->SetCounters(c, 0);
  }
  // Builds the set {C, B, A} (newest first), last modified at t0 + 2 s.
  void GrowToThree() {
    ASSERT_EQ(h_.PickDst(kD), 'A');  // t0: {A}
    clock_.Advance(1s);
    Load(2, 0, 0);                   // A lblc-overloaded (2 > 1, B has 0*2 < 1) -> wlc -> B
    ASSERT_EQ(h_.PickDst(kD), 'B');  // {B, A}
    clock_.Advance(1s);
    Load(2, 2, 0);
    ASSERT_EQ(h_.PickDst(kD), 'C');  // {C, B, A}
  }

  FakeClock clock_;
  Harness h_;
};

TEST_F(Lblcr, SetGrowsWhileMembersAreLblcOverloaded) {
  GrowToThree();
  // All three are members: the least loaded member is picked.
  Load(0, 1, 1);
  EXPECT_EQ(h_.PickDst(kD), 'A');
  Load(1, 0, 1);
  EXPECT_EQ(h_.PickDst(kD), 'B');
}

TEST_F(Lblcr, MemberNotInServiceIsSkipped) {
  GrowToThree();
  Load(0, 1, 1);
  h_.Remove(0);  // A, the least loaded member, leaves the service
  // C and B tie; C comes first in the set (newest first) and stays.
  EXPECT_EQ(h_.PickDst(kD), 'C');
}

// Unlike lblc, the overload flag counts here: ip_vs_dest_set_min() skips
// flagged members, so the set grows past them.
TEST_F(Lblcr, OverloadFlaggedMemberIsSkipped) {
  ASSERT_EQ(h_.PickDst(kD), 'A');  // {A}
  h_.At(0)->SetOverloaded(true);
  EXPECT_EQ(h_.PickDst(kD), 'B');  // wlc, and B joins: {B, A}
  h_.At(0)->SetOverloaded(false);
  Load(0, 1, 0);
  EXPECT_EQ(h_.PickDst(kD), 'A');  // both members again; A is less loaded
}

TEST_F(Lblcr, MostLoadedMemberDroppedAfterExpiration) {
  GrowToThree();  // last modified at t0 + 2 s
  clock_.Advance(1s);
  Load(0, 1, 2);                   // least loaded member: A
  EXPECT_EQ(h_.PickDst(kD), 'A');  // A is still a member
  clock_.Advance(5s);              // t0 + 8 s: keep the entry in use
  EXPECT_EQ(h_.PickDst(kD), 'A');
  clock_.Advance(5s);              // t0 + 13 s > last modified + 10 s
  Load(5, 3, 0);                   // most loaded member: A (1280), then B (768)
  EXPECT_EQ(h_.PickDst(kD), 'C');  // the candidate; A is erased from the set
  clock_.Advance(1s);
  Load(0, 1, 2);
  // Were A still a member it would be the least loaded; the set is {C, B}.
  EXPECT_EQ(h_.PickDst(kD), 'B');
}

TEST_F(Lblcr, NoDropBeforeExpirationOrFromASingleMember) {
  ASSERT_EQ(h_.PickDst(kD), 'A');  // {A}
  clock_.Advance(9s);
  EXPECT_EQ(h_.PickDst(kD), 'A');
  clock_.Advance(9s);  // the set is older than 10 s, but has one member
  Load(0, 0, 0);
  EXPECT_EQ(h_.PickDst(kD), 'A');
}

TEST_F(Lblcr, EntryUnusedLongerThanExpirationIsDropped) {
  GrowToThree();  // {C, B, A}, last used at t0 + 2 s
  clock_.Advance(10s + 1ns);
  Load(1, 1, 0);
  EXPECT_EQ(h_.PickDst(kD), 'C');  // a fresh entry {C}
  Load(0, 1, 1);
  // The old set would give A (least loaded); the new one keeps C (1 > 1 is false).
  EXPECT_EQ(h_.PickDst(kD), 'C');
}

TEST(LblcrTable, FloodOfDestinationsIsBoundedAndIdleEntriesExpire) {
  testing::ExpectFloodBounded("lblcr");
}

}  // namespace
}  // namespace lbd
