#include "lbd/conf/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "conf_test_util.h"
#include "lbsched/endpoint.h"

namespace lbd {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using testing::Errors;
using testing::ExpectEveryKey;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::Load;
using ::testing::SizeIs;
using ::testing::StartsWith;

const std::string kData = LBD_CONF_TEST_DATA;

Endpoint Ep(std::string_view text) { return ParseEndpoint(text).value(); }

TEST(LoaderTest, DesignExampleLoadsWithEveryValue) {
  LoadResult r = LoadConfigFile(kData + "/design_example.yaml");
  ASSERT_THAT(r.errors, IsEmpty()) << r.errors[0].ToString();
  ASSERT_TRUE(r.config.has_value());
  const Config& c = *r.config;
  EXPECT_EQ(c.file, kData + "/design_example.yaml");

  EXPECT_EQ(c.global.workers, 2);
  EXPECT_EQ(c.global.control_socket, "/run/lbd.sock");
  EXPECT_EQ(c.global.metrics_listen, Ep("127.0.0.1:9100"));
  EXPECT_EQ(c.global.drain_timeout, seconds(30));
  EXPECT_EQ(c.global.log_level, "info");

  ASSERT_THAT(c.virtual_services, SizeIs(1));
  const VirtualServiceConfig& s = c.virtual_services[0];
  EXPECT_EQ(s.name, "shop");
  EXPECT_EQ(s.listen, Ep("127.0.0.1:8080"));
  EXPECT_EQ(s.scheduler, "wrr");
  EXPECT_FALSE(s.hash_port);
  EXPECT_FALSE(s.hash_fallback);
  EXPECT_EQ(s.forwarding, Forwarding::kProxy);
  EXPECT_EQ(s.persistence, Duration(0));
  EXPECT_EQ(s.connect_timeout, seconds(2));
  EXPECT_EQ(s.idle_timeout, seconds(300));
  EXPECT_EQ(s.sorry_server, Ep("127.0.0.1:9999"));
  EXPECT_EQ(s.healthcheck.type, HealthCheckType::kHttp);
  EXPECT_EQ(s.healthcheck.path, "/health");
  ASSERT_THAT(s.healthcheck.expect_status, SizeIs(1));
  EXPECT_EQ(s.healthcheck.expect_status[0].low, 200);
  EXPECT_EQ(s.healthcheck.expect_status[0].high, 200);
  EXPECT_EQ(s.healthcheck.interval, seconds(2));
  EXPECT_EQ(s.healthcheck.timeout, seconds(1));
  EXPECT_EQ(s.healthcheck.rise, 2);
  EXPECT_EQ(s.healthcheck.fall, 3);
  EXPECT_EQ(s.quorum, 0);
  EXPECT_EQ(s.mark.line, 8);
  EXPECT_EQ(s.mark.column, 5);

  ASSERT_THAT(s.real_servers, SizeIs(2));
  EXPECT_EQ(s.real_servers[0].address, Ep("127.0.0.1:9001"));
  EXPECT_EQ(s.real_servers[0].weight, 3);
  EXPECT_EQ(s.real_servers[0].max_conns, 0u);
  EXPECT_FALSE(s.real_servers[0].healthcheck.has_value());
  EXPECT_EQ(s.real_servers[0].mark.line, 24);
  EXPECT_EQ(s.real_servers[0].mark.column, 9);
  EXPECT_EQ(s.real_servers[1].address, Ep("127.0.0.1:9002"));
  EXPECT_EQ(s.real_servers[1].weight, 1);
  EXPECT_EQ(s.real_servers[1].max_conns, 100u);
  EXPECT_EQ(s.real_servers[1].min_conns, 0u);

  ASSERT_THAT(c.vrrp, SizeIs(1));
  const VrrpInstanceConfig& v = c.vrrp[0];
  EXPECT_EQ(v.name, "VI_1");
  EXPECT_EQ(v.interface, "eth0");
  EXPECT_EQ(v.virtual_router_id, 51);
  EXPECT_EQ(v.priority, 150);
  EXPECT_EQ(v.version, 3);
  EXPECT_EQ(v.advert_interval, seconds(1));
  EXPECT_TRUE(v.preempt);
  EXPECT_EQ(v.preempt_delay, Duration(0));
  EXPECT_TRUE(v.auth_pass.empty());
  EXPECT_THAT(v.virtual_ips, ElementsAre("192.0.2.100/24"));
  EXPECT_THAT(v.unicast_peers, IsEmpty());
  EXPECT_THAT(v.track_services, IsEmpty());
  EXPECT_EQ(v.mark.line, 27);
  EXPECT_EQ(v.mark.column, 5);
}

TEST(LoaderTest, EveryKeyLoads) {
  LoadResult r = LoadConfigFile(kData + "/every_key.yaml");
  ASSERT_THAT(r.errors, IsEmpty()) << r.errors[0].ToString();
  ExpectEveryKey(*r.config);
}

TEST(LoaderTest, DefaultsWhenKeysAreLeftOut) {
  LoadResult r = Load(R"(
virtual_services:
  - name: a
    listen: 127.0.0.1:80
)");
  ASSERT_THAT(r.errors, IsEmpty());
  const Config& c = *r.config;
  EXPECT_EQ(c.global.workers, 0);
  EXPECT_EQ(c.global.control_socket, "/run/lbd/lbd.sock");
  EXPECT_FALSE(c.global.metrics_listen.has_value());
  EXPECT_EQ(c.global.drain_timeout, seconds(30));
  EXPECT_EQ(c.global.maxconn, 0);  // derived from the descriptor limit at start
  const VirtualServiceConfig& s = c.virtual_services[0];
  EXPECT_EQ(s.scheduler, "wlc");
  EXPECT_EQ(s.forwarding, Forwarding::kProxy);
  EXPECT_EQ(s.connect_timeout, seconds(2));
  EXPECT_EQ(s.idle_timeout, seconds(300));
  EXPECT_FALSE(s.sorry_server.has_value());
  EXPECT_EQ(s.healthcheck.type, HealthCheckType::kNone);
  EXPECT_THAT(s.real_servers, IsEmpty());
}

TEST(LoaderTest, EmptyFilesAndEmptySectionsAreAllowed) {
  for (const char* yaml :
       {"", "# nothing to serve\n", "virtual_services: []\n", "virtual_services:\n",
        "global:\nvirtual_services:\nvrrp:\n", "global: {}\nvrrp: []\n"}) {
    LoadResult r = LoadConfigString(yaml, "t.yaml");
    EXPECT_THAT(r.errors, IsEmpty()) << yaml;
    ASSERT_TRUE(r.config.has_value()) << yaml;
    EXPECT_THAT(r.config->virtual_services, IsEmpty());
    EXPECT_EQ(r.config->file, "t.yaml");
  }
}

TEST(LoaderTest, UnreadableFileIsOneError) {
  LoadResult r = LoadConfigFile("/nonexistent/lbd.yaml");
  EXPECT_FALSE(r.config.has_value());
  EXPECT_THAT(r.errors, ElementsAre(::testing::Field(&ConfigError::line, 0)));
  EXPECT_EQ(r.errors[0].ToString(),
            "/nonexistent/lbd.yaml:0:0: cannot read: No such file or directory");
  r = LoadConfigFile(kData);  // a directory
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_EQ(r.errors[0].ToString(), kData + ":0:0: cannot read: Is a directory");
  r = LoadConfigFile("/dev/zero");
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_EQ(r.errors[0].ToString(), "/dev/zero:0:0: cannot read: File too large");
}

TEST(LoaderTest, SyntaxErrorsCarryYamlCppsMark) {
  EXPECT_THAT(Errors("global:\n  workers: [1, 2\n"),
              ElementsAre("t.yaml:3:1: end of sequence flow not found"));
  EXPECT_THAT(Errors("global: workers: 2\n"), ElementsAre("t.yaml:1:16: illegal map value"));
  EXPECT_THAT(Errors("global:\n  workers: 2\n bad: 1\n"),
              ElementsAre("t.yaml:3:2: end of map not found"));
}

TEST(LoaderTest, TopLevelMustBeAMappingOfOneDocument) {
  EXPECT_THAT(Errors("- a\n"), ElementsAre("t.yaml:1:1: expected a mapping, got a sequence"));
  EXPECT_THAT(Errors("global: {}\n---\nglobal: {}\n"),
              ElementsAre(StartsWith("t.yaml:3:1: the file holds more than one YAML document")));
  EXPECT_THAT(Errors("global: {}\n---\n"), IsEmpty());
}

// yaml-cpp 0.7's LoadAll never returns on a token its parser cannot place
// (found by tests/fuzz: fuzz_conf; regression inputs in tests/fuzz/regressions).
TEST(LoaderTest, StrayTokenIsASyntaxErrorNotAnEndlessLoop) {
  EXPECT_THAT(Errors(","), ElementsAre("t.yaml:1:1: syntax error: unexpected token"));
  EXPECT_THAT(Errors("global: {}\n---\n,\n"),
              ElementsAre("t.yaml:3:1: syntax error: unexpected token"));
  EXPECT_THAT(Errors("global: {}\n...\n, x\n"),
              ElementsAre("t.yaml:3:1: syntax error: unexpected token"));
  EXPECT_THAT(Errors("global: {}\n---\n---\nglobal: {}\n"),
              ElementsAre(StartsWith("t.yaml:4:1: the file holds more than one YAML document")));
}

TEST(LoaderTest, UnknownKeysAtEveryLevelNameTheKeyAndTheAllowedOnes) {
  EXPECT_THAT(Errors(R"(
globals: {}
)"),
              ElementsAre("t.yaml:1:1: unknown key 'globals' (did you mean 'global'?); allowed: "
                          "global, virtual_services, vrrp"));
  EXPECT_THAT(Errors(R"(
global:
  worker: 2
)"),
              ElementsAre("t.yaml:2:3: global: unknown key 'worker' (did you mean 'workers'?); "
                          "allowed: workers, control_socket, metrics_listen, drain_timeout, "
                          "log_level, log, user, group, control_socket_mode, "
                          "control_socket_group, status_auth, maxconn, state_file, access_log"));
  EXPECT_THAT(
      Errors(R"(
virtual_services:
  - name: a
    listen: 127.0.0.1:80
    colour: blue
    timeouts: {connect: 1s, linger: 2s}
    real_servers:
      - {address: 127.0.0.1:81, wieght: 2}
)"),
      ElementsAre(
          StartsWith("t.yaml:4:5: virtual_services[0]: unknown key 'colour'; allowed: name, "
                     "listen, scheduler, scheduler_flags, forwarding, persistence, timeouts, "
                     "sorry_server, healthcheck, quorum, hysteresis, on_quorum_up, "
                     "on_quorum_down, real_servers"),
          "t.yaml:5:29: virtual_services[0].timeouts: unknown key 'linger'; allowed: connect, idle",
          "t.yaml:7:33: virtual_services[0].real_servers[0]: unknown key 'wieght' (did you mean "
          "'weight'?); allowed: address, weight, max_conns, min_conns, healthcheck"));
  EXPECT_THAT(Errors(R"(
vrrp:
  - {name: V, interface: eth0, virtual_router_id: 1, prio: 100}
)"),
              ElementsAre(StartsWith("t.yaml:2:54: vrrp[0]: unknown key 'prio'; allowed: name, "
                                     "interface, virtual_router_id, priority")));
}

TEST(LoaderTest, NoSuggestionForShortUnrelatedKeys) {
  EXPECT_THAT(Errors("ip: 1\n"),
              ElementsAre("t.yaml:1:1: unknown key 'ip'; allowed: global, virtual_services, vrrp"));
}

TEST(LoaderTest, DuplicateKeysAreErrors) {
  EXPECT_THAT(Errors(R"(
global:
  workers: 1
  workers: 2
)"),
              ElementsAre("t.yaml:3:3: global: duplicate key 'workers' (first at line 2:3)"));
}

TEST(LoaderTest, MaxconnErrorsNameTheirLine) {
  EXPECT_THAT(Errors(R"(
global:
  maxconn: -1
)"),
              ElementsAre(StartsWith("t.yaml:2:12: global.maxconn: -1 is out of range")));
  EXPECT_THAT(Errors(R"(
global:
  workers: 2
  maxconn: lots
)"),
              ElementsAre("t.yaml:3:12: global.maxconn: expected an integer, got 'lots'"));
}

TEST(LoaderTest, WrongTypes) {
  EXPECT_THAT(
      Errors(R"(
global:
  workers: many
  drain_timeout: [1s]
  control_socket: {path: x}
virtual_services:
  - name: a
    listen: 127.0.0.1:80
    quorum: "3"
    real_servers: {address: 127.0.0.1:81}
  - name: [b]
    listen: 127.0.0.1:82
    timeouts: 2s
vrrp:
  - {name: V, interface: eth0, virtual_router_id: 1, preempt: maybe}
  - {name: W, interface: eth0, virtual_router_id: 2, name: X}
)"),
      ElementsAre(
          "t.yaml:2:12: global.workers: expected an integer, got 'many'",
          "t.yaml:3:18: global.drain_timeout: expected a duration such as 500ms, 2s or 5m, got a "
          "sequence",
          "t.yaml:4:19: global.control_socket: expected a string, got a mapping",
          "t.yaml:8:13: virtual_services[0].quorum: expected an integer, got the quoted string "
          "\"3\"",
          "t.yaml:9:19: virtual_services[0].real_servers: expected a sequence, got a mapping",
          "t.yaml:10:11: virtual_services[1].name: expected a string, got a sequence",
          "t.yaml:12:15: virtual_services[1].timeouts: expected a mapping, got '2s'",
          "t.yaml:14:63: vrrp[0].preempt: expected true or false, got 'maybe'",
          "t.yaml:15:54: vrrp[1]: duplicate key 'name' (first at line 15:6)"));
}

TEST(LoaderTest, NullValuesPointAtTheirKey) {
  EXPECT_THAT(Errors(R"(
global:
  workers:
  log_level: info
)"),
              ElementsAre("t.yaml:2:3: global.workers: expected an integer, got nothing"));
}

TEST(LoaderTest, BadAddresses) {
  EXPECT_THAT(Errors(R"(
global:
  metrics_listen: localhost:9100
virtual_services:
  - name: a
    listen: 127.0.0.1:80800
    sorry_server: 127.0.0.1
    real_servers:
      - address: 127.0.0.256:80
      - address: 127.0.0.1:0
)"),
              ElementsAre("t.yaml:2:19: global.metrics_listen: bad address 'localhost:9100': "
                          "expected IP:PORT",
                          "t.yaml:5:13: virtual_services[0].listen: bad port in '127.0.0.1:80800'",
                          "t.yaml:6:19: virtual_services[0].sorry_server: bad address "
                          "'127.0.0.1': expected IP:PORT",
                          "t.yaml:8:18: virtual_services[0].real_servers[0].address: bad address "
                          "'127.0.0.256:80': expected IP:PORT",
                          "t.yaml:9:18: virtual_services[0].real_servers[1].address: bad port in "
                          "'127.0.0.1:0'"));
}

TEST(LoaderTest, UnknownSchedulerListsTheValidOnes) {
  EXPECT_THAT(Errors(R"(
virtual_services:
  - {name: a, listen: 127.0.0.1:80, scheduler: fastest}
)"),
              ElementsAre("t.yaml:2:48: virtual_services[0].scheduler: expected one of rr, wrr, "
                          "sh, dh, lc, wlc, sed, nq, lblc, lblcr, mh, random, p2c, ewma, "
                          "rendezvous; got 'fastest'"));
}

TEST(LoaderTest, SchedulerFlags) {
  LoadResult r = Load(R"(
virtual_services:
  - {name: a, listen: 127.0.0.1:80, scheduler: sh, scheduler_flags: [fallback]}
)");
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_FALSE(r.config->virtual_services[0].hash_port);
  EXPECT_TRUE(r.config->virtual_services[0].hash_fallback);

  EXPECT_THAT(Errors(R"(
virtual_services:
  - name: a
    listen: 127.0.0.1:80
    scheduler: wrr
    scheduler_flags: [port]
  - name: b
    listen: 127.0.0.1:81
    scheduler: mh
    scheduler_flags: [port, sticky]
  - name: c
    listen: 127.0.0.1:82
    scheduler_flags: port
)"),
              ElementsAre("t.yaml:5:5: virtual_services[0].scheduler_flags: port and fallback "
                          "apply only to the sh, mh and rendezvous schedulers, not 'wrr'",
                          "t.yaml:9:29: virtual_services[1].scheduler_flags[1]: expected one of "
                          "port, fallback, choices=N, decay=DURATION; got 'sticky'",
                          "t.yaml:12:5: virtual_services[2].scheduler_flags: port and fallback "
                          "apply only to the sh, mh and rendezvous schedulers, not 'wlc'",
                          "t.yaml:12:22: virtual_services[2].scheduler_flags: expected a "
                          "sequence, got 'port'"));
}

TEST(LoaderTest, SchedulersBeyondLvsAndTheirFlags) {
  LoadResult r = Load(R"(
virtual_services:
  - {name: a, listen: 127.0.0.1:80, scheduler: p2c, scheduler_flags: [choices=3]}
  - {name: b, listen: 127.0.0.1:81, scheduler: ewma, scheduler_flags: [decay=500ms]}
  - {name: c, listen: 127.0.0.1:82, scheduler: rendezvous, scheduler_flags: [port, fallback]}
  - {name: d, listen: 127.0.0.1:83, scheduler: random}
)");
  ASSERT_THAT(r.errors, IsEmpty());
  const auto& vs = r.config->virtual_services;
  EXPECT_EQ(vs[0].choices, 3);
  EXPECT_EQ(vs[1].choices, 2);
  EXPECT_EQ(vs[1].ewma_decay, Duration(500));
  EXPECT_EQ(vs[0].ewma_decay, Duration(10000));
  EXPECT_TRUE(vs[2].hash_port && vs[2].hash_fallback);
  EXPECT_EQ(vs[3].scheduler, "random");

  EXPECT_THAT(
      Errors(R"(
virtual_services:
  - {name: a, listen: 127.0.0.1:80, scheduler: p2c, scheduler_flags: [choices=0, choices=x]}
  - {name: b, listen: 127.0.0.1:81, scheduler: wlc, scheduler_flags: [choices=3, decay=1s]}
  - {name: c, listen: 127.0.0.1:82, scheduler: ewma, scheduler_flags: [decay=0s, decay=9]}
  - {name: d, listen: 127.0.0.1:83, scheduler: ewma, forwarding: nat}
)"),
      ElementsAre("t.yaml:2:71: virtual_services[0].scheduler_flags[0]: choices must be "
                  "an integer in 1..64; got '0'",
                  "t.yaml:2:82: virtual_services[0].scheduler_flags[1]: choices must be "
                  "an integer in 1..64; got 'x'",
                  "t.yaml:3:71: virtual_services[1].scheduler_flags[0]: applies only to "
                  "the p2c and ewma schedulers, not 'wlc'",
                  "t.yaml:3:82: virtual_services[1].scheduler_flags[1]: applies only to "
                  "the ewma scheduler, not 'wlc'",
                  "t.yaml:4:72: virtual_services[2].scheduler_flags[0]: decay must be "
                  "positive",
                  StartsWith("t.yaml:4:82: virtual_services[2].scheduler_flags[1]: decay: "),
                  "t.yaml:5:48: virtual_services[3].scheduler: ewma needs a latency "
                  "signal, which only forwarding proxy measures"));
}

TEST(LoaderTest, UnknownForwarding) {
  EXPECT_THAT(Errors(R"(
virtual_services:
  - {name: a, listen: 127.0.0.1:80, forwarding: masq}
)"),
              ElementsAre("t.yaml:2:49: virtual_services[0].forwarding: expected one of proxy, "
                          "nat, dr, tun; got 'masq'"));
}

TEST(LoaderTest, DuplicateNamesAndAddresses) {
  EXPECT_THAT(
      Errors(R"(
global:
  metrics_listen: 127.0.0.1:9100
virtual_services:
  - name: shop
    listen: 127.0.0.1:8080
    real_servers:
      - address: 127.0.0.1:9001
      - address: 127.0.0.1:9001
  - name: shop
    listen: 127.0.0.1:8080
  - name: metrics
    listen: 127.0.0.1:9100
    real_servers:
      - address: 127.0.0.1:9001
)"),
      ElementsAre("t.yaml:8:18: virtual_services[0].real_servers[1].address: duplicate real "
                  "server '127.0.0.1:9001' (first at "
                  "virtual_services[0].real_servers[0].address, line 7:18)",
                  "t.yaml:9:11: virtual_services[1].name: duplicate service name 'shop' (first "
                  "at virtual_services[0].name, line 4:11)",
                  "t.yaml:10:13: virtual_services[1].listen: duplicate listen address "
                  "'127.0.0.1:8080' (first at virtual_services[0].listen, line 5:13)",
                  "t.yaml:12:13: virtual_services[2].listen: duplicate listen address "
                  "'127.0.0.1:9100' (first at global.metrics_listen, line 2:19)"));
}

TEST(LoaderTest, AddressesThatWouldLoopOrCannotWork) {
  EXPECT_THAT(Errors(R"(
virtual_services:
  - name: a
    listen: 127.0.0.1:80
    sorry_server: 127.0.0.1:80
    real_servers: [{address: 127.0.0.1:80}]
  - name: b
    listen: 192.0.2.1:80
    forwarding: dr
    real_servers: [{address: 10.0.0.1:80}, {address: 10.0.0.2:8080}]
)"),
              ElementsAre("t.yaml:4:19: virtual_services[0].sorry_server: sorry_server "
                          "127.0.0.1:80 is the service's own listen address",
                          "t.yaml:5:30: virtual_services[0].real_servers[0].address: real server "
                          "127.0.0.1:80 is the service's own listen address",
                          "t.yaml:9:54: virtual_services[1].real_servers[1].address: forwarding "
                          "dr cannot change the port: real server port 8080 differs from the "
                          "listen port 80"));
}

TEST(LoaderTest, RealServerRanges) {
  EXPECT_THAT(Errors(R"(
virtual_services:
  - name: a
    listen: 127.0.0.1:80
    real_servers:
      - {address: 127.0.0.1:81, weight: 65536}
      - {address: 127.0.0.1:82, weight: -1}
      - {address: 127.0.0.1:83, max_conns: 10, min_conns: 20}
      - {address: 127.0.0.1:84, max_conns: -5}
      - {weight: 2}
)"),
              ElementsAre("t.yaml:5:41: virtual_services[0].real_servers[0].weight: 65536 is out "
                          "of range (expected 0..65535)",
                          "t.yaml:6:41: virtual_services[0].real_servers[1].weight: -1 is out of "
                          "range (expected 0..65535)",
                          "t.yaml:7:59: virtual_services[0].real_servers[2].min_conns: min_conns "
                          "20 is above max_conns 10",
                          "t.yaml:8:44: virtual_services[0].real_servers[3].max_conns: -5 is out "
                          "of range (expected >= 0)",
                          "t.yaml:9:9: virtual_services[0].real_servers[4]: missing required key "
                          "'address'"));
}

TEST(LoaderTest, MissingRequiredKeys) {
  EXPECT_THAT(Errors(R"(
virtual_services:
  - listen: 127.0.0.1:80
  - name: b
)"),
              ElementsAre("t.yaml:2:5: virtual_services[0]: missing required key 'name'",
                          "t.yaml:3:5: virtual_services[1]: missing required key 'listen'"));
}

TEST(LoaderTest, DurationsInTheFile) {
  EXPECT_THAT(Errors(R"(
global:
  drain_timeout: 30
virtual_services:
  - name: a
    listen: 127.0.0.1:80
    persistence: 1.5s
    timeouts: {connect: 0s, idle: 10d}
)"),
              ElementsAre(StartsWith("t.yaml:2:18: global.drain_timeout: bad duration '30' "
                                     "(expected an integer and a unit"),
                          StartsWith("t.yaml:6:18: virtual_services[0].persistence: bad "
                                     "duration '1.5s'"),
                          "t.yaml:7:25: virtual_services[0].timeouts.connect: must be greater "
                          "than 0",
                          StartsWith("t.yaml:7:35: virtual_services[0].timeouts.idle: bad "
                                     "duration '10d'")));
}

TEST(LoaderTest, GlobalRanges) {
  // sockaddr_un::sun_path holds 107 bytes and the NUL.
  std::string long_path = "/" + std::string(107, 'x');
  EXPECT_THAT(
      Errors("global:\n  workers: -1\n  log_level: loud\n  control_socket: " + long_path + "\n"),
      ElementsAre("t.yaml:2:12: global.workers: -1 is out of range (expected 0..1024)",
                  "t.yaml:3:14: global.log_level: expected one of debug, info, warning, error; "
                  "got 'loud'",
                  "t.yaml:4:19: global.control_socket: is 108 bytes long; a Unix socket path has "
                  "at most 107"));
  LoadResult r = Load("global: {workers: 0, log_level: warning}\n");
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(r.config->global.workers, 0);
  EXPECT_EQ(r.config->global.log_level, "warning");
}

TEST(LoaderTest, Quorum) {
  LoadResult r = Load(R"(
virtual_services:
  - {name: a, listen: 127.0.0.1:80, quorum: 2, hysteresis: 0, on_quorum_up: "echo up"}
)");
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(r.config->virtual_services[0].quorum, 2);
  EXPECT_EQ(r.config->virtual_services[0].on_quorum_up, "echo up");
  EXPECT_THAT(Errors(R"(
virtual_services:
  - {name: a, listen: 127.0.0.1:80, quorum: -1, hysteresis: -2, on_quorum_down: [x]}
)"),
              ElementsAre("t.yaml:2:45: virtual_services[0].quorum: -1 is out of range (expected "
                          ">= 0)",
                          "t.yaml:2:61: virtual_services[0].hysteresis: -2 is out of range "
                          "(expected >= 0)",
                          "t.yaml:2:81: virtual_services[0].on_quorum_down: expected a string, got "
                          "a sequence"));
}

TEST(LoaderTest, EveryErrorOfAFileIsReportedInFileOrder) {
  LoadResult r = LoadConfigFile(kData + "/many_errors.yaml");
  EXPECT_FALSE(r.config.has_value());
  std::vector<std::string> lines;
  for (const ConfigError& e : r.errors) {
    lines.push_back(e.ToString().substr(kData.size() + 1));
  }
  EXPECT_THAT(
      lines,
      ElementsAre(
          "many_errors.yaml:2:12: global.workers: -1 is out of range (expected 0..1024)",
          StartsWith("many_errors.yaml:3:14: global.log_level: expected one of"),
          "many_errors.yaml:6:13: virtual_services[0].listen: bad port in '127.0.0.1:80800'",
          StartsWith("many_errors.yaml:7:16: virtual_services[0].scheduler: expected one of rr,"),
          "many_errors.yaml:9:43: virtual_services[0].real_servers[0].weight: 70000 is out of "
          "range (expected 0..65535)",
          StartsWith("many_errors.yaml:10:19: virtual_services[0].real_servers[1].address: "
                     "duplicate real server '127.0.0.1:9001'"),
          StartsWith("many_errors.yaml:11:11: virtual_services[1].name: duplicate service name "
                     "'shop'"),
          StartsWith("many_errors.yaml:13:25: virtual_services[1].timeouts.connect: bad duration"),
          StartsWith("many_errors.yaml:14:5: virtual_services[1]: unknown key 'colour'"),
          "many_errors.yaml:18:24: vrrp[0].virtual_router_id: 0 is out of range (expected "
          "1..255)"));
}

TEST(LoaderTest, ShippedExampleConfigsLoad) {
  // examples/*.yaml are lbd configs users copy: they must stay valid.
  int checked = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(LBD_EXAMPLES_DIR, ec)) {
    if (entry.path().extension() != ".yaml") continue;
    LoadResult r = LoadConfigFile(entry.path().string());
    EXPECT_THAT(r.errors, IsEmpty()) << r.errors[0].ToString();
    ++checked;
  }
  RecordProperty("example_configs", checked);
}

TEST(LoaderTest, NamesAreSafeForCommandLinesAndMetrics) {
  EXPECT_THAT(Errors(R"(
virtual_services:
  - {name: "my shop", listen: 127.0.0.1:80}
  - {name: shop-1.eu_west, listen: 127.0.0.1:81}
)"),
              ElementsAre("t.yaml:2:12: virtual_services[0].name: bad name 'my shop' (expected "
                          "1..64 letters, digits, '_', '-' or '.')"));
}

TEST(LoaderTest, ToStrings) {
  EXPECT_STREQ(ToString(Forwarding::kProxy), "proxy");
  EXPECT_STREQ(ToString(Forwarding::kNat), "nat");
  EXPECT_STREQ(ToString(Forwarding::kDr), "dr");
  EXPECT_STREQ(ToString(Forwarding::kTun), "tun");
  EXPECT_STREQ(ToString(HealthCheckType::kNone), "none");
  EXPECT_STREQ(ToString(HealthCheckType::kTcp), "tcp");
  EXPECT_STREQ(ToString(HealthCheckType::kHttp), "http");
  EXPECT_STREQ(ToString(HealthCheckType::kExec), "exec");
  EXPECT_EQ((ConfigError{"f.yaml", 3, 7, "boom"}).ToString(), "f.yaml:3:7: boom");
}

TEST(LoaderTest, StatusAuthFromTheKeyOrAFile) {
  EXPECT_EQ(Load("global: {status_auth: admin:s3cr:et}\n").config->global.status_auth,
            "admin:s3cr:et");
  EXPECT_EQ(Load("global: {}\n").config->global.status_auth, "");
  const std::string file = ::testing::TempDir() + "/status_auth";
  {
    std::ofstream out(file);
    out << "ops:pa ss\r\nignored\n";
  }
  EXPECT_EQ(Load("global:\n  status_auth: {file: " + file + "}\n").config->global.status_auth,
            "ops:pa ss");
  EXPECT_THAT(Errors(R"(
global:
  status_auth: admin
)"),
              ElementsAre("t.yaml:2:16: global.status_auth: expected USER:PASSWORD (both "
                          "non-empty) or {file: PATH}"));
  EXPECT_THAT(Errors("global:\n  status_auth: ':x'\n"), SizeIs(1));
  EXPECT_THAT(Errors("global:\n  status_auth: 'x:'\n"), SizeIs(1));
  EXPECT_THAT(Errors("global:\n  status_auth: {file: /nonexistent/auth}\n"),
              ElementsAre("t.yaml:2:23: global.status_auth.file: cannot read "
                          "'/nonexistent/auth': No such file or directory"));
  EXPECT_THAT(Errors("global:\n  status_auth: {path: x}\n"), SizeIs(2));
  {
    std::ofstream out(file);
    out << "nocolon\n";
  }
  EXPECT_THAT(Errors("global:\n  status_auth: {file: " + file + "}\n"),
              ElementsAre(HasSubstr("global.status_auth.file: the file's first line must be "
                                    "USER:PASSWORD")));
  std::filesystem::remove(file);
}

TEST(LoaderTest, AccessLogDefaultsToGlobalForProxyServices) {
  const char* text = R"(
global:
  access_log: true
virtual_services:
  - name: a
    listen: 10.0.0.1:80
  - name: b
    listen: 10.0.0.2:80
    access_log: false
  - name: c
    listen: 10.0.0.3:80
    forwarding: nat
)";
  auto r = Load(text);
  ASSERT_TRUE(r.config.has_value());
  EXPECT_TRUE(r.config->global.access_log);
  EXPECT_TRUE(r.config->virtual_services[0].access_log);
  EXPECT_FALSE(r.config->virtual_services[1].access_log);
  EXPECT_FALSE(r.config->virtual_services[2].access_log);  // nothing to log in nat
  EXPECT_FALSE(Load("virtual_services:\n  - {name: a, listen: 10.0.0.1:80}\n")
                   .config->virtual_services[0]
                   .access_log);
  EXPECT_THAT(Errors(R"(
virtual_services:
  - name: a
    listen: 10.0.0.1:80
    forwarding: dr
    access_log: true
)"),
              ElementsAre(HasSubstr("t.yaml:5:17: virtual_services[0].access_log: needs "
                                    "forwarding proxy")));
  EXPECT_THAT(Errors("global:\n  access_log: maybe\n"), SizeIs(1));
}

}  // namespace
}  // namespace lbd
