#include "lbd/sys/netlink_message.h"

#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cstring>

namespace lbd::netlink {
namespace {

uint16_t CreateFlags(bool add) {
  return static_cast<uint16_t>(NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0));
}

// Tables >= 256 go in the attribute only (RT_TABLE_UNSPEC in the header).
uint8_t HeaderTable(uint32_t table) {
  return static_cast<uint8_t>(table < 256 ? table : uint32_t{RT_TABLE_UNSPEC});
}

// The attributes after a family struct of `family_size` bytes.
template <typename Visit>
void ForEachAttr(const nlmsghdr* h, size_t family_size, Visit visit) {
  if (h->nlmsg_len < NLMSG_LENGTH(family_size)) return;
  int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(family_size));
  const auto* base = static_cast<const uint8_t*>(NLMSG_DATA(h)) + NLMSG_ALIGN(family_size);
  for (auto* a = reinterpret_cast<const rtattr*>(base); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    visit(a);
  }
}

uint32_t Attr32(const rtattr* a) {
  uint32_t v = 0;
  if (RTA_PAYLOAD(a) >= sizeof(v)) std::memcpy(&v, RTA_DATA(a), sizeof(v));
  return v;
}

}  // namespace

Request::Request(uint16_t type, uint16_t flags, const void* body, size_t body_len) {
  header()->nlmsg_type = type;
  header()->nlmsg_flags = flags;
  header()->nlmsg_len = NLMSG_LENGTH(body_len);
  if (body_len > 0) std::memcpy(NLMSG_DATA(header()), body, body_len);
}

bool Request::Attr(uint16_t type, const void* data, size_t len) {
  const size_t offset = NLMSG_ALIGN(header()->nlmsg_len);
  if (offset + RTA_SPACE(len) > kCapacity) return false;
  auto* rta = reinterpret_cast<rtattr*>(buf_ + offset);
  rta->rta_type = type;
  rta->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(rta), data, len);
  header()->nlmsg_len = static_cast<uint32_t>(offset + RTA_ALIGN(rta->rta_len));
  return true;
}

Request RouteRequest(bool add, uint32_t dst, int prefix, int oif, uint32_t table) {
  rtmsg rt{};
  rt.rtm_family = AF_INET;
  rt.rtm_dst_len = static_cast<uint8_t>(prefix);
  rt.rtm_table = HeaderTable(table);
  rt.rtm_protocol = RTPROT_STATIC;
  rt.rtm_scope = RT_SCOPE_LINK;
  rt.rtm_type = RTN_UNICAST;
  Request r(add ? RTM_NEWROUTE : RTM_DELROUTE, CreateFlags(add), &rt, sizeof(rt));
  if (prefix > 0) r.Attr32(RTA_DST, htonl(dst));
  r.Attr32(RTA_OIF, static_cast<uint32_t>(oif));
  r.Attr32(RTA_TABLE, table);
  return r;
}

Request RuleRequest(bool add, uint32_t src, int prefix, uint8_t protocol, uint16_t sport,
                    uint32_t table, uint32_t priority) {
  fib_rule_hdr fr{};
  fr.family = AF_INET;
  fr.src_len = static_cast<uint8_t>(prefix);
  fr.table = HeaderTable(table);
  fr.action = FR_ACT_TO_TBL;
  Request r(add ? RTM_NEWRULE : RTM_DELRULE, CreateFlags(add), &fr, sizeof(fr));
  r.Attr32(FRA_SRC, htonl(src));
  r.Attr32(FRA_TABLE, table);
  r.Attr32(FRA_PRIORITY, priority);
  if (protocol != 0) {
    // Linux >= 4.17 (FRA_IP_PROTO, FRA_SPORT_RANGE).
    r.Attr(FRA_IP_PROTO, &protocol, 1);
    const fib_rule_port_range range{sport, sport};
    r.Attr(FRA_SPORT_RANGE, &range, sizeof(range));
  }
  return r;
}

Request AddressRequest(bool add, int ifindex, uint32_t ip, int prefix, bool broadcast) {
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = static_cast<uint8_t>(prefix);
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = static_cast<uint32_t>(ifindex);
  Request r(add ? RTM_NEWADDR : RTM_DELADDR, CreateFlags(add), &ifa, sizeof(ifa));
  r.Attr32(IFA_LOCAL, htonl(ip));
  r.Attr32(IFA_ADDRESS, htonl(ip));
  if (add && broadcast && prefix < 31) {
    const uint32_t host_mask = prefix <= 0 ? ~0u : (~0u >> prefix);
    r.Attr32(IFA_BROADCAST, htonl(ip | host_mask));
  }
  return r;
}

Request GetRouteRequest(uint32_t dst) {
  rtmsg rt{};
  rt.rtm_family = AF_INET;
  rt.rtm_dst_len = 32;
  Request r(RTM_GETROUTE, NLM_F_REQUEST, &rt, sizeof(rt));
  r.Attr32(RTA_DST, htonl(dst));
  return r;
}

Request GetNeighbourRequest(int ifindex) {
  ndmsg nd{};
  nd.ndm_family = AF_INET;
  nd.ndm_ifindex = ifindex;
  return Request(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, &nd, sizeof(nd));
}

std::optional<int> AckError(const nlmsghdr* h) {
  if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
    return std::nullopt;
  }
  return -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
}

std::optional<RouteInfo> ParseRoute(const nlmsghdr* h) {
  if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) {
    return std::nullopt;
  }
  RouteInfo info;
  ForEachAttr(h, sizeof(rtmsg), [&](const rtattr* a) {
    if (a->rta_type == RTA_OIF) info.oif = static_cast<int>(Attr32(a));
    if (a->rta_type == RTA_GATEWAY) info.gateway = ntohl(Attr32(a));
    if (a->rta_type == RTA_PREFSRC) info.prefsrc = ntohl(Attr32(a));
  });
  return info;
}

std::optional<Neighbour> ParseNeighbour(const nlmsghdr* h) {
  if (h->nlmsg_type != RTM_NEWNEIGH || h->nlmsg_len < NLMSG_LENGTH(sizeof(ndmsg))) {
    return std::nullopt;
  }
  const auto* m = static_cast<const ndmsg*>(NLMSG_DATA(h));
  if (m->ndm_state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NONE)) return std::nullopt;
  Neighbour n;
  n.ifindex = m->ndm_ifindex;
  bool has_ip = false;
  bool has_mac = false;
  ForEachAttr(h, sizeof(ndmsg), [&](const rtattr* a) {
    if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == 4) {
      n.ip = ntohl(Attr32(a));
      has_ip = true;
    }
    if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
      std::memcpy(n.mac.data(), RTA_DATA(a), 6);
      has_mac = true;
    }
  });
  if (!has_ip || !has_mac) return std::nullopt;
  return n;
}

std::optional<LinkState> ParseLink(const nlmsghdr* h) {
  if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) return std::nullopt;
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return std::nullopt;
  const auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
  LinkState state;
  state.ifindex = info->ifi_index;
  state.up =
      h->nlmsg_type == RTM_NEWLINK && (info->ifi_flags & IFF_UP) && (info->ifi_flags & IFF_RUNNING);
  return state;
}

}  // namespace lbd::netlink
