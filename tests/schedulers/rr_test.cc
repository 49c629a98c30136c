// rr (ip_vs_rr.c): list order, skipping, and where the cursor goes when the
// list changes.
#include <gtest/gtest.h>

#include "test_util.h"

namespace lbd {
namespace {

using testing::Harness;

TEST(Rr, CyclesInListOrder) {
  Harness h("rr");
  h.AddAll({1, 5, 1});  // weights other than 0 do not matter
  EXPECT_EQ(h.Picks(9), "ABCABCABC");
}

TEST(Rr, SkipsOverloadedWithoutMovingOnIt) {
  Harness h("rr");
  h.AddAll({1, 1, 1});
  h.At(1)->SetOverloaded(true);
  EXPECT_EQ(h.Picks(4), "ACAC");
  h.At(1)->SetOverloaded(false);
  EXPECT_EQ(h.Picks(3), "ABC");
}

TEST(Rr, NothingUsableIsNoneAndKeepsCursor) {
  Harness h("rr");
  h.AddAll({1, 1, 1});
  EXPECT_EQ(h.Picks(2), "AB");
  for (int i = 0; i < 3; ++i) h.At(i)->SetOverloaded(true);
  EXPECT_EQ(h.Picks(2), "--");
  for (int i = 0; i < 3; ++i) h.At(i)->SetOverloaded(false);
  EXPECT_EQ(h.Picks(2), "CA");
}

// ip_vs_rr_del_dest(): removing the server under the cursor moves the cursor to
// its predecessor, so the scan goes on with the removed server's successor.
TEST(Rr, RemovingServerUnderCursorMovesCursorToPredecessor) {
  Harness h("rr");
  h.AddAll({1, 1, 1, 1});
  EXPECT_EQ(h.Picks(2), "AB");
  h.Remove(1);                    // cursor B -> A
  EXPECT_EQ(h.Picks(4), "CDAC");  // a cursor left on "index 1" would give D first
}

TEST(Rr, RemovingFirstServerUnderCursorMovesCursorToHead) {
  Harness h("rr");
  h.AddAll({1, 1, 1});
  EXPECT_EQ(h.Picks(1), "A");
  h.Remove(0);  // cursor A -> the list head
  EXPECT_EQ(h.Picks(3), "BCB");
}

TEST(Rr, RemovingLastServerUnderCursorWraps) {
  Harness h("rr");
  h.AddAll({1, 1, 1});
  EXPECT_EQ(h.Picks(3), "ABC");
  h.Remove(2);  // cursor C -> B
  EXPECT_EQ(h.Picks(3), "ABA");
}

TEST(Rr, RemovingOtherServersKeepsCursorOnItsServer) {
  Harness h("rr");
  h.AddAll({1, 1, 1, 1, 1});
  EXPECT_EQ(h.Picks(3), "ABC");
  h.Remove(0);  // before the cursor
  h.Remove(4);  // after it
  EXPECT_EQ(h.Picks(4), "DBCD");
}

TEST(Rr, AddingDoesNotMoveCursor) {
  Harness h("rr");
  h.AddAll({1, 1, 1});
  EXPECT_EQ(h.Picks(2), "AB");
  h.Add(1);  // D, at the end
  EXPECT_EQ(h.Picks(4), "CDAB");
}

TEST(Rr, WeightChangeDoesNotMoveCursor) {
  Harness h("rr");
  h.AddAll({1, 1, 1});
  EXPECT_EQ(h.Picks(2), "AB");
  h.SetWeight(1, 0);
  EXPECT_EQ(h.Picks(3), "CAC");
}

}  // namespace
}  // namespace lbd
