#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "conf_test_util.h"
#include "lbd/conf/loader.h"

namespace lbd {
namespace {

using std::chrono::seconds;
using ::testing::ElementsAre;
using testing::Errors;
using ::testing::IsEmpty;
using testing::Load;
using ::testing::SizeIs;
using ::testing::StartsWith;

// A service "a" on 127.0.0.1:80 whose healthcheck is `check`, indented for
// line 4 onwards (the check's first key is on line 4, column 7).
std::string WithCheck(std::string_view check) {
  return "virtual_services:\n  - name: a\n    listen: 127.0.0.1:80\n    healthcheck:\n" +
         std::string(check);
}

TEST(HealthCheckTest, TcpAndExec) {
  LoadResult r = Load(WithCheck("      type: tcp\n      port: 22\n      alpha: yes\n"));
  ASSERT_THAT(r.errors, IsEmpty());
  const HealthCheckConfig& tcp = r.config->virtual_services[0].healthcheck;
  EXPECT_EQ(tcp.type, HealthCheckType::kTcp);
  EXPECT_EQ(tcp.port, 22);
  EXPECT_TRUE(tcp.alpha);
  EXPECT_EQ(tcp.interval, seconds(2));

  r = Load(WithCheck("      type: exec\n      command: /bin/true\n"));
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(r.config->virtual_services[0].healthcheck.command, "/bin/true");
}

TEST(HealthCheckTest, EmptyMappingMeansNoCheck) {
  LoadResult r = Load(WithCheck("      {}\n"));
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(r.config->virtual_services[0].healthcheck.type, HealthCheckType::kNone);
}

TEST(HealthCheckTest, ServiceCheckNeedsAKnownType) {
  EXPECT_THAT(Errors(WithCheck("      interval: 2s\n")),
              ElementsAre("t.yaml:5:7: virtual_services[0].healthcheck: missing required key "
                          "'type'"));
  EXPECT_THAT(Errors(WithCheck("      type: icmp\n")),
              ElementsAre("t.yaml:5:13: virtual_services[0].healthcheck.type: expected one of "
                          "none, tcp, http, exec; got 'icmp'"));
}

TEST(HealthCheckTest, ExecNeedsCommand) {
  EXPECT_THAT(Errors(WithCheck("      type: exec\n")),
              ElementsAre("t.yaml:5:7: virtual_services[0].healthcheck: an exec check needs "
                          "'command'"));
}

TEST(HealthCheckTest, RangesOfCountsAndDurations) {
  EXPECT_THAT(Errors(WithCheck("      type: tcp\n      rise: 0\n      fall: -1\n      interval: "
                               "0s\n      timeout: 0ms\n      port: 65536\n")),
              ElementsAre("t.yaml:6:13: virtual_services[0].healthcheck.rise: 0 is out of range "
                          "(expected >= 1)",
                          "t.yaml:7:13: virtual_services[0].healthcheck.fall: -1 is out of range "
                          "(expected >= 1)",
                          "t.yaml:8:17: virtual_services[0].healthcheck.interval: must be greater "
                          "than 0",
                          "t.yaml:9:16: virtual_services[0].healthcheck.timeout: must be greater "
                          "than 0",
                          "t.yaml:10:13: virtual_services[0].healthcheck.port: 65536 is out of "
                          "range (expected 0..65535)"));
}

TEST(HealthCheckTest, HttpPathStatusAndMd5) {
  EXPECT_THAT(Errors(WithCheck("      type: http\n      path: health\n      expect_status: "
                               "700\n      expect_md5: abc\n")),
              ElementsAre("t.yaml:6:13: virtual_services[0].healthcheck.path: must start with "
                          "'/', got 'health'",
                          "t.yaml:7:22: virtual_services[0].healthcheck.expect_status: status 700 "
                          "is out of range (expected codes 100..599)",
                          "t.yaml:8:19: virtual_services[0].healthcheck.expect_md5: expected 32 "
                          "hexadecimal digits (an MD5 digest), got 'abc'"));
}

TEST(HealthCheckTest, PathAndHostGoVerbatimIntoTheRequest) {
  EXPECT_THAT(Errors(WithCheck("      type: http\n      path: \"/a b\"\n      host: \"x\\ty\"\n")),
              ElementsAre("t.yaml:6:13: virtual_services[0].healthcheck.path: must not contain "
                          "spaces or control characters",
                          "t.yaml:7:13: virtual_services[0].healthcheck.host: must not contain "
                          "spaces or control characters"));
}

TEST(HealthCheckTest, ExpectStatusForms) {
  auto statuses = [](std::string_view value) {
    LoadResult r =
        Load(WithCheck("      type: http\n      expect_status: " + std::string(value) + "\n"));
    EXPECT_THAT(r.errors, IsEmpty()) << value;
    std::vector<std::pair<int, int>> out;
    if (!r.config) return out;
    for (StatusRange s : r.config->virtual_services[0].healthcheck.expect_status) {
      out.emplace_back(s.low, s.high);
    }
    return out;
  };
  using P = std::pair<int, int>;
  EXPECT_THAT(statuses("204"), ElementsAre(P{204, 204}));
  EXPECT_THAT(statuses("200-299"), ElementsAre(P{200, 299}));
  EXPECT_THAT(statuses("\"200-399\""), ElementsAre(P{200, 399}));
  EXPECT_THAT(statuses("[200, 301, 302]"), ElementsAre(P{200, 200}, P{301, 301}, P{302, 302}));
  EXPECT_THAT(statuses("[200-204, 404]"), ElementsAre(P{200, 204}, P{404, 404}));

  EXPECT_THAT(Errors(WithCheck("      type: http\n      expect_status: 299-200\n")),
              ElementsAre(StartsWith("t.yaml:6:22: virtual_services[0].healthcheck.expect_status: "
                                     "status 299-200 is out of range")));
  EXPECT_THAT(Errors(WithCheck("      type: http\n      expect_status: [200, ok, 99]\n")),
              ElementsAre(StartsWith("t.yaml:6:28: virtual_services[0].healthcheck.expect_status[1]"
                                     ": expected a status code 100..599"),
                          StartsWith("t.yaml:6:32: virtual_services[0].healthcheck.expect_status[2]"
                                     ": status 99 is out of range")));
  EXPECT_THAT(Errors(WithCheck("      type: http\n      expect_status: []\n")),
              ElementsAre("t.yaml:6:22: virtual_services[0].healthcheck.expect_status: must list "
                          "at least one status code"));
}

TEST(HealthCheckTest, KeysOfAnotherTypeAreErrors) {
  EXPECT_THAT(Errors(WithCheck("      type: tcp\n      path: /x\n      command: ls\n")),
              ElementsAre("t.yaml:6:7: virtual_services[0].healthcheck.path: applies only to http "
                          "checks, and this check's type is tcp",
                          "t.yaml:7:7: virtual_services[0].healthcheck.command: applies only to "
                          "exec checks, and this check's type is tcp"));
}

TEST(HealthCheckTest, PerServerOverrideChangesOnlyTheKeysGiven) {
  LoadResult r = Load(R"(
virtual_services:
  - name: a
    listen: 127.0.0.1:80
    healthcheck: {type: http, path: /health, interval: 5s, rise: 3, expect_status: 200-204}
    real_servers:
      - address: 127.0.0.1:81
      - address: 127.0.0.1:82
        healthcheck: {path: /ready, fall: 7}
      - address: 127.0.0.1:83
        healthcheck: {type: tcp, port: 9000}
      - address: 127.0.0.1:84
        healthcheck: {type: none}
)");
  ASSERT_THAT(r.errors, IsEmpty()) << r.errors[0].ToString();
  const auto& servers = r.config->virtual_services[0].real_servers;
  ASSERT_THAT(servers, SizeIs(4));
  EXPECT_FALSE(servers[0].healthcheck.has_value());

  ASSERT_TRUE(servers[1].healthcheck.has_value());
  const HealthCheckConfig& merged = *servers[1].healthcheck;
  EXPECT_EQ(merged.type, HealthCheckType::kHttp);  // the service's
  EXPECT_EQ(merged.path, "/ready");                // overridden
  EXPECT_EQ(merged.fall, 7);                       // overridden
  EXPECT_EQ(merged.interval, seconds(5));          // the service's
  EXPECT_EQ(merged.rise, 3);                       // the service's
  EXPECT_EQ(merged.timeout, seconds(1));           // the default
  ASSERT_THAT(merged.expect_status, SizeIs(1));
  EXPECT_EQ(merged.expect_status[0].high, 204);  // the service's

  const HealthCheckConfig& tcp = *servers[2].healthcheck;
  EXPECT_EQ(tcp.type, HealthCheckType::kTcp);
  EXPECT_EQ(tcp.port, 9000);
  EXPECT_EQ(tcp.interval, seconds(5));

  EXPECT_EQ(servers[3].healthcheck->type, HealthCheckType::kNone);
}

TEST(HealthCheckTest, OverrideIsCheckedAgainstTheEffectiveType) {
  EXPECT_THAT(Errors(R"(
virtual_services:
  - name: a
    listen: 127.0.0.1:80
    healthcheck: {type: tcp}
    real_servers:
      - address: 127.0.0.1:81
        healthcheck: {path: /x, rise: 0, color: red}
      - address: 127.0.0.1:82
        healthcheck: {type: exec}
  - name: b
    listen: 127.0.0.1:90
    real_servers:
      - address: 127.0.0.1:91
        healthcheck: {interval: 1s}
)"),
              ElementsAre("t.yaml:7:23: virtual_services[0].real_servers[0].healthcheck.path: "
                          "applies only to http checks, and this check's type is tcp",
                          "t.yaml:7:39: virtual_services[0].real_servers[0].healthcheck.rise: 0 "
                          "is out of range (expected >= 1)",
                          StartsWith("t.yaml:7:42: virtual_services[0].real_servers[0]."
                                     "healthcheck: unknown key 'color'"),
                          "t.yaml:9:22: virtual_services[0].real_servers[1].healthcheck: an exec "
                          "check needs 'command'",
                          "t.yaml:14:23: virtual_services[1].real_servers[0].healthcheck.interval: "
                          "has no effect: this check's type is none"));
}

}  // namespace
}  // namespace lbd
