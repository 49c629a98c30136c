// Public header of lbd_packet.
//
// PacketService: the data plane of one virtual service with forwarding nat,
// dr or tun (DESIGN.md "Packet modes"). It owns a multi-queue tun device with
// one queue per forwarding thread (an epoll loop), routes VIP/32 into it
// (rtnetlink), keeps a FlowTable per thread with IPVS's TCP states and
// timeouts, schedules new flows with lbd::Service::Pick() on a SYN (or any
// UDP datagram) and forwards:
//   nat  destination rewritten to the real server and written back into the
//        tun (the kernel routes it); replies come back through a policy rule
//        `from RS lookup TABLE` + `default dev TUN` in TABLE, get the VIP:port
//        as source and go back into the tun.
//   dr   the unchanged packet to the real server's MAC through an AF_PACKET
//        socket on the interface the route to the real server uses (GSO
//        packets whole, with their virtio_net_hdr).
//   tun  the packet (a GSO packet: each of its segments) inside an outer
//        IPv4 header (protocol 4) to the real server through a raw socket; an
//        encapsulated packet above the path MTU with DF set gets an ICMP
//        fragmentation-needed back to the client.
// Both TCP and UDP to VIP:port are served (the config has no protocol key).
// With `persistence` set, a client's new flows go to the server of its
// template while the template lives (ipvsadm -p).
// The routes and rules it installs are removed by the destructor.
//
// Real-server accounting: a flow is counted on its RealServer as active while
// ESTABLISHED and inactive otherwise (ip_vs_proto_tcp.c set_tcp_state()); UDP
// flows count as inactive (ipvsadm shows them under InActConn).
//
// The library knows nothing of lbd's config or YAML: a caller fills
// PacketServiceOptions (lbd's packet_runner.cc, lbd-packet's main).
//
// Thread-safety: Create() and the destructor on one thread; Snapshot() from
// any thread (it takes each forwarding thread's lock briefly). The forwarding
// threads share nothing but the Service, the per-server atomics and, for nat
// replies that the tun steers to another queue, a look into the other
// threads' flow tables.
#ifndef LBD_PACKET_FORWARDER_H_
#define LBD_PACKET_FORWARDER_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lbd/packet/packet.h"
#include "lbd/packet/tcp_state.h"
#include "lbsched/endpoint.h"
#include "lbsched/scheduler.h"
#include "lbsched/service.h"
#include "lbsched/status.h"

namespace lbd {

// The IPVS forwarding methods this library implements (ipvsadm -m, -g, -i).
enum class PacketMode { kNat, kDr, kTun };
const char* ToString(PacketMode mode);  // "nat", "dr", "tun"

struct PacketServiceOptions {
  // The service's name, for messages and snapshots. Default: "".
  std::string name;
  // VIP:port; TCP and UDP to it are served. Default: 0.0.0.0:0 (set it).
  Endpoint virtual_address;
  PacketMode mode = PacketMode::kNat;  // Default: nat.
  // ipvsadm -p: a client's new flows stay on its server while its template
  // lives; 0 = off. Default: 0.
  std::chrono::milliseconds persistence{0};
  int threads = 1;                // forwarding threads, one tun queue each (>= 1). Default: 1.
  size_t max_flows = 65536;       // flows per forwarding thread. Default: 65536.
  FlowTimeouts timeouts;          // Default: ipvsadm's 900 s / 120 s / 300 s.
  std::string tun_name = "lbd0";  // the device to create. Default: "lbd0".
  // nat: the routing table for replies and the priority of its rules.
  uint32_t nat_table = 19522;         // Default: 19522.
  uint32_t nat_rule_priority = 1000;  // Default: 1000.
  const Clock* clock = nullptr;       // Default: SteadyClock().
  // Take TCP segments of up to 64 KiB from the tun with their checksum
  // partial (IFF_VNET_HDR, TUNSETOFFLOAD), as the kernel forwards them,
  // instead of 1500-byte packets: nat writes them back, dr sends them whole
  // (PACKET_VNET_HDR), tun cuts them into segments. Default: true.
  bool offload = true;
};

struct RealServerStats {
  Endpoint address;
  int weight = 0;
  bool up = true;
  int active = 0;
  int inactive = 0;
  uint64_t flows = 0;       // flows ever scheduled to it
  uint64_t packets_in = 0;  // client -> server, forwarded
  uint64_t bytes_in = 0;
  uint64_t packets_out = 0;  // server -> client through the director (nat only)
  uint64_t bytes_out = 0;
};

// One line of `ipvsadm -Lnc`.
struct FlowInfo {
  uint8_t protocol = 0;
  Endpoint client;
  Endpoint virtual_address;
  Endpoint server;
  TcpState state = TcpState::kNone;  // UDP: kNone
  std::chrono::seconds expires_in{0};
};

struct PacketServiceSnapshot {
  std::string name;
  Endpoint virtual_address;
  PacketMode mode = PacketMode::kNat;
  std::string tun_name;
  uint64_t packets_read = 0;       // from the tun
  uint64_t packets_forwarded = 0;  // sent on (any direction)
  std::array<uint64_t, kDropReasonCount> drops{};
  size_t flows = 0;  // current
  std::vector<RealServerStats> servers;
  std::vector<FlowInfo> flow_list;  // at most the number asked for
};

// Text for humans and tests: one `key value` line per counter, then one line
// per server and per listed flow (see the implementation for the format).
std::string FormatSnapshot(const PacketServiceSnapshot& snapshot);

class PacketService {
 public:
  // REQUIRES: `service` holds the real servers (weights and health may
  // change through `service` at any time; its set of servers changes only
  // together with SyncServers()). Needs CAP_NET_ADMIN (and CAP_NET_RAW for
  // dr/tun). The forwarding threads start at once. Errors start with
  // `options.name`.
  static Result<std::unique_ptr<PacketService>> Create(std::shared_ptr<Service> service,
                                                       const PacketServiceOptions& options);
  virtual ~PacketService() = default;
  PacketService(const PacketService&) = delete;
  PacketService& operator=(const PacketService&) = delete;

  // Servers of removed slots are left out of `servers`.
  virtual PacketServiceSnapshot Snapshot(size_t max_flows_listed) const = 0;

  // After the Service's set of real servers changed (a reload): a new server
  // gets what its mode needs (nat: its reply rules; dr: its route and MAC,
  // resolved before this returns or within 1 s; tun: its route and MTU) and
  // then takes new flows; a removed one takes no new flows, its flows go on,
  // and (nat) its reply rules go at the first call after they ended, or at
  // destruction. Error: some new servers could not be set up (named; the
  // others are): they get no flows (picked, they drop as no_server).
  // REQUIRES: the thread that called Create().
  virtual Status SyncServers() = 0;

 protected:
  PacketService() = default;
};

}  // namespace lbd

#endif  // LBD_PACKET_FORWARDER_H_
