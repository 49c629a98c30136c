#include "lbd/conf/dump.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "conf_test_util.h"

namespace lbd {
namespace {

using testing::ExpectEveryKey;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::Load;

const std::string kData = LBD_CONF_TEST_DATA;

// Dump -> load gives a Config that dumps to the same text (the dump is a
// fixed point), and the loaded Config is returned for field checks.
Config RoundTrip(const Config& c) {
  const std::string text = DumpConfig(c);
  LoadResult again = LoadConfigString(text, "dump.yaml");
  EXPECT_THAT(again.errors, IsEmpty()) << again.errors[0].ToString() << "\n" << text;
  if (!again.config) return Config{};
  EXPECT_EQ(DumpConfig(*again.config), text);
  return *again.config;
}

TEST(DumpTest, EveryKeySurvivesTheRoundTrip) {
  LoadResult r = LoadConfigFile(kData + "/every_key.yaml");
  ASSERT_THAT(r.errors, IsEmpty());
  ExpectEveryKey(RoundTrip(*r.config));
}

TEST(DumpTest, ShippedAndDocumentedConfigsRoundTrip) {
  for (std::string path :
       {kData + "/design_example.yaml", std::string(LBD_EXAMPLES_DIR) + "/demo.yaml"}) {
    SCOPED_TRACE(path);
    LoadResult r = LoadConfigFile(path);
    ASSERT_THAT(r.errors, IsEmpty());
    RoundTrip(*r.config);
  }
}

TEST(DumpTest, DefaultsAndAnEmptyConfigRoundTrip) {
  Config empty;
  Config back = RoundTrip(empty);
  EXPECT_EQ(back.global.control_socket, "/run/lbd/lbd.sock");
  EXPECT_THAT(back.virtual_services, IsEmpty());
  LoadResult r = Load(R"(
virtual_services:
  - name: a
    listen: 127.0.0.1:80
    real_servers: [{address: 127.0.0.1:81}]
)");
  ASSERT_THAT(r.errors, IsEmpty());
  Config c = RoundTrip(*r.config);
  ASSERT_EQ(c.virtual_services.size(), 1u);
  EXPECT_EQ(c.virtual_services[0].scheduler, "wlc");
  EXPECT_EQ(c.virtual_services[0].real_servers[0].weight, 1);
  EXPECT_FALSE(c.virtual_services[0].real_servers[0].healthcheck.has_value());
}

TEST(DumpTest, SchedulerFlagsTextAndOverridesRoundTrip) {
  LoadResult r = Load(R"(
virtual_services:
  - name: p
    listen: 127.0.0.1:80
    scheduler: ewma
    scheduler_flags: [choices=3, decay=1500ms]
    on_quorum_up: "echo \"up\" \\ 'q'	tab"
    healthcheck: {type: exec, command: "/bin/true"}
    real_servers:
      - address: 127.0.0.1:81
        healthcheck: {type: none}
      - address: 127.0.0.1:82
        healthcheck: {type: http, expect_status: [204, 300-399], host: "h:1"}
  - name: q
    listen: 127.0.0.1:90
    scheduler: rendezvous
    scheduler_flags: [fallback]
vrrp:
  - {name: V, interface: lo, virtual_router_id: 1, version: 3, advert_interval: 20ms}
)");
  ASSERT_THAT(r.errors, IsEmpty()) << r.errors[0].ToString();
  Config c = RoundTrip(*r.config);
  ASSERT_EQ(c.virtual_services.size(), 2u);
  const VirtualServiceConfig& p = c.virtual_services[0];
  EXPECT_EQ(p.choices, 3);
  EXPECT_EQ(p.ewma_decay, std::chrono::milliseconds(1500));
  EXPECT_EQ(p.on_quorum_up, "echo \"up\" \\ 'q'\ttab");
  EXPECT_EQ(p.real_servers[0].healthcheck->type, HealthCheckType::kNone);
  const HealthCheckConfig& h = *p.real_servers[1].healthcheck;
  EXPECT_EQ(h.type, HealthCheckType::kHttp);
  EXPECT_EQ(h.host, "h:1");
  ASSERT_EQ(h.expect_status.size(), 2u);
  EXPECT_EQ(h.expect_status[1].low, 300);
  EXPECT_EQ(h.expect_status[1].high, 399);
  EXPECT_TRUE(c.virtual_services[1].hash_fallback);
  EXPECT_FALSE(c.virtual_services[1].hash_port);
  EXPECT_EQ(c.vrrp[0].advert_interval, std::chrono::milliseconds(20));
}

TEST(DumpTest, ServerCommentsAreYamlComments) {
  LoadResult r = Load(R"(
virtual_services:
  - {name: a, listen: 127.0.0.1:80, real_servers: [{address: 127.0.0.1:81}]}
)");
  ASSERT_THAT(r.errors, IsEmpty());
  const std::string text =
      DumpConfig(*r.config, [](const std::string& svc, Endpoint) { return svc + ": disabled\nx"; });
  EXPECT_THAT(text, HasSubstr("- address: 127.0.0.1:81  # a: disabled x\n"));
  EXPECT_THAT(LoadConfigString(text, "d.yaml").errors, IsEmpty());
}

TEST(DumpTest, DurationsUseTheLargestExactUnit) {
  using std::chrono::milliseconds;
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(milliseconds(2000)), "2s");
  EXPECT_EQ(FormatDuration(milliseconds(300000)), "5m");
  EXPECT_EQ(FormatDuration(milliseconds(7200000)), "2h");
}

}  // namespace
}  // namespace lbd
