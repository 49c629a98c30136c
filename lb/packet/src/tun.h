// Internal header of lbd_packet.
//
// Tun devices (Documentation/networking/tuntap.rst): multi-queue IFF_TUN |
// IFF_NO_PI queues, link up, and the per-device sysctls the forwarder needs.
//
// Thread-safety: reentrant functions.
#ifndef LBD_PACKET_SRC_TUN_H_
#define LBD_PACKET_SRC_TUN_H_

#include <string>
#include <vector>

#include "lbsched/status.h"

namespace lbd {

struct TunDevice {
  std::string name;
  int ifindex = 0;
  std::vector<int> fds;  // one non-blocking fd per queue; the caller closes them
};

// Creates (or attaches to) tun `name` with `queues` queues (IFF_MULTI_QUEUE
// when queues > 1 is not required: always set, so that one queue works too).
// The device disappears when the last fd is closed (not persistent).
// `offload`: IFF_VNET_HDR and TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4): every
// read and write starts with a struct virtio_net_hdr, and the kernel hands
// over (and takes) TCP segments of up to 64 KiB with their checksum left
// partial, instead of segmenting them first.
Result<TunDevice> OpenTun(const std::string& name, int queues, bool offload = false);
Status SetLinkUp(const std::string& name);
// Writes `value` to /proc/sys/net/ipv4/conf/<dev>/<key>.
Status SetDeviceSysctl(const std::string& dev, const std::string& key, const std::string& value);
// net.ipv6.conf.<dev>.disable_ipv6 = 1: no link-local address, no router
// solicitations read back as packets to drop.
Status DisableIpv6(const std::string& dev);

}  // namespace lbd

#endif  // LBD_PACKET_SRC_TUN_H_
