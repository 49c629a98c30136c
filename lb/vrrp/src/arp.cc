// Gratuitous ARP (RFC 5798 §6.4.1 / RFC 826 request form, as keepalived).
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "vrrp_socket.h"

namespace lbd::vrrp::internal {

Result<Fd> OpenArpSocket(int ifindex) {
  // Protocol 0: send only, nothing is queued for reading.
  Fd fd(socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::Error(std::string("packet socket: ") + std::strerror(errno));
  sockaddr_ll local{};
  local.sll_family = AF_PACKET;
  local.sll_protocol = 0;
  local.sll_ifindex = ifindex;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    return Status::Error(std::string("packet bind: ") + std::strerror(errno));
  }
  return fd;
}

Status SendGratuitousArp(int fd, int ifindex, const Mac& mac, uint32_t ip) {
  uint8_t frame[42] = {};
  const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  const uint32_t net_ip = htonl(ip);
  std::memcpy(frame, broadcast, 6);       // Ethernet destination
  std::memcpy(frame + 6, mac.data(), 6);  // source: the NIC's MAC (no use_vmac)
  frame[12] = 0x08;                       // EtherType ARP
  frame[13] = 0x06;
  const uint8_t arp_head[8] = {0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01};  // Ethernet/IPv4 request
  std::memcpy(frame + 14, arp_head, 8);
  std::memcpy(frame + 22, mac.data(), 6);  // sender MAC
  std::memcpy(frame + 28, &net_ip, 4);     // sender IP = VIP
  std::memcpy(frame + 32, broadcast, 6);   // target MAC (keepalived: broadcast)
  std::memcpy(frame + 38, &net_ip, 4);     // target IP = VIP
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = ifindex;
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, broadcast, 6);
  if (sendto(fd, frame, sizeof(frame), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) < 0) {
    return Status::Error(std::string("gratuitous ARP: ") + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace lbd::vrrp::internal
