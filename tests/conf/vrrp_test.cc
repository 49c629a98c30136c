#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "conf_test_util.h"
#include "lbd/conf/loader.h"

namespace lbd {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using testing::Errors;
using ::testing::IsEmpty;
using testing::Load;
using ::testing::StartsWith;

// One service "web", then `vrrp` (which starts on line 4).
std::string WithVrrp(std::string_view vrrp) {
  return "virtual_services:\n  - {name: web, listen: 127.0.0.1:80}\nvrrp:\n" + std::string(vrrp);
}

TEST(VrrpTest, MinimalInstanceGetsDefaults) {
  LoadResult r = Load(WithVrrp("  - {name: V, interface: eth0, virtual_router_id: 1}\n"));
  ASSERT_THAT(r.errors, IsEmpty());
  const VrrpInstanceConfig& v = r.config->vrrp[0];
  EXPECT_EQ(v.priority, 100);
  EXPECT_EQ(v.version, 3);
  EXPECT_EQ(v.advert_interval, milliseconds(1000));
  EXPECT_TRUE(v.preempt);
  EXPECT_THAT(v.virtual_ips, IsEmpty());
}

TEST(VrrpTest, RequiredKeys) {
  EXPECT_THAT(Errors(WithVrrp("  - priority: 100\n")),
              ElementsAre("t.yaml:4:5: vrrp[0]: missing required key 'name'",
                          "t.yaml:4:5: vrrp[0]: missing required key 'interface'",
                          "t.yaml:4:5: vrrp[0]: missing required key 'virtual_router_id'"));
}

TEST(VrrpTest, Ranges) {
  EXPECT_THAT(
      Errors(WithVrrp("  - name: V\n    interface: averyveryverylongname0\n    virtual_router_id: "
                      "256\n    priority: 0\n    version: 4\n    preempt_delay: 5\n")),
      ElementsAre("t.yaml:5:16: vrrp[0].interface: interface name 'averyveryverylongname0' is "
                  "longer than 15 characters",
                  "t.yaml:6:24: vrrp[0].virtual_router_id: 256 is out of range (expected 1..255)",
                  "t.yaml:7:15: vrrp[0].priority: 0 is out of range (expected 1..255)",
                  "t.yaml:8:14: vrrp[0].version: 4 is out of range (expected 2..3)",
                  StartsWith("t.yaml:9:20: vrrp[0].preempt_delay: bad duration '5'")));
}

TEST(VrrpTest, AdvertIntervalFollowsTheVersionsWireFormat) {
  LoadResult r = Load(
      WithVrrp("  - {name: V, interface: eth0, virtual_router_id: 1, version: 3, advert_interval: "
               "250ms}\n"));
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(r.config->vrrp[0].advert_interval, milliseconds(250));
  EXPECT_THAT(
      Errors(WithVrrp("  - {name: V, interface: eth0, virtual_router_id: 1, version: 2, "
                      "advert_interval: 1500ms}\n  - {name: W, interface: eth0, "
                      "virtual_router_id: 2, advert_interval: 41s}\n  - {name: X, interface: "
                      "eth0, virtual_router_id: 3, advert_interval: 0s}\n")),
      ElementsAre(StartsWith("t.yaml:4:83: vrrp[0].advert_interval: VRRP version 2 advertises "
                             "whole seconds"),
                  StartsWith("t.yaml:5:71: vrrp[1].advert_interval: VRRP version 3 advertises "
                             "centiseconds"),
                  "t.yaml:6:71: vrrp[2].advert_interval: must be greater than 0"));
}

TEST(VrrpTest, AuthPassIsVersion2OnlyAndShort) {
  EXPECT_THAT(
      Errors(WithVrrp("  - {name: V, interface: eth0, virtual_router_id: 1, auth_pass: x}\n  - "
                      "{name: W, interface: eth0, virtual_router_id: 2, version: 2, auth_pass: "
                      "toolongpass}\n")),
      ElementsAre("t.yaml:4:54: vrrp[0].auth_pass: only VRRP version 2 has authentication (RFC "
                  "5798 removed it)",
                  "t.yaml:5:77: vrrp[1].auth_pass: is longer than 8 characters"));
}

TEST(VrrpTest, AddressesAreValidatedAndNormalized) {
  LoadResult r = Load(WithVrrp(
      "  - {name: V, interface: eth0, virtual_router_id: 1, virtual_ips: [192.0.2.010/32], "
      "unicast_peers: [10.0.0.2]}\n"));
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_THAT(r.config->vrrp[0].virtual_ips, ElementsAre("192.0.2.10/32"));
  EXPECT_THAT(r.config->vrrp[0].unicast_peers, ElementsAre("10.0.0.2"));

  EXPECT_THAT(
      Errors(WithVrrp("  - name: V\n    interface: eth0\n    virtual_router_id: 1\n"
                      "    virtual_ips: [192.0.2.1, 192.0.2.2/33, 192.0.2.3/24, 192.0.2.3/32]\n"
                      "    unicast_peers: [10.0.0.1:80, 10.0.0.2, 10.0.0.2]\n")),
      ElementsAre(StartsWith("t.yaml:7:19: vrrp[0].virtual_ips[0]: expected an address with a "
                             "prefix length such as 192.0.2.100/24, got '192.0.2.1'"),
                  StartsWith("t.yaml:7:30: vrrp[0].virtual_ips[1]: expected an address"),
                  "t.yaml:7:58: vrrp[0].virtual_ips[3]: duplicate virtual IP '192.0.2.3' (first "
                  "at vrrp[0].virtual_ips[2], line 7:44)",
                  "t.yaml:8:21: vrrp[0].unicast_peers[0]: bad IPv4 address '10.0.0.1:80'",
                  "t.yaml:8:44: vrrp[0].unicast_peers[2]: duplicate unicast peer '10.0.0.2' "
                  "(first at vrrp[0].unicast_peers[1], line 8:34)"));
}

TEST(VrrpTest, TwoInstancesCannotOwnOneAddress) {
  EXPECT_THAT(
      Errors(WithVrrp("  - {name: V, interface: eth0, virtual_router_id: 1, virtual_ips: "
                      "[10.0.0.1/24]}\n  - {name: W, interface: eth1, virtual_router_id: 2, "
                      "virtual_ips: [10.0.0.1/32]}\n")),
      ElementsAre("t.yaml:5:68: vrrp[1].virtual_ips[0]: duplicate virtual IP '10.0.0.1' (first "
                  "at vrrp[0].virtual_ips[0], line 4:68)"));
}

TEST(VrrpTest, TrackServicesMustExist) {
  EXPECT_THAT(Errors(WithVrrp("  - name: V\n    interface: eth0\n    virtual_router_id: 1\n"
                              "    track_services:\n      - {service: web, weight: -300}\n"
                              "      - {service: shop}\n      - {weight: 2}\n      - web\n")),
              ElementsAre("t.yaml:8:32: vrrp[0].track_services[0].weight: -300 is out of range "
                          "(expected -254..254)",
                          "t.yaml:9:19: vrrp[0].track_services[1].service: unknown service 'shop' "
                          "(virtual services: web)",
                          "t.yaml:10:9: vrrp[0].track_services[2]: missing required key 'service'",
                          "t.yaml:11:9: vrrp[0].track_services[3]: expected a mapping, got 'web'"));
}

TEST(VrrpTest, NamesAndRoutersAreUnique) {
  EXPECT_THAT(
      Errors(WithVrrp("  - {name: V, interface: eth0, virtual_router_id: 1}\n"
                      "  - {name: V, interface: eth1, virtual_router_id: 1}\n"
                      "  - {name: W, interface: eth0, virtual_router_id: 1}\n")),
      ElementsAre("t.yaml:5:12: vrrp[1].name: duplicate VRRP instance name 'V' (first at "
                  "vrrp[0].name, line 4:12)",
                  "t.yaml:6:51: vrrp[2].virtual_router_id: duplicate virtual_router_id '1 on "
                  "eth0' (first at vrrp[0].virtual_router_id, line 4:51)"));
}

}  // namespace
}  // namespace lbd
