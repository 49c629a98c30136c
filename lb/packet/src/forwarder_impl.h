// Internal header of lbd_packet.
//
// PacketServiceImpl, the PacketService of forwarder.h, and what its files
// share: the server slots, the per-thread state (ForwardingThread) and the
// sizes of a batch. Its members are defined by concern:
//   forwarder_setup.cc     tun device, routes, policy rules, nat reply table,
//                          server slots, dr neighbours, Create and shutdown
//   forwarder_flows.cc     flow lookup, scheduling, persistence, TCP states
//   forwarder_threads.cc   the forwarding threads' loop and the nat, dr and
//                          tun forwarding of a batch
//   forwarder_snapshot.cc  counters, Snapshot() and FormatSnapshot()
//
// Thread-safety: as PacketService (forwarder.h). A ForwardingThread's batch
// state belongs to its thread; its flow table is guarded by its `mu`.
#ifndef LBD_PACKET_SRC_FORWARDER_IMPL_H_
#define LBD_PACKET_SRC_FORWARDER_IMPL_H_

#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lbd/packet/flow_table.h"
#include "lbd/packet/forwarder.h"
#include "lbd/packet/packet.h"
#include "lbd/sys/netlink.h"
#include "tun.h"

namespace lbd::packet_internal {

inline constexpr size_t kBatch = 32;            // packets read from the tun per wake-up
inline constexpr size_t kBufSize = 65536 + 64;  // a packet of up to 64 KiB and its virtio_net_hdr
inline constexpr int kPollMs = 100;             // also the expiry period
inline constexpr uint32_t kMainTable = 254;     // RT_TABLE_MAIN
inline constexpr uint64_t kMacKnown = 1ULL << 48;
// struct virtio_net_hdr (linux/virtio_net.h, which C++ cannot include: a
// member is named `class`): flags, gso_type, hdr_len, gso_size, csum_start,
// csum_offset; 10 bytes.
inline constexpr size_t kVnetHdrLen = 10;
inline constexpr uint8_t kVnetNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
inline constexpr size_t kEthHdrLen = 14;      // ETH_HLEN
inline constexpr uint8_t kVnetGsoTcpV4 = 1;   // VIRTIO_NET_HDR_GSO_TCPV4
// Messages per sendmmsg: a batch, or the segments of GSO packets (tun).
inline constexpr size_t kMaxMsgs = 64;
static_assert(kMaxMsgs >= kBatch);
// Server slots a service can have over its life (servers added by reloads
// take new slots; a removed server's slot stays for its flows).
inline constexpr size_t kMaxServerSlots = 4096;

struct ServerSlot {
  std::shared_ptr<RealServer> rs;
  Endpoint endpoint;
  std::atomic<bool> removed{false};  // no longer in the Service: no new flows
  bool nat_rules = false;            // nat: owns the reply rules of `endpoint` (control thread)
  int oif = 0;                       // dr/tun: egress interface toward the server
  int mtu = 1500;                    // tun: its MTU
  uint32_t src_ip = 0;               // tun: outer source address
  std::atomic<uint64_t> mac{0};      // dr: 6 bytes | kMacKnown
  std::array<uint8_t, 6> src_mac{};  // dr with offload: the egress interface's address
  std::atomic<uint64_t> flows{0};
  std::atomic<uint64_t> packets_in{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> packets_out{0};
  std::atomic<uint64_t> bytes_out{0};
};

// Append-only slots, read by the forwarding threads without a lock: a slot is complete
// before size() covers it (release/acquire). Appended by one thread at a time
// (Init, then SyncServers on the control thread).
class ServerSlots {
 public:
  ServerSlots() : slots_(new std::unique_ptr<ServerSlot>[kMaxServerSlots]) {}
  size_t size() const { return size_.load(std::memory_order_acquire); }
  const std::unique_ptr<ServerSlot>& operator[](size_t i) const { return slots_[i]; }
  const std::unique_ptr<ServerSlot>* begin() const { return slots_.get(); }
  const std::unique_ptr<ServerSlot>* end() const { return slots_.get() + size(); }
  bool Append(std::unique_ptr<ServerSlot> slot) {
    const size_t n = size_.load(std::memory_order_relaxed);
    if (n == kMaxServerSlots) return false;
    slots_[n] = std::move(slot);
    size_.store(n + 1, std::memory_order_release);
    return true;
  }

 private:
  std::unique_ptr<std::unique_ptr<ServerSlot>[]> slots_;
  std::atomic<size_t> size_{0};
};

// One forwarding thread: its tun queue, its flow table and the buffers of
// its batches. (Not the daemon's Worker, which relays proxied connections on
// a libev loop.) The thread runs PacketServiceImpl::Run() on it; the control
// thread and Snapshot() touch only `mu`-guarded `table` and the atomics.
struct ForwardingThread {
  explicit ForwardingThread(size_t max_flows) : table(max_flows), bufs(kBatch * kBufSize) {}

  int tun_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  int send_fd = -1;  // dr: AF_PACKET; tun: raw IPPROTO_RAW
  std::thread runner;
  mutable std::mutex mu;
  FlowTable table;  // guarded by mu
  std::atomic<uint64_t> packets_read{0};
  std::atomic<uint64_t> forwarded{0};
  std::array<std::atomic<uint64_t>, kDropReasonCount> drops{};
  // Batch state, used by its thread only.
  std::vector<uint8_t> bufs;
  std::array<size_t, kBatch> lens{};
  std::array<mmsghdr, kMaxMsgs> msgs{};
  std::array<std::array<iovec, 3>, kMaxMsgs> iovs{};
  std::array<sockaddr_ll, kMaxMsgs> lladdrs{};
  std::array<sockaddr_in, kMaxMsgs> inaddrs{};
  std::array<std::array<uint8_t, 20>, kMaxMsgs> outer{};
  // dr with offload: virtio_net_hdr + Ethernet header of each frame.
  std::array<std::array<uint8_t, kVnetHdrLen + kEthHdrLen>, kMaxMsgs> l2{};
  // tun with offload: the IP and TCP headers of each segment of a GSO packet.
  std::array<std::array<uint8_t, kMaxTcpHeaders>, kMaxMsgs> seg_hdrs{};
  // An ICMP error toward a client, after a zeroed virtio_net_hdr (offload).
  std::array<uint8_t, kVnetHdrLen + kIcmpFragNeededMax> icmp{};
};

// What Track() decided for one packet.
struct Decision {
  uint32_t server = 0;
  bool reply = false;
  uint32_t rs_ip = 0;
  uint16_t rs_port = 0;
};

inline bool IsNewSyn(const PacketView& v) {
  return v.protocol == kProtoTcp && (v.tcp_flags & kTcpSyn) &&
         !(v.tcp_flags & (kTcpAck | kTcpRst | kTcpFin));
}

class PacketServiceImpl final : public PacketService {
 public:
  PacketServiceImpl(std::shared_ptr<Service> service, const PacketServiceOptions& options)
      : name_(options.name),
        vip_(options.virtual_address),
        mode_(options.mode),
        service_(std::move(service)),
        options_(options),
        clock_(options.clock != nullptr ? options.clock : &SteadyClock()),
        offload_(options.offload),
        persistence_ns_(std::chrono::nanoseconds(options.persistence).count()),
        templates_(std::make_unique<FlowTable>(persistence_ns_ > 0 ? options.max_flows : 1)) {}

  ~PacketServiceImpl() override { Shutdown(); }

  Status Init();
  PacketServiceSnapshot Snapshot(size_t max_flows_listed) const override;
  Status SyncServers() override;

 private:
  int64_t NowNs() const { return clock_->Now().count(); }
  void Shutdown();
  void Run(ForwardingThread* thread);
  void ProcessBatch(ForwardingThread* thread, size_t count);
  // The per-mode forwarding of one tracked packet. `partial`: its transport
  // checksum is partial (VIRTIO_NET_HDR_F_NEEDS_CSUM). dr and tun queue
  // messages at thread->msgs[*nmsg...] for Flush().
  void ForwardNat(ForwardingThread* thread, PacketView* v, const Decision& d, bool partial);
  void QueueDr(ForwardingThread* thread, const PacketView& v, const ServerSlot& s, size_t* nmsg);
  void QueueTun(ForwardingThread* thread, const PacketView& v, const Decision& d,
                const ServerSlot& s, bool partial, size_t* nmsg);
  // Sends the batch's messages (sendmmsg); *nmsg becomes 0.
  void Flush(ForwardingThread* thread, size_t* nmsg);
  bool Track(ForwardingThread* thread, const PacketView& v, Decision* d, DropReason* reason);
  // The server for a new flow (persistence template, else the scheduler).
  bool PickServer(const PacketView& v, int64_t now, uint32_t* index);
  void TouchTemplate(uint32_t client_ip, int64_t now);
  void Update(FlowEntry* e, const PacketView& v, bool is_reply, int64_t now);
  void CloseFlow(const FlowEntry& e);
  void Drop(ForwardingThread* thread, DropReason r) {
    thread->drops[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
  void Maintain();
  void ResolveNeighbours(Netlink* nl, bool trigger);
  // Appends a slot for `rs` with what its mode needs (nat: reply rules; dr and
  // tun: the route toward it).
  Status AddSlot(Netlink* nl, std::shared_ptr<RealServer> rs);
  // nat: the reply rules for `ep` (add or delete).
  Status NatRules(Netlink* nl, bool add, Endpoint ep);

  const std::string name_;
  const Endpoint vip_;
  const PacketMode mode_;
  const std::shared_ptr<Service> service_;
  const PacketServiceOptions options_;
  const Clock* const clock_;
  // GSO packets from the tun: nat writes them back, dr sends them whole (an
  // AF_PACKET socket with PACKET_VNET_HDR), tun cuts them into segments (a
  // raw socket takes none, and a virtio_net_hdr has no IP-in-IP type).
  const bool offload_;

  ServerSlots servers_;
  std::vector<std::unique_ptr<ForwardingThread>> threads_;
  TunDevice tun_;
  std::atomic<bool> stop_{false};
  // What Init() installed, removed by Shutdown() (the rules: slots' nat_rules).
  bool vip_route_ = false;
  bool nat_route_ = false;
  std::thread maintainer_;
  std::mutex maintainer_mu_;
  std::condition_variable maintainer_cv_;
  // Persistence templates keyed by client address (FlowKey{ip, 0...}).
  const int64_t persistence_ns_;
  std::mutex templates_mu_;
  std::unique_ptr<FlowTable> templates_;  // guarded by templates_mu_
};

}  // namespace lbd::packet_internal

#endif  // LBD_PACKET_SRC_FORWARDER_IMPL_H_
