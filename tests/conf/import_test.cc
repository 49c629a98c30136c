// ImportKeepalived*/ImportIpvsadm* (lbd/conf/import.h): mapping with the
// source's meaning, warnings for what lbd lacks, errors for malformed input.
#include "lbd/conf/import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "conf_test_util.h"

namespace lbd {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::string Text(std::string_view s) { return std::string(s.substr(s.front() == '\n' ? 1 : 0)); }

TEST(ImportIpvsadmTest, EveryOptionMaps) {
  const ImportResult r = ImportIpvsadmString(Text(R"(
-A -t 10.0.0.1:80 -s wrr
-a -t 10.0.0.1:80 -r 10.0.1.1:8080 -m -w 1
-a -t 10.0.0.1:80 -r 10.0.1.2:8080 -m -w 3 -x 100 -y 10
-A -t 10.0.0.2:80 -s sh -b sh-port,sh-fallback -p 600
-a -t 10.0.0.2:80 -r 10.0.1.3:80 -g -w 2
-A -t 10.0.0.3:443 -s mh -b flag-1 -p
-a -t 10.0.0.3:443 -r 10.0.1.4:443 -i -w 0
)"),
                                             "rules");
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_THAT(r.warnings, IsEmpty());
  ASSERT_THAT(r.config.virtual_services, SizeIs(3));
  const auto& a = r.config.virtual_services[0];
  EXPECT_EQ(a.name, "tcp_10.0.0.1_80");
  EXPECT_EQ(a.scheduler, "wrr");
  EXPECT_EQ(a.forwarding, Forwarding::kNat);
  ASSERT_THAT(a.real_servers, SizeIs(2));
  EXPECT_EQ(a.real_servers[1].weight, 3);
  EXPECT_EQ(a.real_servers[1].max_conns, 100u);
  EXPECT_EQ(a.real_servers[1].min_conns, 10u);
  const auto& b = r.config.virtual_services[1];
  EXPECT_EQ(b.forwarding, Forwarding::kDr);
  EXPECT_TRUE(b.hash_port && b.hash_fallback);
  EXPECT_EQ(b.persistence, Duration(600000));
  const auto& c = r.config.virtual_services[2];
  EXPECT_EQ(c.forwarding, Forwarding::kTun);
  EXPECT_TRUE(c.hash_fallback && !c.hash_port);
  EXPECT_EQ(c.persistence, Duration(300000));  // -p alone: ipvsadm's 300 s
  EXPECT_EQ(c.real_servers[0].weight, 0);
  EXPECT_EQ(r.server_origin.at({"tcp_10.0.0.1_80", "10.0.1.2:8080"}), "rules:3");
  EXPECT_THAT(r.yaml, HasSubstr("- name: tcp_10.0.0.2_80  # from rules:4"));
  EXPECT_THAT(r.yaml, HasSubstr("- address: 10.0.1.3:80  # from rules:5"));
}

TEST(ImportIpvsadmTest, UdpAndFwmarkAreWarnedNotDropped) {
  const ImportResult r = ImportIpvsadmString(
      "-A -u 10.0.0.4:53 -s rr\n-a -u 10.0.0.4:53 -r 10.0.1.5:53 -m\n-A -f 7 -s rr\n", "r");
  EXPECT_THAT(r.errors, IsEmpty());
  EXPECT_THAT(r.warnings, ElementsAre(HasSubstr("r:1: warning:"), HasSubstr("r:2: warning:"),
                                      HasSubstr("r:3: warning:")));
  EXPECT_THAT(r.config.virtual_services, IsEmpty());
}

TEST(ImportIpvsadmTest, MalformedInputIsAnErrorWithItsLine) {
  auto errors = [](std::string_view text) { return ImportIpvsadmString(text, "r").errors; };
  EXPECT_THAT(errors("-A -t host:http -s rr\n"), ElementsAre(HasSubstr("r:1: bad service")));
  EXPECT_THAT(errors("-A -t 1.2.3.4:80\n-a -t 1.2.3.4:80 -r 1.1.1.1:80 -w x\n"),
              ElementsAre(HasSubstr("r:2: bad value 'x'")));
  EXPECT_THAT(errors("\n-a -t 1.2.3.4:80 -r 1.1.1.1:80\n"),
              ElementsAre(HasSubstr("r:2: real server for service 1.2.3.4:80 which no -A")));
  EXPECT_THAT(errors("-E -t 1.2.3.4:80\n"), ElementsAre(HasSubstr("r:1: unknown command")));
  EXPECT_THAT(errors("-A -t 1.2.3.4:80 --bogus\n"), ElementsAre(HasSubstr("unknown option")));
  EXPECT_THAT(errors("-A -t 1.2.3.4:80\n-A -t 1.2.3.4:80\n"), ElementsAre(HasSubstr("twice")));
  EXPECT_THAT(errors(std::string("-A -t 1.2.3.4:80\n\x01\x02\0garbage", 27)),
              ElementsAre(HasSubstr("r:2: binary data")));
  const ImportResult r = ImportIpvsadmString("-A -t 1.2.3.4:80 -s\n", "r");
  EXPECT_THAT(r.errors, ElementsAre(HasSubstr("r:1: option -s needs a value")));
  EXPECT_TRUE(r.yaml.empty());
}

TEST(ImportIpvsadmTest, AManyErrorInputStopsEarly) {
  std::string garbage;
  for (int i = 0; i < 100000; ++i) garbage += "nonsense line\n";
  const ImportResult r = ImportIpvsadmString(garbage, "r");
  ASSERT_THAT(r.errors.size(), ::testing::Le(60u));
  EXPECT_THAT(r.errors.back(), HasSubstr("too many errors"));
  EXPECT_TRUE(r.yaml.empty());
}

constexpr std::string_view kKeepalived = R"(
global_defs {
   router_id LVS_DEVEL
   vrrp_version 3
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.5
    nopreempt
    preempt_delay 4
    unicast_peer {
        10.1.1.2
    }
    virtual_ipaddress {
        192.168.200.16
        192.168.200.17/24 dev eth0
        2001:db8::1
    }
    notify_master "/usr/local/bin/master.sh arg"
    notify /usr/local/bin/notify.sh
    track_script {
        chk
    }
}
vrrp_instance VI_2 {
    interface eth1
    virtual_router_id 52
    version 2
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        10.9.9.9
    }
}
virtual_server 10.0.0.1 80 {
    delay_loop 10
    lb_algo mh
    mh-port
    lb_kind NAT
    persistence_timeout 50
    protocol TCP
    sorry_server 10.0.9.9 80
    quorum 3
    hysteresis 1
    quorum_up "/bin/up.sh now"
    quorum_down /bin/down.sh
    alpha
    real_server 10.0.1.1 8080 {
        weight 5
        uthreshold 100
        lthreshold 20
        inhibit_on_failure
        HTTP_GET {
            url {
                path /health
                digest 640205B7B0FC66C1EA91C463FAC6334D
                status_code 200 300-302
            }
            connect_port 8081
            connect_timeout 3
            retry 2
            delay_before_retry 2
        }
    }
    real_server 10.0.1.2 8080 {
        weight 2
        TCP_CHECK {
            connect_timeout 4
        }
    }
    real_server 10.0.1.3 8080 {
        MISC_CHECK {
            misc_path "/bin/check.sh 10.0.1.3"
            misc_timeout 7
            misc_dynamic
        }
    }
    real_server 10.0.1.4 8080 {
        SSL_GET {
            url {
              path /
            }
        }
    }
}
virtual_server 10.0.0.2 53 {
    protocol UDP
    real_server 10.0.1.5 53 {
    }
}
virtual_server fwmark 1 {
    real_server 10.0.1.6 80 {
    }
}
)";

TEST(ImportKeepalivedTest, EveryMappedKeyword) {
  const ImportResult r = ImportKeepalivedString(Text(kKeepalived), "k.conf");
  ASSERT_THAT(r.errors, IsEmpty());
  ASSERT_THAT(r.config.vrrp, SizeIs(2));
  const auto& v = r.config.vrrp[0];
  EXPECT_EQ(v.name, "VI_1");
  EXPECT_EQ(v.interface, "eth0");
  EXPECT_EQ(v.virtual_router_id, 51);
  EXPECT_EQ(v.priority, 150);
  EXPECT_EQ(v.version, 3);
  EXPECT_EQ(v.advert_interval, Duration(500));
  EXPECT_FALSE(v.preempt);
  EXPECT_EQ(v.preempt_delay, Duration(4000));
  EXPECT_THAT(v.unicast_peers, ElementsAre("10.1.1.2"));
  EXPECT_THAT(v.virtual_ips, ElementsAre("192.168.200.16/32", "192.168.200.17/24"));
  EXPECT_EQ(v.notify_master, "/usr/local/bin/master.sh arg");
  EXPECT_EQ(v.notify, "/usr/local/bin/notify.sh");
  const auto& v2 = r.config.vrrp[1];
  EXPECT_EQ(v2.version, 2);
  EXPECT_EQ(v2.auth_pass, "secret");
  ASSERT_THAT(r.config.virtual_services, SizeIs(1));
  const auto& s = r.config.virtual_services[0];
  EXPECT_EQ(s.name, "vs_10.0.0.1_80");
  EXPECT_EQ(s.scheduler, "mh");
  EXPECT_TRUE(s.hash_port);
  EXPECT_FALSE(s.hash_fallback);
  EXPECT_EQ(s.forwarding, Forwarding::kNat);
  EXPECT_EQ(s.persistence, Duration(50000));
  EXPECT_EQ(ToString(*s.sorry_server), "10.0.9.9:80");
  EXPECT_EQ(s.quorum, 3);
  EXPECT_EQ(s.hysteresis, 1);
  EXPECT_EQ(s.on_quorum_up, "/bin/up.sh now");
  EXPECT_EQ(s.on_quorum_down, "/bin/down.sh");
  ASSERT_THAT(s.real_servers, SizeIs(4));
  const auto& h = s.real_servers[0];
  EXPECT_EQ(ToString(h.address), "10.0.1.1:8080");
  EXPECT_EQ(h.weight, 5);
  EXPECT_EQ(h.max_conns, 100u);
  EXPECT_EQ(h.min_conns, 20u);
  ASSERT_TRUE(h.healthcheck);
  EXPECT_EQ(h.healthcheck->type, HealthCheckType::kHttp);
  EXPECT_EQ(h.healthcheck->path, "/health");
  EXPECT_EQ(h.healthcheck->expect_md5, "640205b7b0fc66c1ea91c463fac6334d");
  ASSERT_THAT(h.healthcheck->expect_status, SizeIs(2));
  EXPECT_EQ(h.healthcheck->expect_status[1].low, 300);
  EXPECT_EQ(h.healthcheck->expect_status[1].high, 302);
  EXPECT_EQ(h.healthcheck->port, 8081);
  EXPECT_EQ(h.healthcheck->timeout, Duration(3000));
  EXPECT_EQ(h.healthcheck->interval, Duration(10000));  // delay_loop
  EXPECT_EQ(h.healthcheck->fall, 3);                    // retry 2: down at the 3rd failure
  EXPECT_EQ(h.healthcheck->rise, 1);
  EXPECT_TRUE(h.healthcheck->alpha);
  EXPECT_TRUE(h.healthcheck->inhibit_on_failure);
  const auto& t = s.real_servers[1];
  EXPECT_EQ(t.healthcheck->type, HealthCheckType::kTcp);
  EXPECT_EQ(t.healthcheck->timeout, Duration(4000));
  EXPECT_EQ(t.healthcheck->fall, 2);  // keepalived's default retry 1
  EXPECT_FALSE(t.healthcheck->inhibit_on_failure);
  const auto& m = s.real_servers[2];
  EXPECT_EQ(m.weight, 1);
  EXPECT_EQ(m.healthcheck->type, HealthCheckType::kExec);
  EXPECT_EQ(m.healthcheck->command, "/bin/check.sh 10.0.1.3");
  EXPECT_EQ(m.healthcheck->timeout, Duration(7000));
  EXPECT_TRUE(m.healthcheck->dynamic_weight);
  EXPECT_EQ(m.healthcheck->fall, 1);            // MISC_CHECK's default retry 0
  EXPECT_FALSE(s.real_servers[3].healthcheck);  // SSL_GET: kept, without a check
  EXPECT_THAT(r.warnings, ElementsAre(HasSubstr("k.conf:2: warning: global_defs router_id"),
                                      HasSubstr("k.conf:18: warning: address options (dev eth0)"),
                                      HasSubstr("k.conf:19: warning: IPv6 address"),
                                      HasSubstr("k.conf:23: warning: track_script"),
                                      HasSubstr("k.conf:83: warning: SSL_GET"),
                                      HasSubstr("k.conf:91: warning: lbd has no UDP services"),
                                      HasSubstr("k.conf:95: warning: fwmark virtual_server")));
  EXPECT_THAT(r.yaml, HasSubstr("- name: vs_10.0.0.1_80  # from k.conf:39"));
  EXPECT_THAT(r.yaml, HasSubstr("- address: 10.0.1.2:8080  # from k.conf:69"));
  EXPECT_THAT(r.yaml, HasSubstr("- name: VI_2  # from k.conf:27"));
}

TEST(ImportKeepalivedTest, GroupsExpandAndDrKeepsTheServicePort) {
  const ImportResult r = ImportKeepalivedString(Text(R"(
virtual_server_group G {
    10.0.0.1 80
    10.0.0.5-6 80
    fwmark 3
}
virtual_server group G {
    lb_algo sh
    lb_kind DR
    real_server 10.0.1.1 8080 {
        weight 2
    }
}
)"),
                                                "g.conf");
  ASSERT_THAT(r.errors, IsEmpty());
  ASSERT_THAT(r.config.virtual_services, SizeIs(3));
  EXPECT_EQ(r.config.virtual_services[2].name, "G_10.0.0.6_80");
  EXPECT_EQ(ToString(r.config.virtual_services[2].real_servers[0].address), "10.0.1.1:80");
  EXPECT_THAT(r.warnings, ::testing::Contains(HasSubstr("g.conf:4: warning: fwmark")));
}

TEST(ImportKeepalivedTest, MalformedInputIsAnErrorWithItsLine) {
  auto errors = [](std::string_view text) {
    ImportResult r = ImportKeepalivedString(text, "m.conf");
    EXPECT_TRUE(r.yaml.empty());
    return r.errors;
  };
  EXPECT_THAT(errors("virtual_server 1.2.3.4 80 {\n real_server 1.1.1.1 80 {\n"),
              ElementsAre(HasSubstr("m.conf:2: '{' never closed")));
  EXPECT_THAT(errors("global_defs {\n}\n}\n"), ElementsAre(HasSubstr("m.conf:3: '}' without")));
  EXPECT_THAT(errors("bogus_keyword 1\n"), ElementsAre(HasSubstr("m.conf:1: unknown keyword")));
  EXPECT_THAT(errors("virtual_server 1.2.3.4 80 {\n  lb_algo rr\n  frobnicate\n}\n"),
              ElementsAre(HasSubstr("m.conf:3: unknown keyword 'frobnicate'")));
  EXPECT_THAT(errors("virtual_server 1.2.3.999 80 {\n}\n"),
              ElementsAre(HasSubstr("m.conf:1: bad address '1.2.3.999'")));
  EXPECT_THAT(errors("virtual_server 1.2.3.4 80 {\n real_server 1.1.1.1 80 {\n weight x\n}\n}\n"),
              ElementsAre(HasSubstr("m.conf:3: bad value 'x' for weight")));
  EXPECT_THAT(errors("vrrp_instance V {\n virtual_router_id 300\n interface e\n}\n"),
              ::testing::Contains(HasSubstr("m.conf:2: bad value '300'")));
  EXPECT_THAT(errors("vrrp_instance V {\n virtual_ipaddress {\n 10.0.0.300\n }\n}\n"),
              ::testing::Contains(HasSubstr("m.conf:3: bad virtual address")));
  EXPECT_THAT(errors(std::string("global_defs {\n\0\x01\x02\xff", 18)),
              ElementsAre(HasSubstr("m.conf:2: binary data")));
  EXPECT_THAT(errors("notify_master \"unterminated\n"),
              ElementsAre(HasSubstr("m.conf:1: unterminated")));
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "a {\n";
  EXPECT_THAT(errors(deep), ElementsAre(HasSubstr("nested deeper")));
  std::string many;
  for (int i = 0; i < 20000; ++i) many += "bogus 1 2 3\n";
  const auto e = errors(many);
  EXPECT_LE(e.size(), 60u);
  std::string huge(17 << 20, ' ');  // over the 16 MiB cap
  EXPECT_THAT(errors(huge), ElementsAre(HasSubstr("exceeds 16 MiB")));
}

TEST(ImportKeepalivedTest, IncludeGlobsAreFollowedWithTheirOwnLines) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("import_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / "conf.d");
  std::ofstream(dir / "main.conf") << "! main\ninclude conf.d/*.conf\n";
  std::ofstream(dir / "conf.d" / "a.conf")
      << "virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n  }\n}\n";
  std::ofstream(dir / "conf.d" / "b.conf")
      << "\nvrrp_instance V {\n interface e\n virtual_router_id 9\n smtp_alert\n}\n";
  const ImportResult r = ImportKeepalivedFile((dir / "main.conf").string());
  EXPECT_THAT(r.errors, IsEmpty());
  EXPECT_THAT(r.config.virtual_services, SizeIs(1));
  EXPECT_THAT(r.config.vrrp, SizeIs(1));
  EXPECT_EQ(r.server_origin.at({"vs_10.0.0.1_80", "10.0.1.1:80"}),
            (dir / "conf.d" / "a.conf").string() + ":2");
  EXPECT_THAT(r.warnings,
              ElementsAre(AllOf(HasSubstr("b.conf:5: warning:"), HasSubstr("smtp_alert"))));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lbd
