// lbsim's simulation mode as a program: deterministic output per seed, the
// output formats, and bad workload files reported with FILE:LINE.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "lbsched/scheduler.h"
#include "lbsim_runner.h"
#include "report.h"

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

TEST(SimCli, HelpListsEverySchedulerName) {
  RunResult r = RunLbsim("", "--help");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const size_t line = r.out.find("\nschedulers:");
  ASSERT_NE(line, std::string::npos) << r.out;
  std::string names = r.out.substr(line + 1, r.out.find('\n', line + 1) - line - 1) + " ";
  for (std::string_view n : Scheduler::Names()) {
    EXPECT_NE(names.find(" " + std::string(n) + " "), std::string::npos) << n << " in " << names;
  }
}

TEST(SimCli, PlotsStartAtZeroWithOneStylePerScheduler) {
  lbsim::Workload w;
  std::vector<lbsim::SimResult> results;
  for (std::string_view n : Scheduler::Names()) {
    results.emplace_back();
    results.back().scheduler = std::string(n);
  }
  ASSERT_EQ(results.size(), 15u);
  const std::string script = lbsim::PlotScript(w, results, "/tmp/x");
  // Three charts, three y axes from 0 (the CDF's is [0:1]).
  EXPECT_NE(script.find("set yrange [0:1]"), std::string::npos);
  size_t from_zero = 0;
  for (size_t at = script.find("set yrange [0:*]"); at != std::string::npos;
       at = script.find("set yrange [0:*]", at + 1)) {
    ++from_zero;
  }
  EXPECT_EQ(from_zero, 2u) << script;
  EXPECT_EQ(script.find("logscale y"), std::string::npos);
  std::set<std::string> styles, colors, points;
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string style = lbsim::PlotStyle(i);
    styles.insert(style);
    colors.insert(style.substr(0, style.find(" dt ")));
    points.insert(style.substr(style.find(" pt ")));
    // Each style is used in both line charts, and its colour and dash type
    // (bars take no point type) in the bar chart.
    auto uses = [&](const std::string& what) {
      size_t n = 0;
      for (size_t at = script.find(what); at != std::string::npos; at = script.find(what, at + 1)) {
        ++n;
      }
      return n;
    };
    EXPECT_EQ(uses(style + " title"), 2u) << style;
    EXPECT_EQ(uses(style.substr(0, style.find(" pt ")) + " title"), 1u) << style;
  }
  EXPECT_EQ(styles.size(), 15u);
  EXPECT_EQ(colors.size(), 15u);
  EXPECT_EQ(points.size(), 15u);
}

}  // namespace
}  // namespace lbd::lbsim_test
