// `lbctl import` end to end: every keepalived sample Debian ships converts to
// YAML that `lbd --check` accepts, with warnings only for constructs lbd
// lacks; three samples are checked field by field against values read from
// the sample by hand; an ipvsadm rule set with every scheduler and method is
// imported, checked, and run (as proxy services) with `lbctl status`
// compared to the rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "lbd/conf/loader.h"
#include "lbd_process.h"

namespace lbd {
namespace {

using lbtest::ReadFile;
using lbtest::RunProgram;
using lbtest::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const std::string kSamples = "/usr/share/doc/keepalived/samples";

// The import's YAML with the control socket moved into `dir`, so that
// `lbd --check` does not depend on /run/lbd existing.
std::string Localize(const TempDir& dir, const std::string& yaml) {
  return std::regex_replace(yaml, std::regex("/run/lbd/lbd\\.sock"), dir.File("lbd.sock"));
}

struct Imported {
  lbtest::RunResult run;
  std::string yaml_path;
  Config config;
};

Imported Import(const TempDir& dir, const std::string& kind, const std::string& file) {
  Imported i;
  i.run = RunProgram(dir, {LBCTL_PATH, "import", kind, file});
  static int n = 0;
  i.yaml_path = dir.File("imported" + std::to_string(++n) + ".yaml");
  std::ofstream(i.yaml_path) << Localize(dir, i.run.out);
  LoadResult r = LoadConfigString(i.run.out, "out");
  if (r.config) i.config = *r.config;
  return i;
}

// The sample's text file (gunzipped into `dir` when shipped gzipped).
std::string Plain(const TempDir& dir, const std::filesystem::path& p) {
  if (p.extension() != ".gz") return p.string();
  const std::string out = dir.File(p.stem().string());
  auto r = RunProgram(dir, {"/bin/sh", "-c", "gzip -dc '" + p.string() + "' > '" + out + "'"});
  EXPECT_EQ(r.exit_code, 0) << p;
  return out;
}

// keepalived keywords lbd maps: a warning on their line would mean the
// converter dropped something lbd can do. (`url` is not here: lbd checks one
// per server, a second one is warned about.)
const std::set<std::string> kMapped = {"weight",
                                       "lb_algo",
                                       "lvs_sched",
                                       "lb_kind",
                                       "lvs_method",
                                       "delay_loop",
                                       "persistence_timeout",
                                       "sorry_server",
                                       "quorum",
                                       "hysteresis",
                                       "quorum_up",
                                       "quorum_down",
                                       "alpha",
                                       "inhibit_on_failure",
                                       "uthreshold",
                                       "lthreshold",
                                       "TCP_CHECK",
                                       "HTTP_GET",
                                       "MISC_CHECK",
                                       "path",
                                       "digest",
                                       "status_code",
                                       "connect_port",
                                       "connect_timeout",
                                       "retry",
                                       "nb_get_retry",
                                       "delay_before_retry",
                                       "misc_path",
                                       "misc_timeout",
                                       "misc_dynamic",
                                       "interface",
                                       "virtual_router_id",
                                       "priority",
                                       "advert_int",
                                       "nopreempt",
                                       "preempt_delay",
                                       "state",
                                       "auth_pass",
                                       "unicast_peer",
                                       "notify",
                                       "notify_master",
                                       "notify_backup",
                                       "notify_fault",
                                       "version",
                                       "vrrp_version"};

TEST(ImportIntegrationTest, EveryKeepalivedSampleConvertsAndPassesCheck) {
  if (!std::filesystem::is_directory(kSamples)) {
    GTEST_SKIP() << kSamples << " is absent (apt-get install keepalived ships the samples)";
  }
  TempDir dir;
  int converted = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kSamples)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("keepalived.conf", 0) != 0) continue;
    SCOPED_TRACE(name);
    const std::string file = Plain(dir, entry.path());
    Imported i = Import(dir, "keepalived", file);
    ASSERT_EQ(i.run.exit_code, 0) << i.run.err;
    auto check = RunProgram(dir, {LBD_PATH, "-c", i.yaml_path, "--check"});
    EXPECT_EQ(check.exit_code, 0) << check.err << "\n" << i.run.out;
    // Each warning names a source line whose construct lbd lacks.
    std::vector<std::string> source;
    {
      std::istringstream in(ReadFile(file));
      for (std::string l; std::getline(in, l);) source.push_back(l);
    }
    std::istringstream err(i.run.err);
    const std::regex warning(
        "^" + std::regex_replace(file, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
        R"(:(\d+): warning: (.*)$)");
    for (std::string line; std::getline(err, line);) {
      std::smatch m;
      ASSERT_TRUE(std::regex_match(line, m, warning)) << line;
      const size_t at = std::stoul(m[1]);
      ASSERT_TRUE(at >= 1 && at <= source.size()) << line;
      std::istringstream words(source[at - 1]);
      std::string first;
      words >> first;
      EXPECT_EQ(kMapped.count(first), 0u) << line << "\n  source: " << source[at - 1];
    }
    ++converted;
  }
  EXPECT_GT(converted, 0);
}

Imported Sample(const TempDir& dir, const std::string& name) {
  const std::filesystem::path p = kSamples + "/" + name;
  const std::string file = std::filesystem::exists(p) ? p.string() : Plain(dir, p.string() + ".gz");
  Imported i = Import(dir, "keepalived", file);
  EXPECT_EQ(i.run.exit_code, 0) << i.run.err;
  return i;
}

TEST(ImportIntegrationTest, SamplesFieldByField) {
  if (!std::filesystem::is_directory(kSamples)) GTEST_SKIP() << kSamples << " is absent";
  TempDir dir;
  {
    // keepalived.conf.sample: one NAT service with an HTTP_GET, one instance.
    Imported i = Sample(dir, "keepalived.conf.sample");
    const Config& c = i.config;
    ASSERT_THAT(c.virtual_services, SizeIs(1));
    const auto& vs = c.virtual_services[0];
    EXPECT_EQ(ToString(vs.listen), "10.10.10.2:1358");
    EXPECT_EQ(vs.scheduler, "rr");
    EXPECT_EQ(vs.forwarding, Forwarding::kNat);
    EXPECT_EQ(vs.persistence, Duration(50000));
    EXPECT_EQ(ToString(*vs.sorry_server), "192.168.200.200:1358");
    ASSERT_THAT(vs.real_servers, SizeIs(1));
    const auto& rs = vs.real_servers[0];
    EXPECT_EQ(ToString(rs.address), "192.168.200.2:1358");
    EXPECT_EQ(rs.weight, 1);
    ASSERT_TRUE(rs.healthcheck);
    EXPECT_EQ(rs.healthcheck->type, HealthCheckType::kHttp);
    EXPECT_EQ(rs.healthcheck->path, "/testurl3/test.jsp");
    EXPECT_EQ(rs.healthcheck->expect_md5, "640205b7b0fc66c1ea91c463fac6334d");
    EXPECT_EQ(rs.healthcheck->timeout, Duration(3000));   // connect_timeout 3
    EXPECT_EQ(rs.healthcheck->interval, Duration(6000));  // delay_loop 6
    EXPECT_EQ(rs.healthcheck->fall, 4);                   // retry 3
    ASSERT_THAT(c.vrrp, SizeIs(1));
    EXPECT_EQ(c.vrrp[0].name, "VI_1");
    EXPECT_EQ(c.vrrp[0].interface, "eth0");
    EXPECT_EQ(c.vrrp[0].virtual_router_id, 50);
    EXPECT_EQ(c.vrrp[0].priority, 100);
    EXPECT_EQ(c.vrrp[0].version, 2);
    EXPECT_FALSE(c.vrrp[0].preempt);
    EXPECT_THAT(c.vrrp[0].virtual_ips,
                ElementsAre("192.168.200.11/32", "192.168.200.12/32", "192.168.200.13/32"));
    EXPECT_THAT(i.run.out, HasSubstr("keepalived.conf.sample:26"));  // the virtual_server line
  }
  {
    // keepalived.conf.quorum: ten TCP_CHECKed servers, quorum 7 hysteresis 2, alpha.
    Imported i = Sample(dir, "keepalived.conf.quorum");
    ASSERT_THAT(i.config.virtual_services, SizeIs(1));
    const auto& vs = i.config.virtual_services[0];
    EXPECT_EQ(ToString(vs.listen), "10.0.1.1:80");
    EXPECT_EQ(vs.scheduler, "wrr");
    EXPECT_EQ(vs.forwarding, Forwarding::kNat);
    EXPECT_EQ(vs.persistence, Duration(900000));
    EXPECT_EQ(vs.quorum, 7);
    EXPECT_EQ(vs.hysteresis, 2);
    EXPECT_EQ(vs.on_quorum_up, "/usr/local/sbin/quorum-up.sh");
    EXPECT_EQ(vs.on_quorum_down, "/usr/local/sbin/quorum-down.sh");
    ASSERT_THAT(vs.real_servers, SizeIs(10));
    for (int n = 0; n < 10; ++n) {
      const auto& rs = vs.real_servers[n];
      EXPECT_EQ(ToString(rs.address), "10.0.0." + std::to_string(n + 1) + ":8080");
      EXPECT_EQ(rs.weight, 1);
      ASSERT_TRUE(rs.healthcheck);
      EXPECT_EQ(rs.healthcheck->type, HealthCheckType::kTcp);
      EXPECT_EQ(rs.healthcheck->port, 80);
      EXPECT_EQ(rs.healthcheck->timeout, Duration(3000));
      EXPECT_TRUE(rs.healthcheck->alpha);
    }
    EXPECT_THAT(i.run.err, HasSubstr("omega"));  // the one construct lbd lacks
  }
  {
    // keepalived.conf.vrrp: four instances; VI_1 and VI_3 with PASS auth.
    Imported i = Sample(dir, "keepalived.conf.vrrp");
    EXPECT_THAT(i.config.virtual_services, IsEmpty());
    ASSERT_THAT(i.config.vrrp, SizeIs(4));
    const auto& v = i.config.vrrp;
    EXPECT_EQ(v[0].virtual_router_id, 51);
    EXPECT_EQ(v[0].auth_pass, "1111");
    EXPECT_THAT(v[0].virtual_ips,
                ElementsAre("192.168.200.16/32", "192.168.200.17/32", "192.168.200.18/32"));
    EXPECT_EQ(v[1].interface, "eth0");
    EXPECT_EQ(v[1].priority, 50);
    EXPECT_EQ(v[1].auth_pass, "");
    EXPECT_EQ(v[2].interface, "eth1");
    EXPECT_EQ(v[2].virtual_router_id, 52);
    EXPECT_EQ(v[3].name, "VI_4");
    EXPECT_THAT(v[3].virtual_ips,
                ElementsAre("192.168.201.16/32", "192.168.201.17/32", "192.168.201.18/32"));
    for (const auto& inst : v) EXPECT_EQ(inst.advert_interval, Duration(1000));
  }
}

TEST(ImportIntegrationTest, IpvsadmRulesRunAndMatchStatus) {
  TempDir dir;
  // Every scheduler lbd shares with IPVS, each method, persistence,
  // weights and thresholds. dr/tun keep the service port (IPVS does too).
  const std::string rules =
      "-A -t 127.0.0.1:18101 -s rr\n"
      "-a -t 127.0.0.1:18101 -r 127.0.0.1:19101 -m -w 1\n"
      "-a -t 127.0.0.1:18101 -r 127.0.0.1:19102 -m -w 2 -x 100 -y 10\n"
      "-A -t 127.0.0.1:18102 -s wrr -p 60\n"
      "-a -t 127.0.0.1:18102 -r 127.0.0.2:18102 -g -w 3\n"
      "-A -t 127.0.0.1:18103 -s sh -b sh-port,sh-fallback\n"
      "-a -t 127.0.0.1:18103 -r 127.0.0.3:18103 -i -w 4\n"
      "-A -t 127.0.0.1:18104 -s dh\n"
      "-a -t 127.0.0.1:18104 -r 127.0.0.1:19104 -m -w 5\n"
      "-A -t 127.0.0.1:18105 -s lc\n"
      "-a -t 127.0.0.1:18105 -r 127.0.0.1:19105 -m -w 6 -x 50\n"
      "-A -t 127.0.0.1:18106 -s wlc -p\n"
      "-a -t 127.0.0.1:18106 -r 127.0.0.1:19106 -m -w 7\n"
      "-A -t 127.0.0.1:18107 -s sed\n"
      "-a -t 127.0.0.1:18107 -r 127.0.0.1:19107 -m -w 8\n"
      "-A -t 127.0.0.1:18108 -s nq\n"
      "-a -t 127.0.0.1:18108 -r 127.0.0.1:19108 -m -w 9\n"
      "-A -t 127.0.0.1:18109 -s lblc\n"
      "-a -t 127.0.0.1:18109 -r 127.0.0.1:19109 -m -w 10\n"
      "-A -t 127.0.0.1:18110 -s lblcr\n"
      "-a -t 127.0.0.1:18110 -r 127.0.0.1:19110 -m -w 11\n"
      "-A -t 127.0.0.1:18111 -s mh -b flag-1,flag-2 -p 30\n"
      "-a -t 127.0.0.1:18111 -r 127.0.0.4:18111 -g -w 0\n";
  const std::string rules_path = dir.File("rules");
  std::ofstream(rules_path) << rules;
  Imported i = Import(dir, "ipvsadm", rules_path);
  ASSERT_EQ(i.run.exit_code, 0) << i.run.err;
  EXPECT_EQ(i.run.err, "");
  auto check = RunProgram(dir, {LBD_PATH, "-c", i.yaml_path, "--check"});
  ASSERT_EQ(check.exit_code, 0) << check.err;
  const auto& s = i.config.virtual_services;
  ASSERT_THAT(s, SizeIs(11));
  EXPECT_EQ(s[0].forwarding, Forwarding::kNat);
  EXPECT_EQ(s[1].forwarding, Forwarding::kDr);
  EXPECT_EQ(s[2].forwarding, Forwarding::kTun);
  EXPECT_EQ(s[0].real_servers[1].max_conns, 100u);
  EXPECT_EQ(s[0].real_servers[1].min_conns, 10u);
  EXPECT_EQ(s[4].real_servers[0].max_conns, 50u);
  EXPECT_EQ(s[5].persistence, Duration(300000));
  EXPECT_TRUE(s[2].hash_port && s[2].hash_fallback && s[10].hash_port && s[10].hash_fallback);
  // Packet modes need a director topology; run the same services as proxy.
  const std::string proxied = std::regex_replace(
      ReadFile(i.yaml_path), std::regex("forwarding: (nat|dr|tun)"), "forwarding: proxy");
  lbtest::LbdProcess lbd(dir, proxied);
  ASSERT_TRUE(lbd.Start()) << lbd.Log();
  const std::string status = lbd.Ctl({"status"}).out;
  // Each -A line's service and scheduler, each -a line's server and weight.
  std::istringstream in(rules);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m,
                          std::regex(R"(^-A -t (\S+) -s (\S+)(?: -b \S+)?( -p( \d+)?)?$)"))) {
      std::string expect = "TCP  " + m[1].str() + " " + m[2].str();
      EXPECT_THAT(status, HasSubstr(expect)) << line;
      if (m[3].matched) {
        const std::string p = m[4].matched ? m[4].str().substr(1) : "300";
        EXPECT_THAT(status, HasSubstr(expect + " persistent " + p)) << line;
      }
    } else if (std::regex_search(line, m, std::regex(R"(-r (\S+) -[gmi] -w (\d+))"))) {
      EXPECT_TRUE(std::regex_search(
          status, std::regex("-> " + std::regex_replace(m[1].str(), std::regex("\\."), "\\.") +
                             R"( +Proxy +)" + m[2].str() + " ")))
          << line << "\n"
          << status;
    }
  }
  // stdin, and --strict: warnings (a UDP service) make the exit status 1.
  auto piped = RunProgram(
      dir, {"/bin/sh", "-c", std::string(LBCTL_PATH) + " import ipvsadm - < " + rules_path});
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_THAT(piped.out, HasSubstr("# from <stdin>:2"));
  std::ofstream(rules_path, std::ios::app) << "-A -u 127.0.0.1:53 -s rr\n";
  auto lax = RunProgram(dir, {LBCTL_PATH, "import", "ipvsadm", rules_path});
  EXPECT_EQ(lax.exit_code, 0);
  EXPECT_THAT(lax.err, HasSubstr(rules_path + ":24: warning:"));
  auto strict = RunProgram(dir, {LBCTL_PATH, "import", "ipvsadm", "--strict", rules_path});
  EXPECT_EQ(strict.exit_code, 1);
  std::ofstream(rules_path, std::ios::app) << "-A -t 127.0.0.1:80 -s rr -Q\n";
  auto bad = RunProgram(dir, {LBCTL_PATH, "import", "ipvsadm", rules_path});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.out, "");
  EXPECT_THAT(bad.err, HasSubstr(rules_path + ":25: unknown option '-Q'"));
  // Thresholds are not in `status`; the running configuration has them.
  const std::string dump = lbd.Ctl({"dump"}).out;
  EXPECT_THAT(dump, HasSubstr("max_conns: 100\n        min_conns: 10"));
}

}  // namespace
}  // namespace lbd
