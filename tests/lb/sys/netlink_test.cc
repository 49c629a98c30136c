#include "lbd/sys/netlink.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "lbd/sys/netlink_message.h"

namespace lbd::netlink {
namespace {

// The attributes of a request after its family struct, by type.
std::map<uint16_t, std::vector<uint8_t>> Attrs(const Request& r, size_t family_size) {
  std::map<uint16_t, std::vector<uint8_t>> out;
  const nlmsghdr* h = r.header();
  int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(family_size));
  const auto* base = static_cast<const uint8_t*>(NLMSG_DATA(h)) + NLMSG_ALIGN(family_size);
  for (auto* a = reinterpret_cast<const rtattr*>(base); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    const auto* d = static_cast<const uint8_t*>(RTA_DATA(a));
    out[a->rta_type].assign(d, d + RTA_PAYLOAD(a));
  }
  EXPECT_EQ(len, 0) << "trailing bytes after the attributes";
  return out;
}

uint32_t U32(const std::vector<uint8_t>& v) {
  uint32_t x = 0;
  EXPECT_EQ(v.size(), 4u);
  if (v.size() == 4) std::memcpy(&x, v.data(), 4);
  return x;
}

constexpr uint32_t kIp = 0x0ac80164;  // 10.200.1.100

TEST(NetlinkMessage, RouteRequestAddAndDelete) {
  Request add = RouteRequest(true, kIp, 32, 7, 254);
  EXPECT_EQ(add.header()->nlmsg_type, RTM_NEWROUTE);
  EXPECT_EQ(add.header()->nlmsg_flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL);
  const auto* rt = static_cast<const rtmsg*>(NLMSG_DATA(add.header()));
  EXPECT_EQ(rt->rtm_family, AF_INET);
  EXPECT_EQ(rt->rtm_dst_len, 32);
  EXPECT_EQ(rt->rtm_table, 254);
  EXPECT_EQ(rt->rtm_scope, RT_SCOPE_LINK);
  EXPECT_EQ(rt->rtm_protocol, RTPROT_STATIC);
  auto attrs = Attrs(add, sizeof(rtmsg));
  EXPECT_EQ(U32(attrs[RTA_DST]), htonl(kIp));
  EXPECT_EQ(U32(attrs[RTA_OIF]), 7u);
  EXPECT_EQ(U32(attrs[RTA_TABLE]), 254u);

  // A default route has no RTA_DST; a table >= 256 only in the attribute.
  Request del = RouteRequest(false, 0, 0, 7, 1000);
  EXPECT_EQ(del.header()->nlmsg_type, RTM_DELROUTE);
  EXPECT_EQ(del.header()->nlmsg_flags, NLM_F_REQUEST);
  EXPECT_EQ(static_cast<const rtmsg*>(NLMSG_DATA(del.header()))->rtm_table, RT_TABLE_UNSPEC);
  attrs = Attrs(del, sizeof(rtmsg));
  EXPECT_EQ(attrs.count(RTA_DST), 0u);
  EXPECT_EQ(U32(attrs[RTA_TABLE]), 1000u);
}

TEST(NetlinkMessage, RuleRequestWithAndWithoutPort) {
  Request any = RuleRequest(true, kIp, 32, 0, 0, 100, 1000);
  EXPECT_EQ(any.header()->nlmsg_type, RTM_NEWRULE);
  const auto* fr = static_cast<const fib_rule_hdr*>(NLMSG_DATA(any.header()));
  EXPECT_EQ(fr->src_len, 32);
  EXPECT_EQ(fr->table, 100);
  EXPECT_EQ(fr->action, FR_ACT_TO_TBL);
  auto attrs = Attrs(any, sizeof(fib_rule_hdr));
  EXPECT_EQ(U32(attrs[FRA_SRC]), htonl(kIp));
  EXPECT_EQ(U32(attrs[FRA_TABLE]), 100u);
  EXPECT_EQ(U32(attrs[FRA_PRIORITY]), 1000u);
  EXPECT_EQ(attrs.count(FRA_IP_PROTO), 0u);
  EXPECT_EQ(attrs.count(FRA_SPORT_RANGE), 0u);

  Request tcp = RuleRequest(false, kIp, 32, IPPROTO_TCP, 8080, 100, 1000);
  EXPECT_EQ(tcp.header()->nlmsg_type, RTM_DELRULE);
  attrs = Attrs(tcp, sizeof(fib_rule_hdr));
  ASSERT_EQ(attrs[FRA_IP_PROTO].size(), 1u);
  EXPECT_EQ(attrs[FRA_IP_PROTO][0], IPPROTO_TCP);
  ASSERT_EQ(attrs[FRA_SPORT_RANGE].size(), sizeof(fib_rule_port_range));
  fib_rule_port_range range{};
  std::memcpy(&range, attrs[FRA_SPORT_RANGE].data(), sizeof(range));
  EXPECT_EQ(range.start, 8080);
  EXPECT_EQ(range.end, 8080);
}

TEST(NetlinkMessage, AddressRequestBroadcastOnlyForVirtualAdds) {
  Request vip = AddressRequest(true, 3, kIp, 24, /*broadcast=*/true);
  EXPECT_EQ(vip.header()->nlmsg_type, RTM_NEWADDR);
  const auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(vip.header()));
  EXPECT_EQ(ifa->ifa_index, 3u);
  EXPECT_EQ(ifa->ifa_prefixlen, 24);
  auto attrs = Attrs(vip, sizeof(ifaddrmsg));
  EXPECT_EQ(U32(attrs[IFA_LOCAL]), htonl(kIp));
  EXPECT_EQ(U32(attrs[IFA_ADDRESS]), htonl(kIp));
  EXPECT_EQ(U32(attrs[IFA_BROADCAST]), htonl(0x0ac801ff));  // 10.200.1.255

  // No broadcast for /31, /32, a delete, or a plain (lbd-tunnel) address.
  EXPECT_EQ(Attrs(AddressRequest(true, 3, kIp, 32, true), sizeof(ifaddrmsg)).count(IFA_BROADCAST),
            0u);
  EXPECT_EQ(Attrs(AddressRequest(true, 3, kIp, 31, true), sizeof(ifaddrmsg)).count(IFA_BROADCAST),
            0u);
  EXPECT_EQ(Attrs(AddressRequest(false, 3, kIp, 24, true), sizeof(ifaddrmsg)).count(IFA_BROADCAST),
            0u);
  EXPECT_EQ(Attrs(AddressRequest(true, 3, kIp, 24, false), sizeof(ifaddrmsg)).count(IFA_BROADCAST),
            0u);
  Request del = AddressRequest(false, 3, kIp, 24, false);
  EXPECT_EQ(del.header()->nlmsg_type, RTM_DELADDR);
  EXPECT_EQ(del.header()->nlmsg_flags, NLM_F_REQUEST);
}

TEST(NetlinkMessage, AttrRefusesWhatDoesNotFit) {
  Request r = GetNeighbourRequest(1);
  EXPECT_EQ(r.header()->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  const uint32_t before = r.size();
  std::vector<uint8_t> big(Request::kCapacity, 0xab);
  EXPECT_FALSE(r.Attr(1, big.data(), big.size()));
  EXPECT_EQ(r.size(), before);
  int added = 0;
  while (r.Attr32(1, 42) && added < 1000) ++added;
  EXPECT_GT(added, 0);
  EXPECT_LE(r.size(), Request::kCapacity);
}

TEST(NetlinkMessage, AckError) {
  Request ack(NLMSG_ERROR, 0, nullptr, 0);
  nlmsgerr e{};
  e.error = -EEXIST;
  Request nack(NLMSG_ERROR, 0, &e, sizeof(e));
  EXPECT_EQ(AckError(nack.header()), EEXIST);
  e.error = 0;
  Request ok(NLMSG_ERROR, 0, &e, sizeof(e));
  EXPECT_EQ(AckError(ok.header()), 0);
  EXPECT_FALSE(AckError(ack.header()).has_value()) << "too short for nlmsgerr";
  EXPECT_FALSE(AckError(GetRouteRequest(kIp).header()).has_value()) << "not NLMSG_ERROR";
}

TEST(NetlinkMessage, ParseRoute) {
  rtmsg rt{};
  rt.rtm_family = AF_INET;
  Request reply(RTM_NEWROUTE, 0, &rt, sizeof(rt));
  reply.Attr32(RTA_OIF, 4);
  reply.Attr32(RTA_GATEWAY, htonl(0x0a000001));
  reply.Attr32(RTA_PREFSRC, htonl(0x0a000002));
  reply.Attr32(RTA_TABLE, 254);
  auto info = ParseRoute(reply.header());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->oif, 4);
  EXPECT_EQ(info->gateway, 0x0a000001u);
  EXPECT_EQ(info->prefsrc, 0x0a000002u);

  Request onlink(RTM_NEWROUTE, 0, &rt, sizeof(rt));
  onlink.Attr32(RTA_OIF, 2);
  info = ParseRoute(onlink.header());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->gateway, 0u);
  EXPECT_FALSE(ParseRoute(GetNeighbourRequest(0).header()).has_value());
}

Request Neigh(int ifindex, uint16_t state, uint32_t ip, const MacAddress* mac) {
  ndmsg nd{};
  nd.ndm_family = AF_INET;
  nd.ndm_ifindex = ifindex;
  nd.ndm_state = state;
  Request r(RTM_NEWNEIGH, 0, &nd, sizeof(nd));
  r.Attr32(NDA_DST, htonl(ip));
  if (mac != nullptr) r.Attr(NDA_LLADDR, mac->data(), mac->size());
  return r;
}

TEST(NetlinkMessage, ParseNeighbourSkipsUnusableEntries) {
  const MacAddress mac{0x02, 0, 0, 0, 0, 0x11};
  auto n = ParseNeighbour(Neigh(5, NUD_REACHABLE, kIp, &mac).header());
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->ifindex, 5);
  EXPECT_EQ(n->ip, kIp);
  EXPECT_EQ(n->mac, mac);
  EXPECT_TRUE(ParseNeighbour(Neigh(5, NUD_STALE, kIp, &mac).header()).has_value());
  EXPECT_FALSE(ParseNeighbour(Neigh(5, NUD_INCOMPLETE, kIp, &mac).header()).has_value());
  EXPECT_FALSE(ParseNeighbour(Neigh(5, NUD_FAILED, kIp, &mac).header()).has_value());
  EXPECT_FALSE(ParseNeighbour(Neigh(5, NUD_REACHABLE, kIp, nullptr).header()).has_value());
}

TEST(NetlinkMessage, ParseLink) {
  ifinfomsg info{};
  info.ifi_index = 9;
  info.ifi_flags = IFF_UP | IFF_RUNNING;
  Request up(RTM_NEWLINK, 0, &info, sizeof(info));
  auto link = ParseLink(up.header());
  ASSERT_TRUE(link.has_value());
  EXPECT_EQ(link->ifindex, 9);
  EXPECT_TRUE(link->up);
  info.ifi_flags = IFF_UP;  // no carrier
  EXPECT_FALSE(ParseLink(Request(RTM_NEWLINK, 0, &info, sizeof(info)).header())->up);
  info.ifi_flags = IFF_UP | IFF_RUNNING;
  EXPECT_FALSE(ParseLink(Request(RTM_DELLINK, 0, &info, sizeof(info)).header())->up);
  EXPECT_FALSE(ParseLink(GetRouteRequest(kIp).header()).has_value());
}

// A real request on the caller's namespace that needs no privileges.
TEST(Netlink, GetRouteOfLoopback) {
  auto nl = Netlink::Open();
  ASSERT_TRUE(nl.ok()) << nl.status().message();
  auto route = nl->GetRoute(0x7f000001);
  ASSERT_TRUE(route.ok()) << route.status().message();
  EXPECT_EQ(route->oif, static_cast<int>(if_nametoindex("lo")));
  EXPECT_EQ(route->gateway, 0u);
  EXPECT_GT(InterfaceMtu(route->oif), 0);
}

// Without CAP_NET_ADMIN the kernel's nack comes back as the error; as root
// the route is refused for a device that does not exist. Either way the
// message names netlink and the kernel's reason.
TEST(Netlink, NackBecomesError) {
  auto nl = Netlink::Open();
  ASSERT_TRUE(nl.ok()) << nl.status().message();
  Status st = nl->Route(false, 0x7ffffffe, 32, 0x7ffffff0, 254);  // 127.255.255.254
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("netlink: ", 0), 0u) << st.message();
}

}  // namespace
}  // namespace lbd::netlink
