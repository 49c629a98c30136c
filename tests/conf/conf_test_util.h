// Helpers shared by the lbd_conf tests.
#ifndef LBD_TESTS_CONF_CONF_TEST_UTIL_H_
#define LBD_TESTS_CONF_CONF_TEST_UTIL_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "lbd/conf/loader.h"

namespace lbd::testing {

// Loads `yaml` as the file "t.yaml". A leading newline is dropped, so that a
// raw string literal's first line is line 1.
inline LoadResult Load(std::string_view yaml) {
  if (!yaml.empty() && yaml.front() == '\n') yaml.remove_prefix(1);
  return LoadConfigString(yaml, "t.yaml");
}

// The errors of Load(yaml) as "t.yaml:LINE:COL: message".
inline std::vector<std::string> Errors(std::string_view yaml) {
  std::vector<std::string> out;
  for (const ConfigError& e : Load(yaml).errors) out.push_back(e.ToString());
  return out;
}

// The values of data/every_key.yaml (each key set to a non-default value).
inline void ExpectEveryKey(const Config& c) {
  using std::chrono::hours;
  using std::chrono::milliseconds;
  using std::chrono::minutes;
  using std::chrono::seconds;
  using ::testing::ElementsAre;
  using ::testing::SizeIs;
  EXPECT_EQ(c.global.workers, 4);
  EXPECT_EQ(c.global.control_socket, "/tmp/lbd-test.sock");
  EXPECT_EQ(c.global.metrics_listen, ParseEndpoint("10.0.0.1:9100").value());
  EXPECT_EQ(c.global.drain_timeout, minutes(5));
  EXPECT_EQ(c.global.log_level, "debug");
  EXPECT_EQ(c.global.maxconn, 5000);
  EXPECT_EQ(c.global.state_file, "/tmp/lbd-test.state");
  EXPECT_EQ(c.global.log, "syslog");
  EXPECT_EQ(c.global.user, "nobody");
  EXPECT_EQ(c.global.group, "nogroup");
  EXPECT_EQ(c.global.control_socket_mode, 0660u);
  EXPECT_EQ(c.global.control_socket_group, "adm");
  EXPECT_EQ(c.global.status_auth, "admin:s3cret");
  EXPECT_TRUE(c.global.access_log);

  ASSERT_THAT(c.virtual_services, SizeIs(2));
  const VirtualServiceConfig& web = c.virtual_services[0];
  EXPECT_EQ(web.scheduler, "mh");
  EXPECT_TRUE(web.hash_port);
  EXPECT_TRUE(web.hash_fallback);
  EXPECT_EQ(web.forwarding, Forwarding::kNat);
  EXPECT_EQ(web.persistence, hours(1));
  EXPECT_EQ(web.connect_timeout, milliseconds(500));
  EXPECT_EQ(web.idle_timeout, minutes(2));
  EXPECT_EQ(web.sorry_server, ParseEndpoint("10.0.1.99:8080").value());
  EXPECT_FALSE(web.access_log);
  const HealthCheckConfig& hc = web.healthcheck;
  EXPECT_EQ(hc.type, HealthCheckType::kHttp);
  EXPECT_EQ(hc.interval, seconds(3));
  EXPECT_EQ(hc.timeout, milliseconds(1500));
  EXPECT_EQ(hc.rise, 1);
  EXPECT_EQ(hc.fall, 5);
  EXPECT_TRUE(hc.alpha);
  EXPECT_FALSE(hc.inhibit_on_failure);
  EXPECT_EQ(hc.port, 8081);
  EXPECT_EQ(hc.path, "/status");
  EXPECT_EQ(hc.host, "www.example.com");
  ASSERT_THAT(hc.expect_status, SizeIs(2));
  EXPECT_EQ(hc.expect_status[0].low, 200);
  EXPECT_EQ(hc.expect_status[0].high, 200);
  EXPECT_EQ(hc.expect_status[1].low, 301);
  EXPECT_EQ(hc.expect_status[1].high, 302);
  EXPECT_EQ(hc.expect_md5, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(web.quorum, 3);
  EXPECT_EQ(web.hysteresis, 1);
  EXPECT_EQ(web.on_quorum_up, "/usr/local/bin/up web");
  EXPECT_EQ(web.on_quorum_down, "/usr/local/bin/down web");
  ASSERT_THAT(web.real_servers, SizeIs(2));
  EXPECT_EQ(web.real_servers[0].weight, 65535);
  EXPECT_EQ(web.real_servers[0].max_conns, 1000u);
  EXPECT_EQ(web.real_servers[0].min_conns, 500u);
  EXPECT_EQ(web.real_servers[1].weight, 0);
  ASSERT_TRUE(web.real_servers[1].healthcheck.has_value());
  EXPECT_EQ(web.real_servers[1].healthcheck->path, "/other");
  EXPECT_EQ(web.real_servers[1].healthcheck->rise, 4);
  EXPECT_EQ(web.real_servers[1].healthcheck->host, "www.example.com");  // the service's

  const VirtualServiceConfig& batch = c.virtual_services[1];
  EXPECT_EQ(batch.scheduler, "sh");
  EXPECT_EQ(batch.forwarding, Forwarding::kDr);
  EXPECT_EQ(batch.healthcheck.type, HealthCheckType::kExec);
  EXPECT_EQ(batch.healthcheck.command, "/usr/local/bin/check --dynamic");
  EXPECT_TRUE(batch.healthcheck.dynamic_weight);
  EXPECT_EQ(batch.real_servers[0].weight, 1);
  ASSERT_TRUE(batch.real_servers[1].healthcheck.has_value());
  EXPECT_EQ(batch.real_servers[1].healthcheck->type, HealthCheckType::kTcp);
  EXPECT_EQ(batch.real_servers[1].healthcheck->port, 22);
  EXPECT_EQ(batch.real_servers[1].healthcheck->interval, seconds(10));

  const VrrpInstanceConfig& v = c.vrrp[0];
  EXPECT_EQ(v.interface, "eth1");
  EXPECT_EQ(v.virtual_router_id, 7);
  EXPECT_EQ(v.priority, 255);
  EXPECT_EQ(v.version, 2);
  EXPECT_EQ(v.advert_interval, seconds(2));
  EXPECT_FALSE(v.preempt);
  EXPECT_EQ(v.preempt_delay, seconds(30));
  EXPECT_EQ(v.auth_pass, "secret");
  EXPECT_THAT(v.virtual_ips, ElementsAre("10.0.0.1/32", "10.0.0.2/24"));
  EXPECT_THAT(v.unicast_peers, ElementsAre("192.0.2.2", "192.0.2.3"));
  EXPECT_EQ(v.notify, "/etc/lbd/notify.sh");
  EXPECT_EQ(v.notify_master, "/etc/lbd/master.sh");
  EXPECT_EQ(v.notify_backup, "/etc/lbd/backup.sh");
  EXPECT_EQ(v.notify_fault, "/etc/lbd/fault.sh");
  ASSERT_THAT(v.track_services, SizeIs(2));
  EXPECT_EQ(v.track_services[0].service, "web");
  EXPECT_EQ(v.track_services[0].weight, -20);
  EXPECT_EQ(v.track_services[1].service, "batch");
  EXPECT_EQ(v.track_services[1].weight, 0);
}

}  // namespace lbd::testing

#endif  // LBD_TESTS_CONF_CONF_TEST_UTIL_H_
