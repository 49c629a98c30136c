// Internal header of lbd_vrrp.
//
// The system calls behind an instance: the raw VRRP socket and gratuitous
// ARP. rtnetlink (virtual IPs, link events) is lbd_sys's (lbd/sys/netlink.h).
// Addresses are host order.
//
// Thread-safety: plain functions on file descriptors owned by the caller.
#ifndef LBD_VRRP_VRRP_SOCKET_H_
#define LBD_VRRP_VRRP_SOCKET_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lbd/sys/fd.h"
#include "lbsched/endpoint.h"
#include "lbsched/status.h"

namespace lbd::vrrp::internal {

using Mac = std::array<uint8_t, 6>;

struct InterfaceInfo {
  int index = 0;
  Mac mac{};
  bool up = false;  // IFF_UP and IFF_RUNNING (keepalived's view of "up")
};
Result<InterfaceInfo> LookupInterface(const std::string& name);
// The interface's first IPv4 address that is not in `exclude` (the VIPs).
Result<uint32_t> PrimaryAddress(const std::string& name, const std::vector<uint32_t>& exclude);

// Raw IPPROTO_VRRP socket, non-blocking, SO_BINDTODEVICE, TTL and multicast TTL 255, TOS 0xc0 (CS6,
// as keepalived), multicast loop off, and (unless unicast) member of 224.0.0.18 on the interface.
Result<Fd> OpenVrrpSocket(const std::string& ifname, int ifindex, uint32_t primary, bool unicast);
// Sends from `source` (IP_PKTINFO).
Status SendTo(int fd, std::span<const uint8_t> message, uint32_t source, uint32_t destination);

// AF_PACKET socket for ARP frames on `ifindex`.
Result<Fd> OpenArpSocket(int ifindex);
// ARP request, sender = target = ip, from `mac` to ff:ff:ff:ff:ff:ff, target
// MAC ff:ff:ff:ff:ff:ff (as keepalived sends them).
Status SendGratuitousArp(int fd, int ifindex, const Mac& mac, uint32_t ip);

}  // namespace lbd::vrrp::internal

#endif  // LBD_VRRP_VRRP_SOCKET_H_
