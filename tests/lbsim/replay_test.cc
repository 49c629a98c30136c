// lbsim --replay: the test vectors of shared/reference/ipvs-schedulers.md as
// traces, the malformed-line contract (exit 2, FILE:LINE), and stdin input.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "lbsim_runner.h"

namespace lbd::lbsim_test {
namespace {

// "A B -" -> "A\nB\n-\n": the expected pick lines.
std::string Lines(const std::string& words) {
  std::string out;
  std::string w;
  for (char c : words + " ") {
    if (c == ' ') {
      if (!w.empty()) out += w + "\n";
      w.clear();
    } else {
      w += c;
    }
  }
  return out;
}

std::string Picks(int n, const std::string& pick = "pick 198.51.100.7:40000 192.0.2.100:80") {
  std::string s;
  for (int i = 0; i < n; ++i) s += pick + "\n";
  return s;
}

void ExpectPicks(const std::string& trace, const std::string& expected,
                 const std::string& extra = "") {
  RunResult r = Replay(trace, extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, Lines(expected)) << trace;
}

constexpr const char* kAbc =
    "server A 10.0.0.1:80 1\n"
    "server B 10.0.0.2:80 1\n"
    "server C 10.0.0.3:80 0\n";

TEST(ReplayVectors, RrSkipsWeightZeroThenSeesWeightChange) {
  ExpectPicks(std::string("scheduler rr\n") + kAbc + Picks(4), "A B A B");
  ExpectPicks(std::string("scheduler rr\n") + kAbc + Picks(2) + "weight C 1\n" + Picks(4),
              "A B C A B C");
}

TEST(ReplayVectors, RrRemovingTheCursorServerMovesToItsPredecessor) {
  ExpectPicks(
      "scheduler rr\nserver A 10.0.0.1:80 1\nserver B 10.0.0.2:80 1\nserver C 10.0.0.3:80 1\n" +
          Picks(2) + "remove B\n" + Picks(3),
      "A B C A C");
}

constexpr const char* kWrr432 =
    "scheduler wrr\n"
    "server A 10.0.0.1:80 4\n"
    "server B 10.0.0.2:80 3\n"
    "server C 10.0.0.3:80 2\n";

TEST(ReplayVectors, WrrBuiltOneServerAtATimeStartsAtWeightOne) {
  ExpectPicks(std::string(kWrr432) + Picks(12), "A B C A A B A B C A B C");
}

TEST(ReplayVectors, WrrBuiltAtOnceCycle) {
  // A trace adds servers one at a time, so the "built at once" state (cw = mw)
  // is reached by a pick that wraps cw to mw (the 4th) followed by a "dest
  // changed" event that keeps cw and resets the cursor to the head.
  ExpectPicks(std::string(kWrr432) + Picks(4) + "weight A 4\n" + Picks(18),
              "A B C A  A A B A B C A B C  A A B A B C A B C");
}

TEST(ReplayVectors, WrrGcdAndAllZero) {
  ExpectPicks("scheduler wrr\nserver A 10.0.0.1:80 2\nserver B 10.0.0.2:80 2\n" + Picks(4),
              "A B A B");
  ExpectPicks("scheduler wrr\nserver A 10.0.0.1:80 0\nserver B 10.0.0.2:80 0\n" + Picks(2), "- -");
}

TEST(ReplayVectors, LcCountsInactiveConnections) {
  ExpectPicks(std::string("scheduler lc\n") +
                  "server A 10.0.0.1:80 1\nserver B 10.0.0.2:80 1\nserver C 10.0.0.3:80 1\n"
                  "conns A 1 0\nconns B 1 0\nconns C 0 200\n" +
                  Picks(1),
              "C");
}

TEST(ReplayVectors, WlcWeighsOverhead) {
  ExpectPicks(
      "scheduler wlc\nserver A 10.0.0.1:80 1\nserver B 10.0.0.2:80 3\n"
      "conns A 1 0\nconns B 2 0\n" +
          Picks(1),
      "B");
}

TEST(ReplayVectors, SedTieGoesToFirst) {
  ExpectPicks(
      "scheduler sed\nserver A 10.0.0.1:80 1\nserver B 10.0.0.2:80 3\n"
      "conns A 0 0\nconns B 2 0\n" +
          Picks(1),
      "A");
}

TEST(ReplayVectors, NqIdleServerWinsAtOnce) {
  ExpectPicks(
      "scheduler nq\nserver A 10.0.0.1:80 1\nserver B 10.0.0.2:80 3\n"
      "conns A 1 0\nconns B 0 0\n" +
          Picks(1),
      "B");
}

// 192.0.2.1 hashes to bucket 50 (the page's example), 192.0.2.5 to 185.
constexpr const char* kShAB = "server A 10.0.0.1:80 1\nserver B 10.0.0.2:80 0\n";
constexpr const char* kEvenSource = "pick 192.0.2.1:1000 192.0.2.100:80\n";
constexpr const char* kOddSource = "pick 192.0.2.5:1000 192.0.2.100:80\n";

TEST(ReplayVectors, ShBucketsAlternateWithAWeightZeroServer) {
  ExpectPicks(std::string("scheduler sh\n") + kShAB + kEvenSource + kOddSource, "A -");
  ExpectPicks(std::string("scheduler sh fallback\n") + kShAB + kEvenSource + kOddSource, "A A");
  // The source port does not matter without the port flag.
  ExpectPicks(std::string("scheduler sh\n") + kShAB + "pick 192.0.2.1:1 192.0.2.100:80\n" +
                  "pick 192.0.2.1:2 192.0.2.100:80\n",
              "A A");
}

TEST(ReplayVectors, ShPortFlagHashesThePort) {
  // key = ip + port: 192.0.2.1 port 4 is the key of 192.0.2.5 (bucket 185, B).
  ExpectPicks(std::string("scheduler sh port\n") + kShAB + "pick 192.0.2.1:4 192.0.2.100:80\n" +
                  "pick 192.0.2.1:0 192.0.2.100:80\n",
              "- A");
}

TEST(ReplayVectors, LblcReschedulesWhenLblcOverloaded) {
  ExpectPicks(
      "scheduler lblc\nserver A 10.0.0.1:80 2\nserver B 10.0.0.2:80 2\n"
      "conns A 3 0\n"
      "pick 198.51.100.1:1 203.0.113.9:80\n"
      "conns B 3 0\nconns A 0 0\n"
      "pick 198.51.100.2:2 203.0.113.9:80\n",
      "B A");
}

TEST(ReplayVectors, LblcKeepsItsEntryUntilItExpires) {
  const std::string trace =
      "scheduler lblc\nserver A 10.0.0.1:80 1\nserver B 10.0.0.2:80 1\n"
      "pick 198.51.100.1:1 203.0.113.9:80\n"  // wlc: A
      "conns A 1 0\n"                         // A busier, not lblc-overloaded
      "time 86400\n"
      "pick 198.51.100.1:1 203.0.113.9:80\n"  // unused for exactly 24 h: kept
      "time 172800.000000001\n"
      "pick 198.51.100.1:1 203.0.113.9:80\n";  // unused for longer: wlc gives B
  ExpectPicks(trace, "A A B");
  ExpectPicks(trace, "A B B", "--expiration 10");
}

TEST(ReplayVectors, DownActsAsWeightZeroAndUpRestores) {
  ExpectPicks(
      "scheduler rr\nserver A 10.0.0.1:80 1\nserver B 10.0.0.2:80 1\n"
      "down A\n" +
          Picks(2) + "up A\n" + Picks(2) + "down A\ndown B\n" + Picks(1),
      "B B A B -");
}

TEST(ReplayVectors, OverloadFlagSkipsAServer) {
  ExpectPicks(
      "scheduler wlc\nserver A 10.0.0.1:80 1\nserver B 10.0.0.2:80 1\n"
      "overload A 1\n" +
          Picks(1) + "overload A 0\n" + Picks(1),
      "B A");
}

TEST(ReplayVectors, RemovedIdCanBeAddedAgain) {
  ExpectPicks("scheduler rr\nserver A 10.0.0.1:80 1\nremove A\n" + Picks(1) +
                  "server A 10.0.0.9:80 1\n" + Picks(1),
              "- A");
}

// Beyond the page's vectors: cases derived from its prose, one behaviour each.

// The schedulers beyond LVS: their random stream is seeded (seed=1 unless
// given), so a trace replays exactly.
TEST(ReplayBeyondLvs, RandomStreamsAreSeededSoReplaysAreExact) {
  const std::string servers =
      "server A 10.0.0.1:80 1\nserver B 10.0.0.2:80 2\nserver C 10.0.0.3:80 1\n";
  for (const char* head : {"scheduler random", "scheduler p2c choices=3", "scheduler ewma"}) {
    SCOPED_TRACE(head);
    const std::string trace = std::string(head) + "\n" + servers + Picks(40);
    RunResult a = Replay(trace), b = Replay(trace),
              seeded = Replay(std::string(head) + " seed=1\n" + servers + Picks(40));
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(a.out, b.out);
    EXPECT_EQ(a.out, seeded.out);
    EXPECT_EQ(std::count(a.out.begin(), a.out.end(), '\n'), 40);
    RunResult other = Replay(std::string(head) + " seed=2\n" + servers + Picks(40));
    EXPECT_NE(a.out, other.out);
  }
}

TEST(ReplayBeyondLvs, EwmaFollowsLatencyDirectives) {
  // Two servers, two choices: every pick compares both. B's 50 ms spike
  // sends everything to A; after 60 s (decay 10 s) of 1 ms samples on B and
  // 5 ms on A, B is preferred.
  std::string trace =
      "scheduler ewma decay=10\nserver A 10.0.0.1:80 1\nserver B 10.0.0.2:80 1\n"
      "latency A 0.005\nlatency B 0.05\n" +
      Picks(3);
  for (int t = 1; t <= 60; ++t) {
    trace += "time " + std::to_string(t) + "\nlatency A 0.005\nlatency B 0.001\n";
  }
  ExpectPicks(trace + Picks(2), "A A A B B");
}

TEST(ReplayBeyondLvs, P2cTakesTheLessActiveAndRendezvousIsStable) {
  ExpectPicks("scheduler p2c\nserver A 10.0.0.1:80 1\nserver B 10.0.0.2:80 1\nconns A 3 0\n" +
                  Picks(3) + "conns B 4 0\n" + Picks(2),
              "B B B A A");
  RunResult r = Replay("scheduler rendezvous\n" + std::string(kAbc) + "weight C 1\n" + Picks(3) +
                       "remove C\n" + Picks(1));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 2), r.out.substr(2, 2));  // one flow, one server
}

TEST(ReplayReference, ShGivesEachServerWeightConsecutiveBuckets) {
  // A2 B1: buckets A A B A A B ...; 192.0.2.1 -> bucket 50 (50 % 3 == 2: B),
  // 192.0.2.2 -> bucket 148 (148 % 3 == 1: A).
  ExpectPicks(
      "scheduler sh\nserver A 10.0.0.1:80 2\nserver B 10.0.0.2:80 1\n"
      "pick 192.0.2.1:1 192.0.2.100:80\npick 192.0.2.2:1 192.0.2.100:80\n",
      "B A");
}

TEST(ReplayReference, WrrRoundsCwUpToTheGcdStep) {
  // A4 then B2 added: di = 2, mw = 3, cw rounded to (1 / 2) * 2 + 1 = 1.
  ExpectPicks("scheduler wrr\nserver A 10.0.0.1:80 4\nserver B 10.0.0.2:80 2\n" + Picks(8),
              "A B A A B A A B");
}

TEST(ReplayReference, WeightSetWhileDownIsWhatUpRestores) {
  ExpectPicks(
      "scheduler rr\nserver A 10.0.0.1:80 1\nserver B 10.0.0.2:80 1\n"
      "down A\nweight A 0\nup A\n" +
          Picks(2) + "weight A 1\n" + Picks(2),
      "B B A B");
}

TEST(ReplayReference, LblcReschedulesWhenItsServerIsRemoved) {
  ExpectPicks(
      "scheduler lblc\nserver A 10.0.0.1:80 1\nserver B 10.0.0.2:80 1\n"
      "pick 198.51.100.1:1 203.0.113.9:80\n"
      "remove A\n"
      "pick 198.51.100.1:1 203.0.113.9:80\n"
      "server A 10.0.0.1:80 1\n"
      "pick 198.51.100.1:1 203.0.113.9:80\n",
      "A B B");
}

TEST(ReplayReference, LblcrReplicatesAndPrunesAfterTheExpiration) {
  const std::string d = "pick 198.51.100.1:1 203.0.113.9:80\n";
  ExpectPicks("scheduler lblcr\nserver A 10.0.0.1:80 1\nserver B 10.0.0.2:80 1\n" + d +
                  "conns A 2 0\n" + d +              // A lblc-overloaded: wlc adds B, set {B, A}
                  "conns A 0 0\n" + d +              // least loaded member, first on ties: B
                  "time 11\nconns B 5 0\n" + d +     // set older than 10 s: B pruned; A picked
                  "conns A 3 0\nconns B 0 0\n" + d,  // A overloaded again: B rejoins
              "A B B A B", "--expiration 10");
}

TEST(ReplayFormat, CommentsBlankLinesAndArbitraryIds) {
  ExpectPicks(
      "# a trace\n\n   \nscheduler rr   # trailing\n"
      "server web-1.example 10.0.0.1:80 1 # first\n"
      "\tserver 42 10.0.0.2:80 1\n" +
          Picks(3),
      "web-1.example 42 web-1.example");
}

TEST(ReplayFormat, ReadsStandardInput) {
  RunResult r = RunLbsim("scheduler rr\nserver A 10.0.0.1:80 1\n" + Picks(2), "--replay -",
                         /*use_stdin=*/true);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Lines("A A"));
  RunResult bad = RunLbsim("scheduler rr\nfrob\n", "--replay -", /*use_stdin=*/true);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find(":2:"), std::string::npos) << bad.err;
}

TEST(ReplayFormat, TimeAcceptsFractionsAndExponents) {
  // lblc, expiration 1 s: an entry unused for more than 1 s is dropped, and
  // then wlc picks B (A is busier). Each `time` below is 2 s after the last pick.
  const std::string head =
      "scheduler lblc\nserver A 10.0.0.1:80 1\nserver B 10.0.0.2:80 1\n"
      "pick 198.51.100.1:1 203.0.113.9:80\nconns A 1 0\n";
  const std::string pick = "pick 198.51.100.1:1 203.0.113.9:80\n";
  for (const char* t : {"2", "2.0", "2.000000000001", "2e0", "0.2E1", "20e-1", ".2e+1"}) {
    SCOPED_TRACE(t);
    ExpectPicks(head + "time " + t + "\n" + pick, "A B", "--expiration 1");
  }
  // Exactly 1 s unused is not "longer than" the expiration; 1 ns more is.
  ExpectPicks(head + "time 1\n" + pick, "A A", "--expiration 1");
  ExpectPicks(head + "time 1.000000001\n" + pick, "A B", "--expiration 1");
  ExpectPicks(head + "time 1e-05\n" + pick, "A A", "--expiration 1");
  for (const char* bad : {"1e", "e5", "1.2.3", "0x10", "1e400", "+1", "inf", "nan", "."}) {
    SCOPED_TRACE(bad);
    RunResult r = Replay(head + "time " + bad + "\n");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find(":6: "), std::string::npos) << r.err;
  }
}

TEST(ReplayFormat, EmptyTraceIsFine) { ExpectPicks("# nothing\n\n", ""); }

TEST(ReplayFormat, BadCommandLine) {
  EXPECT_EQ(RunLbsim("", "--replay").exit_code, 2);
  EXPECT_EQ(RunLbsim("", "--replay /nonexistent/trace").exit_code, 2);
  EXPECT_EQ(RunLbsim("", "--replay {} --expiration 0").exit_code, 2);
  EXPECT_EQ(RunLbsim("", "--replay {} --expiration x").exit_code, 2);
}

struct Malformed {
  const char* name;
  std::string trace;
  int line;
};

void PrintTo(const Malformed& m, std::ostream* os) { *os << m.name; }

class ReplayMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(ReplayMalformed, ExitsTwoNamingTheLine) {
  const Malformed& m = GetParam();
  RunResult r = RunLbsim(m.trace, "--replay {}");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // "PATH:LINE: message" on stderr; only the picks before the bad line on stdout.
  const std::string needle = "_input:" + std::to_string(m.line) + ": ";
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

const std::string kHead = "scheduler rr\nserver A 10.0.0.1:80 1\n";  // lines 1-2

INSTANTIATE_TEST_SUITE_P(
    Lines, ReplayMalformed,
    ::testing::Values(Malformed{"UnknownDirective", kHead + "frobnicate A\n", 3},
                      Malformed{"SchedulerNotFirst", "server A 10.0.0.1:80 1\nscheduler rr\n", 1},
                      Malformed{"PickBeforeScheduler", "# c\n\npick 1.1.1.1:1 2.2.2.2:2\n", 3},
                      Malformed{"SchedulerRepeated", kHead + "scheduler rr\n", 3},
                      Malformed{"SchedulerMissingName", "scheduler\n", 1},
                      Malformed{"UnknownScheduler", "scheduler fifo\n", 1},
                      Malformed{"FlagOnRr", "scheduler rr port\n", 1},
                      Malformed{"FallbackOnDh", "scheduler dh fallback\n", 1},
                      Malformed{"UnknownFlag", "scheduler sh sticky\n", 1},
                      Malformed{"ServerTooFewArgs", kHead + "server B 10.0.0.2:80\n", 3},
                      Malformed{"ServerTooManyArgs", kHead + "server B 10.0.0.2:80 1 extra\n", 3},
                      Malformed{"ServerBadAddress", kHead + "server B 10.0.0.256:80 1\n", 3},
                      Malformed{"ServerNoPort", kHead + "server B 10.0.0.2 1\n", 3},
                      Malformed{"ServerBadPort", kHead + "server B 10.0.0.2:65536 1\n", 3},
                      Malformed{"ServerBadWeight", kHead + "server B 10.0.0.2:80 x\n", 3},
                      Malformed{"ServerWeightTooBig", kHead + "server B 10.0.0.2:80 65536\n", 3},
                      Malformed{"ServerWeightNegative", kHead + "server B 10.0.0.2:80 -1\n", 3},
                      Malformed{"DuplicateId", kHead + "server A 10.0.0.2:80 1\n", 3},
                      Malformed{"DuplicateAddress", kHead + "server B 10.0.0.1:80 1\n", 3},
                      Malformed{"WeightUnknownId", kHead + "weight Z 3\n", 3},
                      Malformed{"WeightTooBig", kHead + "weight A 70000\n", 3},
                      Malformed{"WeightNotANumber", kHead + "weight A 1.5\n", 3},
                      Malformed{"WeightArgs", kHead + "weight A\n", 3},
                      Malformed{"RemoveUnknownId", kHead + "remove B\n", 3},
                      Malformed{"RemoveTwice", kHead + "remove A\nremove A\n", 4},
                      Malformed{"RemoveArgs", kHead + "remove\n", 3},
                      Malformed{"ConnsUnknownId", kHead + "conns B 1 1\n", 3},
                      Malformed{"ConnsNegative", kHead + "conns A -1 0\n", 3},
                      Malformed{"ConnsArgs", kHead + "conns A 1\n", 3},
                      Malformed{"OverloadNotBool", kHead + "overload A 2\n", 3},
                      Malformed{"OverloadUnknownId", kHead + "overload B 1\n", 3},
                      Malformed{"DownUnknownId", kHead + "down B\n", 3},
                      Malformed{"UpArgs", kHead + "up A A\n", 3},
                      Malformed{"TimeNegative", kHead + "time -1\n", 3},
                      Malformed{"TimeNotANumber", kHead + "time soon\n", 3},
                      Malformed{"TimeArgs", kHead + "time\n", 3},
                      Malformed{"PickBadSource", kHead + "pick 1.2.3:4 2.2.2.2:80\n", 3},
                      Malformed{"PickBadDestination", kHead + "pick 1.2.3.4:4 2.2.2.2\n", 3},
                      Malformed{"PickArgs", kHead + "pick 1.2.3.4:4\n", 3},
                      Malformed{"ChoicesOnWlc", "scheduler wlc choices=3\n", 1},
                      Malformed{"ChoicesZero", "scheduler p2c choices=0\n", 1},
                      Malformed{"DecayZero", "scheduler ewma decay=0\n", 1},
                      Malformed{"SeedNotANumber", "scheduler random seed=x\n", 1},
                      Malformed{"PortOnP2c", "scheduler p2c port\n", 1},
                      Malformed{"LatencyUnknownId", kHead + "latency B 0.001\n", 3},
                      Malformed{"LatencyNegative", kHead + "latency A -1\n", 3},
                      Malformed{"LatencyArgs", kHead + "latency A\n", 3},
                      Malformed{"LaterLine",
                                kHead + "# comment\n\npick 1.1.1.1:1 2.2.2.2:2\nweight A\n", 6}),
    [](const ::testing::TestParamInfo<Malformed>& p) { return std::string(p.param.name); });

TEST(ReplayMalformedOutput, PicksBeforeTheBadLineAreWritten) {
  RunResult r = Replay(kHead + Picks(2) + "bogus\n" + Picks(1));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, Lines("A A"));
}

}  // namespace
}  // namespace lbd::lbsim_test
