// lbsim's simulation mode as a program: deterministic output per seed, the
// output formats, and bad workload files reported with FILE:LINE.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "lbsim_runner.h"

namespace lbd::lbsim_test {
namespace {

constexpr const char* kSmall = "--requests 4000 --schedulers rr,wlc,mh --quiet ";

TEST(SimCli, OutputIsIdenticalForASeed) {
  RunResult a = RunLbsim("", std::string(kSmall) + "--seed 5 --csv");
  RunResult b = RunLbsim("", std::string(kSmall) + "--seed 5 --csv");
  RunResult c = RunLbsim("", std::string(kSmall) + "--seed 6 --csv");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
  EXPECT_EQ(a.out.rfind("scheduler,requests,", 0), 0u);
  EXPECT_EQ(std::count(a.out.begin(), a.out.end(), '\n'), 4);
}

TEST(SimCli, TableAndJson) {
  RunResult t = RunLbsim("", kSmall);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("p99.9 ms"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("\nwlc "), std::string::npos) << t.out;
  RunResult j = RunLbsim("", std::string(kSmall) + "--json");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(j.out.rfind("{\n", 0), 0u);
  EXPECT_NE(j.out.find("\"scheduler\": \"mh\""), std::string::npos);
}

TEST(SimCli, ProgressGoesToStderr) {
  RunResult r = RunLbsim("", "--requests 2000 --schedulers rr,wrr --csv");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.err.find("[2/2] wrr"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("lbsim:"), std::string::npos);
}

TEST(SimCli, BadWorkloadFileNamesTheLine) {
  RunResult r = RunLbsim("servers:\n  - {name: a, capacity: 0}\n", "{} --quiet");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("_input:2:"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(SimCli, BadArguments) {
  EXPECT_EQ(RunLbsim("", "--schedulers rr,fifo").exit_code, 2);
  EXPECT_EQ(RunLbsim("", "--seed x").exit_code, 2);
  EXPECT_EQ(RunLbsim("", "--requests 0").exit_code, 2);
  EXPECT_EQ(RunLbsim("", "--csv --json").exit_code, 2);
  EXPECT_EQ(RunLbsim("", "--frobnicate").exit_code, 2);
  EXPECT_EQ(RunLbsim("", "/nonexistent.yaml").exit_code, 2);
}

}  // namespace
}  // namespace lbd::lbsim_test
