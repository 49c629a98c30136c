#include "lbd/packet/forwarder.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "lbd/packet/flow_table.h"
#include "lbd/sys/netlink.h"
#include "tun.h"

namespace lbd {
namespace {

constexpr size_t kBatch = 32;            // packets read from the tun per wake-up
constexpr size_t kBufSize = 65536 + 64;  // a packet of up to 64 KiB and its virtio_net_hdr
constexpr int kPollMs = 100;             // also the expiry period
constexpr uint32_t kMainTable = 254;     // RT_TABLE_MAIN
constexpr uint64_t kMacKnown = 1ULL << 48;
// struct virtio_net_hdr (linux/virtio_net.h, which C++ cannot include: a
// member is named `class`): flags, gso_type, hdr_len, gso_size, csum_start,
// csum_offset; 10 bytes.
constexpr size_t kVnetHdrLen = 10;
constexpr uint8_t kVnetNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr size_t kEthHdrLen = 14;      // ETH_HLEN
constexpr uint8_t kVnetGsoTcpV4 = 1;   // VIRTIO_NET_HDR_GSO_TCPV4
// Messages per sendmmsg: a batch, or the segments of GSO packets (tun).
constexpr size_t kMaxMsgs = 64;
static_assert(kMaxMsgs >= kBatch);
// Server slots a service can have over its life (servers added by reloads
// take new slots; a removed server's slot stays for its flows).
constexpr size_t kMaxServerSlots = 4096;

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

// Append-only slots, read by the workers without a lock: a slot is complete
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

struct Worker {
  explicit Worker(size_t max_flows) : table(max_flows), bufs(kBatch * kBufSize) {}

  int tun_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  int send_fd = -1;  // dr: AF_PACKET; tun: raw IPPROTO_RAW
  std::thread thread;
  mutable std::mutex mu;
  FlowTable table;  // guarded by mu
  std::atomic<uint64_t> packets_read{0};
  std::atomic<uint64_t> forwarded{0};
  std::array<std::atomic<uint64_t>, kDropReasonCount> drops{};
  // Batch state, used by the worker thread only.
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

bool IsNewSyn(const PacketView& v) {
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
  void Run(Worker* w);
  void ProcessBatch(Worker* w, size_t count);
  // Sends the batch's messages (sendmmsg); *nmsg becomes 0.
  void Flush(Worker* w, size_t* nmsg);
  bool Track(Worker* w, const PacketView& v, Decision* d, DropReason* reason);
  // The server for a new flow (persistence template, else the scheduler).
  bool PickServer(const PacketView& v, int64_t now, uint32_t* index);
  void TouchTemplate(uint32_t client_ip, int64_t now);
  void Update(FlowEntry* e, const PacketView& v, bool is_reply, int64_t now);
  void CloseFlow(const FlowEntry& e);
  void Drop(Worker* w, DropReason r) {
    w->drops[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed);
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
  std::vector<std::unique_ptr<Worker>> workers_;
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

Status PacketServiceImpl::Init() {
  const int n = std::max(1, options_.threads);
  auto tun = OpenTun(options_.tun_name, n, offload_);
  if (!tun.ok()) return tun.status();
  tun_ = std::move(tun.value());
  // Packets written into the tun carry the clients' (or servers') addresses:
  // no reverse-path filter on it (the kernel uses max(all, dev)).
  (void)SetDeviceSysctl(tun_.name, "rp_filter", "0");
  (void)DisableIpv6(tun_.name);
  if (Status st = SetLinkUp(tun_.name); !st.ok()) return st;
  auto nl = Netlink::Open();
  if (!nl.ok()) return nl.status();
  if (Status st = nl->Route(true, vip_.ip, 32, tun_.ifindex, kMainTable); !st.ok()) {
    // One packet-mode service per VIP: the VIP's route picks the tun.
    return Status::Error("route " + Ipv4ToString(vip_.ip) + "/32 dev " + tun_.name + ": " +
                         st.message() + " (is the VIP used by another service?)");
  }
  vip_route_ = true;
  if (mode_ == PacketMode::kNat) {
    if (Status st = nl->Route(true, 0, 0, tun_.ifindex, options_.nat_table); !st.ok()) {
      return Status::Error("route default dev " + tun_.name + " table " +
                           std::to_string(options_.nat_table) + ": " + st.message());
    }
    nat_route_ = true;
  }
  for (const auto& rs : service_->Servers()) {
    if (Status st = AddSlot(&nl.value(), rs); !st.ok()) return st;
  }
  if (mode_ == PacketMode::kDr) ResolveNeighbours(&nl.value(), /*trigger=*/true);
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(options_.max_flows);
    w->tun_fd = tun_.fds[static_cast<size_t>(i)];
    tun_.fds[static_cast<size_t>(i)] = -1;
    w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->epoll_fd < 0 || w->wake_fd < 0) {
      workers_.push_back(std::move(w));
      return Status::Error(std::string("epoll/eventfd: ") + strerror(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = w->tun_fd;
    epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->tun_fd, &ev);
    ev.data.fd = w->wake_fd;
    epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->wake_fd, &ev);
    if (mode_ == PacketMode::kDr && offload_) {
      // SOCK_RAW with PACKET_VNET_HDR (packet(7)): each frame starts with the
      // virtio_net_hdr the tun gave (offsets moved past our Ethernet header),
      // so GSO frames of up to 64 KiB go out whole and the device (or the
      // stack below it) segments them. Protocol 0 = send only.
      w->send_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
      const int one = 1;
      if (w->send_fd >= 0 &&
          setsockopt(w->send_fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) != 0) {
        close(w->send_fd);
        w->send_fd = -1;
      }
    } else if (mode_ == PacketMode::kDr) {
      // SOCK_DGRAM: the kernel builds the Ethernet header from sll_addr
      // (packet(7)); protocol 0 = send only, nothing is queued for reading.
      w->send_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    } else if (mode_ == PacketMode::kTun) {
      // IPPROTO_RAW implies IP_HDRINCL (raw(7)); the kernel fills the outer
      // header's checksum, total length and (when 0) its id.
      w->send_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    }
    if (mode_ != PacketMode::kNat && w->send_fd < 0) {
      int err = errno;
      workers_.push_back(std::move(w));
      return Status::Error(std::string("send socket: ") + strerror(err));
    }
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) {
    Worker* raw = w.get();
    w->thread = std::thread([this, raw] { Run(raw); });
  }
  if (mode_ == PacketMode::kDr) maintainer_ = std::thread([this] { Maintain(); });
  return Status::Ok();
}

Status PacketServiceImpl::NatRules(Netlink* nl, bool add, Endpoint ep) {
  // Replies are told apart by the real server's address, protocol and port,
  // so that services sharing a real server (on other ports) each get their
  // own replies. Adding is all or nothing.
  Status result = Status::Ok();
  for (uint8_t proto : {kProtoTcp, kProtoUdp}) {
    Status st =
        nl->Rule(add, ep.ip, 32, proto, ep.port, options_.nat_table, options_.nat_rule_priority);
    if (st.ok()) continue;
    result = Status::Error("rule from " + ToString(ep) + ": " + st.message());
    if (add) {
      if (proto == kProtoUdp) {
        (void)nl->Rule(false, ep.ip, 32, kProtoTcp, ep.port, options_.nat_table,
                       options_.nat_rule_priority);
      }
      break;
    }
  }
  return result;
}

Status PacketServiceImpl::AddSlot(Netlink* nl, std::shared_ptr<RealServer> rs) {
  auto slot = std::make_unique<ServerSlot>();
  slot->endpoint = rs->endpoint();
  slot->rs = std::move(rs);
  if (mode_ == PacketMode::kNat) {
    // A removed slot of the same address may still hold the rules: take them over.
    for (const auto& s : servers_) {
      if (s->nat_rules && s->endpoint == slot->endpoint) {
        s->nat_rules = false;
        slot->nat_rules = true;
      }
    }
    if (!slot->nat_rules) {
      if (Status st = NatRules(nl, true, slot->endpoint); !st.ok()) return st;
      slot->nat_rules = true;
    }
  } else {
    auto route = nl->GetRoute(slot->endpoint.ip);
    if (!route.ok()) {
      return Status::Error("route to " + Ipv4ToString(slot->endpoint.ip) + ": " +
                           route.status().message());
    }
    if (mode_ == PacketMode::kDr && route->gateway != 0) {
      return Status::Error("dr: real server " + Ipv4ToString(slot->endpoint.ip) +
                           " is not on a directly connected network");
    }
    slot->oif = route->oif;
    slot->src_ip = route->prefsrc;
    int mtu = InterfaceMtu(route->oif);
    if (mtu > 0) slot->mtu = mtu;
    if (mode_ == PacketMode::kDr && offload_) {
      auto mac = InterfaceMac(route->oif);
      if (!mac.ok()) return mac.status();
      slot->src_mac = *mac;
    }
  }
  const Endpoint ep = slot->endpoint;
  const bool rules = slot->nat_rules;
  if (!servers_.Append(std::move(slot))) {
    if (rules) (void)NatRules(nl, false, ep);
    return Status::Error("real server " + ToString(ep) + ": more than " +
                         std::to_string(kMaxServerSlots) +
                         " real servers over the service's life (restart lbd)");
  }
  return Status::Ok();
}

Status PacketServiceImpl::SyncServers() {
  auto nl = Netlink::Open();
  if (!nl.ok()) return nl.status();
  const ServerList current = service_->Servers();
  // Gone from the Service: no new flows (Pick() no longer returns it), its
  // flows continue; nat keeps its reply rules until they have ended.
  for (const auto& s : servers_) {
    if (s->removed.load()) continue;
    const bool kept =
        std::any_of(current.begin(), current.end(), [&](const auto& rs) { return rs == s->rs; });
    if (!kept) s->removed.store(true);
  }
  std::string errors;
  bool added = false;
  for (const auto& rs : current) {
    auto same =
        std::find_if(servers_.begin(), servers_.end(), [&](const auto& s) { return s->rs == rs; });
    if (same != servers_.end() && !(*same)->removed.load()) continue;
    if (same != servers_.end()) {
      // Back in the Service (the dest trash revived it: a reload re-added it,
      // or its health check put it back): its slot takes new flows again.
      ServerSlot& slot = **same;
      if (mode_ == PacketMode::kNat && !slot.nat_rules) {
        if (Status st = NatRules(&nl.value(), true, slot.endpoint); !st.ok()) {
          errors += (errors.empty() ? "" : "; ") + st.message();
          continue;
        }
        slot.nat_rules = true;
      }
      slot.removed.store(false);
      added = true;
      continue;
    }
    if (Status st = AddSlot(&nl.value(), rs); !st.ok()) {
      errors += (errors.empty() ? "" : "; ") + st.message();
      continue;
    }
    added = true;
  }
  for (const auto& s : servers_) {
    if (s->removed.load() && s->nat_rules && s->rs->active() + s->rs->inactive() == 0) {
      (void)NatRules(&nl.value(), false, s->endpoint);
      s->nat_rules = false;
    }
  }
  if (added && mode_ == PacketMode::kDr) ResolveNeighbours(&nl.value(), /*trigger=*/true);
  return errors.empty() ? Status::Ok() : Status::Error(errors);
}

void PacketServiceImpl::Shutdown() {
  stop_.store(true);
  {
    std::lock_guard<std::mutex> lock(maintainer_mu_);
    maintainer_cv_.notify_all();
  }
  if (maintainer_.joinable()) maintainer_.join();
  for (auto& w : workers_) {
    if (w->wake_fd >= 0) {
      uint64_t one = 1;
      (void)!write(w->wake_fd, &one, sizeof(one));
    }
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  // Flows still open are closed on their servers, so that a Service that
  // outlives this object keeps exact counters.
  for (auto& w : workers_) {
    std::lock_guard<std::mutex> lock(w->mu);
    w->table.ForEach([this](const FlowEntry& e) { CloseFlow(e); });
  }
  auto nl = Netlink::Open();
  if (nl.ok()) {
    for (const auto& s : servers_) {
      if (s->nat_rules) (void)NatRules(&nl.value(), false, s->endpoint);
      s->nat_rules = false;
    }
    if (nat_route_) (void)nl->Route(false, 0, 0, tun_.ifindex, options_.nat_table);
    if (vip_route_) (void)nl->Route(false, vip_.ip, 32, tun_.ifindex, kMainTable);
  }
  nat_route_ = vip_route_ = false;
  for (auto& w : workers_) {
    for (int fd : {w->tun_fd, w->epoll_fd, w->wake_fd, w->send_fd}) {
      if (fd >= 0) close(fd);
    }
    w->tun_fd = w->epoll_fd = w->wake_fd = w->send_fd = -1;
  }
  for (int fd : tun_.fds) {
    if (fd >= 0) close(fd);
  }
  tun_.fds.clear();
}

void PacketServiceImpl::CloseFlow(const FlowEntry& e) {
  servers_[e.server]->rs->ConnectionClosed(e.active);
}

void PacketServiceImpl::Update(FlowEntry* e, const PacketView& v, bool is_reply, int64_t now) {
  std::chrono::seconds timeout = options_.timeouts.udp;
  if (v.protocol == kProtoTcp) {
    const TcpDirection dir = is_reply                    ? TcpDirection::kOutput
                             : mode_ == PacketMode::kNat ? TcpDirection::kInput
                                                         : TcpDirection::kInputOnly;
    const TcpState next = NextTcpState(e->state, dir, v.tcp_flags);
    if (next != e->state) {
      // set_tcp_state(): active <-> inactive on entering/leaving ESTABLISHED.
      const bool active = next == TcpState::kEstablished;
      RealServer& rs = *servers_[e->server]->rs;
      if (e->active && !active) rs.ConnectionDeactivated();
      if (!e->active && active) rs.ConnectionActivated();
      e->active = active;
      e->state = next;
    }
    timeout = TcpTimeout(options_.timeouts, e->state);
  }
  e->expires_ns = now + std::chrono::nanoseconds(timeout).count();
  e->packets++;
  e->bytes += v.len;
  ServerSlot& s = *servers_[e->server];
  if (is_reply) {
    s.packets_out.fetch_add(1, std::memory_order_relaxed);
    s.bytes_out.fetch_add(v.len, std::memory_order_relaxed);
  } else {
    s.packets_in.fetch_add(1, std::memory_order_relaxed);
    s.bytes_in.fetch_add(v.len, std::memory_order_relaxed);
  }
}

bool PacketServiceImpl::PickServer(const PacketView& v, int64_t now, uint32_t* index) {
  // Persistence (ipvsadm -p; ip_vs_sched_persist()): one template per client
  // address sends its new flows to the same server while the template lives.
  // The template's timer restarts with every new flow and when a flow ends.
  // A server whose weight is 0 (quiesced or down) is not kept, nor one that
  // left the Service (a reload, or down with inhibit_on_failure: false): it
  // takes no new flows (ip_vs_check_template(): !IP_VS_DEST_F_AVAILABLE).
  const FlowKey client{v.src_ip, 0, 0, 0, 0};
  if (persistence_ns_ > 0) {
    std::lock_guard<std::mutex> lock(templates_mu_);
    bool is_reply = false;
    FlowEntry* t = templates_->Find(client, &is_reply);
    if (t != nullptr) {
      const RealServer& kept = *servers_[t->server]->rs;
      if (t->expires_ns > now && kept.available() && kept.weight() > 0) {
        t->expires_ns = now + persistence_ns_;
        *index = t->server;
        return true;
      }
      templates_->Erase(t);
    }
  }
  std::shared_ptr<RealServer> rs =
      service_->Pick(Flow{{v.src_ip, v.src_port}, {v.dst_ip, v.dst_port}});
  const size_t n = servers_.size();
  uint32_t i = 0;
  while (rs != nullptr && i < n && servers_[i]->rs != rs) ++i;
  if (rs == nullptr || i == n) return false;
  *index = i;
  if (persistence_ns_ > 0) {
    std::lock_guard<std::mutex> lock(templates_mu_);
    bool is_reply = false;
    FlowEntry* t = templates_->Find(client, &is_reply);
    if (t == nullptr) t = templates_->Insert(client, nullptr);
    // A full template table only loses persistence for this client.
    if (t != nullptr) {
      t->server = i;
      t->expires_ns = now + persistence_ns_;
    }
  }
  return true;
}

void PacketServiceImpl::TouchTemplate(uint32_t client_ip, int64_t now) {
  if (persistence_ns_ <= 0) return;
  std::lock_guard<std::mutex> lock(templates_mu_);
  bool is_reply = false;
  FlowEntry* t = templates_->Find(FlowKey{client_ip, 0, 0, 0, 0}, &is_reply);
  if (t != nullptr) t->expires_ns = std::max(t->expires_ns, now + persistence_ns_);
}

bool PacketServiceImpl::Track(Worker* w, const PacketView& v, Decision* d, DropReason* reason) {
  const FlowKey key{v.src_ip, v.dst_ip, v.src_port, v.dst_port, v.protocol};
  const bool inbound = v.dst_ip == vip_.ip;
  const int64_t now = NowNs();
  auto lookup = [&](Worker* owner) {
    std::lock_guard<std::mutex> lock(owner->mu);
    bool is_reply = false;
    FlowEntry* e = owner->table.Find(key, &is_reply);
    if (e == nullptr) return false;
    // A new SYN on a closed connection starts a new one (ip_vs_in()'s
    // conn_reuse_mode: the old entry expires, the SYN is scheduled again).
    if (!is_reply && IsNewSyn(v) &&
        (e->state == TcpState::kClose || e->state == TcpState::kTimeWait)) {
      CloseFlow(*e);
      owner->table.Erase(e);
      return false;
    }
    Update(e, v, is_reply, now);
    d->server = e->server;
    d->reply = is_reply;
    d->rs_ip = e->rs_ip;
    d->rs_port = e->rs_port;
    return true;
  };
  if (lookup(w)) return true;
  // The tun steers a nat reply to the queue that last wrote its flow, but only
  // while its flow cache entry lives (tun.c, 3 s): look in the others too.
  for (auto& other : workers_) {
    if (other.get() != w && lookup(other.get())) return true;
  }
  if (!inbound || (v.protocol == kProtoTcp && !IsNewSyn(v))) {
    *reason = DropReason::kNoFlow;
    return false;
  }
  uint32_t index = 0;
  if (!PickServer(v, now, &index)) {
    *reason = DropReason::kNoServer;
    return false;
  }
  RealServer* rs = servers_[index]->rs.get();
  const Endpoint target = servers_[index]->endpoint;
  const FlowKey reply{target.ip, v.src_ip, target.port, v.src_port, v.protocol};
  std::lock_guard<std::mutex> lock(w->mu);
  FlowEntry* e = w->table.Insert(key, mode_ == PacketMode::kNat ? &reply : nullptr);
  if (e == nullptr) {
    *reason = w->table.size() == w->table.capacity() ? DropReason::kTableFull : DropReason::kNoFlow;
    return false;
  }
  e->server = index;
  e->rs_ip = target.ip;
  e->rs_port = target.port;
  // ip_vs_bind_dest() then set_tcp_state(): a new connection is inactive
  // until it reaches ESTABLISHED.
  rs->ConnectionOpened(/*active=*/false);
  servers_[index]->flows.fetch_add(1, std::memory_order_relaxed);
  Update(e, v, false, now);
  d->server = index;
  d->reply = false;
  d->rs_ip = target.ip;
  d->rs_port = target.port;
  return true;
}

void PacketServiceImpl::ProcessBatch(Worker* w, size_t count) {
  size_t nmsg = 0;
  for (size_t i = 0; i < count; ++i) {
    uint8_t* buf = w->bufs.data() + i * kBufSize;
    size_t len = w->lens[i];
    bool partial = false;
    if (offload_) {
      // struct virtio_net_hdr (linux/virtio_net.h): flags first.
      if (len < kVnetHdrLen) {
        Drop(w, DropReason::kTooShort);
        continue;
      }
      partial = (buf[0] & kVnetNeedsCsum) != 0;
      buf += kVnetHdrLen;
      len -= kVnetHdrLen;
    }
    PacketView v;
    DropReason reason = DropReason::kCount;
    if (!ParsePacket(buf, len, &v, &reason)) {
      Drop(w, reason);
      continue;
    }
    const bool to_vip = v.dst_ip == vip_.ip;
    if ((to_vip && v.dst_port != vip_.port) || (!to_vip && mode_ != PacketMode::kNat)) {
      Drop(w, DropReason::kNotService);
      continue;
    }
    Decision d;
    if (!Track(w, v, &d, &reason)) {
      Drop(w, reason);
      continue;
    }
    ServerSlot& s = *servers_[d.server];
    switch (mode_) {
      case PacketMode::kNat: {
        if (d.reply) {
          RewriteSource(&v, vip_.ip, vip_.port, partial);
        } else {
          RewriteDestination(&v, d.rs_ip, d.rs_port, partial);
        }
        // The kernel routes what we write into the tun; one packet per write.
        // With offload the virtio_net_hdr goes back unchanged (same offsets).
        const size_t hdr = offload_ ? kVnetHdrLen : 0;
        if (write(w->tun_fd, v.data - hdr, v.len + hdr) == static_cast<ssize_t>(v.len + hdr)) {
          w->forwarded.fetch_add(1, std::memory_order_relaxed);
        } else {
          Drop(w, DropReason::kSendError);
        }
        break;
      }
      case PacketMode::kDr: {
        const uint64_t mac = s.mac.load(std::memory_order_relaxed);
        if ((mac & kMacKnown) == 0) {
          Drop(w, DropReason::kNoNeighbour);
          break;
        }
        sockaddr_ll& ll = w->lladdrs[nmsg];
        ll = sockaddr_ll{};
        ll.sll_family = AF_PACKET;
        ll.sll_protocol = htons(ETH_P_IP);
        ll.sll_ifindex = s.oif;
        ll.sll_halen = 6;
        for (int b = 0; b < 6; ++b) ll.sll_addr[b] = static_cast<uint8_t>(mac >> (40 - 8 * b));
        msghdr& m = w->msgs[nmsg].msg_hdr;
        m = msghdr{};
        m.msg_name = &ll;
        m.msg_namelen = sizeof(ll);
        m.msg_iov = w->iovs[nmsg].data();
        if (offload_) {
          // virtio_net_hdr (csum_start and hdr_len now count the Ethernet
          // header too), then dst MAC, src MAC, EtherType IPv4.
          uint8_t* l2 = w->l2[nmsg].data();
          std::memcpy(l2, v.data - kVnetHdrLen, kVnetHdrLen);
          auto shift = [l2](size_t at) {
            uint16_t x;
            std::memcpy(&x, l2 + at, 2);
            if (x != 0) x = static_cast<uint16_t>(x + kEthHdrLen);
            std::memcpy(l2 + at, &x, 2);
          };
          shift(2);                              // hdr_len
          if (l2[0] & kVnetNeedsCsum) shift(6);  // csum_start
          std::memcpy(l2 + kVnetHdrLen, ll.sll_addr, 6);
          std::memcpy(l2 + kVnetHdrLen + 6, s.src_mac.data(), 6);
          l2[kVnetHdrLen + 12] = 0x08;
          l2[kVnetHdrLen + 13] = 0x00;
          w->iovs[nmsg][0] = iovec{l2, kVnetHdrLen + kEthHdrLen};
          w->iovs[nmsg][1] = iovec{v.data, v.len};
          m.msg_iovlen = 2;
        } else {
          w->iovs[nmsg][0] = iovec{v.data, v.len};
          m.msg_iovlen = 1;
        }
        ++nmsg;
        break;
      }
      case PacketMode::kTun: {
        // With offload: a GSO packet is cut into gso_size segments; another
        // one with a partial checksum gets it completed (the real server's
        // stack takes the inner packet as it is).
        size_t mss = 0;
        if (offload_) {
          const uint8_t* vh = v.data - kVnetHdrLen;
          const uint8_t gso_type = vh[1] & 0x7f;  // without VIRTIO_NET_HDR_GSO_ECN
          uint16_t field[3];                      // gso_size, csum_start, csum_offset
          std::memcpy(field, vh + 4, sizeof(field));
          if (gso_type == kVnetGsoTcpV4 && v.protocol == kProtoTcp) {
            mss = field[0];
          } else if (gso_type != 0) {
            Drop(w, DropReason::kUnsupportedProtocol);
            break;
          } else if (partial && !CompleteChecksum(v.data, v.len, field[1], field[2],
                                                  v.protocol == kProtoUdp)) {
            Drop(w, DropReason::kTruncatedL4);
            break;
          }
        }
        const size_t hdrs = mss > 0 ? TcpHeadersLen(v) : 0;
        const size_t segments = mss > 0 ? TcpSegmentCount(v, mss) : 1;
        if (segments == 0) {
          Drop(w, DropReason::kTruncatedL4);
          break;
        }
        const size_t biggest = mss > 0 ? std::min(v.len, hdrs + mss) : v.len;
        if (biggest + 20 > static_cast<size_t>(s.mtu)) {
          // RFC 1191: tell the client the MTU left after our 20 bytes
          // (ip_vs_xmit.c ensure_mtu_is_adequate() for IP-in-IP).
          if (v.dont_fragment) {
            // With offload every write into the tun starts with a
            // virtio_net_hdr: all zero = a complete packet, no GSO.
            const size_t hdr = offload_ ? kVnetHdrLen : 0;
            const size_t n = BuildIcmpFragNeeded(v, vip_.ip, static_cast<uint16_t>(s.mtu - 20),
                                                 w->icmp.data() + kVnetHdrLen);
            (void)!write(w->tun_fd, w->icmp.data() + kVnetHdrLen - hdr, n + hdr);
          }
          Drop(w, DropReason::kTooBig);
          break;
        }
        for (size_t k = 0; k < segments; ++k) {
          if (nmsg == kMaxMsgs) Flush(w, &nmsg);
          size_t inner = v.len;
          if (mss > 0) {
            const size_t n = WriteTcpSegmentHeaders(v, mss, k, w->seg_hdrs[nmsg].data());
            w->iovs[nmsg][1] = iovec{w->seg_hdrs[nmsg].data(), hdrs};
            w->iovs[nmsg][2] = iovec{v.data + hdrs + k * mss, n};
            inner = hdrs + n;
          } else {
            w->iovs[nmsg][1] = iovec{v.data, v.len};
          }
          // RFC 2003 §3.1: outer TTL, DF copied from the inner header.
          WriteIpv4Header(w->outer[nmsg].data(), kProtoIpip, s.src_ip, d.rs_ip,
                          static_cast<uint16_t>(inner + 20), v.dont_fragment, v.data[8]);
          sockaddr_in& sin = w->inaddrs[nmsg];
          sin = sockaddr_in{};
          sin.sin_family = AF_INET;
          sin.sin_addr.s_addr = htonl(d.rs_ip);
          w->iovs[nmsg][0] = iovec{w->outer[nmsg].data(), 20};
          msghdr& m = w->msgs[nmsg].msg_hdr;
          m = msghdr{};
          m.msg_name = &sin;
          m.msg_namelen = sizeof(sin);
          m.msg_iov = w->iovs[nmsg].data();
          m.msg_iovlen = mss > 0 ? 3 : 2;
          ++nmsg;
        }
        break;
      }
    }
  }
  Flush(w, &nmsg);
}

void PacketServiceImpl::Flush(Worker* w, size_t* nmsg) {
  // One sendmmsg for the batch; a message the kernel refuses is counted and
  // skipped. At most nmsg rounds.
  size_t sent = 0;
  while (sent < *nmsg) {
    int r = sendmmsg(w->send_fd, w->msgs.data() + sent, static_cast<unsigned>(*nmsg - sent), 0);
    if (r > 0) {
      w->forwarded.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
      sent += static_cast<size_t>(r);
    } else {
      Drop(w, DropReason::kSendError);
      ++sent;
    }
  }
  *nmsg = 0;
}

void PacketServiceImpl::Run(Worker* w) {
  const size_t scan = std::max<size_t>(64, w->table.capacity() / 10);
  int64_t next_expiry = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    epoll_event events[2];
    (void)epoll_wait(w->epoll_fd, events, 2, kPollMs);
    // Drain the queue in batches, bounded per wake-up so expiry runs too.
    for (int round = 0; round < 64 && !stop_.load(std::memory_order_relaxed); ++round) {
      size_t count = 0;
      while (count < kBatch) {
        ssize_t n = read(w->tun_fd, w->bufs.data() + count * kBufSize, kBufSize);
        if (n <= 0) break;
        w->lens[count++] = static_cast<size_t>(n);
      }
      if (count == 0) break;
      w->packets_read.fetch_add(count, std::memory_order_relaxed);
      ProcessBatch(w, count);
    }
    const int64_t now = NowNs();
    if (now >= next_expiry) {
      next_expiry = now + int64_t{kPollMs} * 1000000;
      std::lock_guard<std::mutex> lock(w->mu);
      w->table.ExpireSome(now, scan, [this, now](const FlowEntry& e) {
        CloseFlow(e);
        TouchTemplate(e.key.src_ip, now);
      });
    }
    if (persistence_ns_ > 0) {
      std::lock_guard<std::mutex> lock(templates_mu_);
      templates_->ExpireSome(now, scan, [](const FlowEntry&) {});
    }
  }
}

void PacketServiceImpl::ResolveNeighbours(Netlink* nl, bool trigger) {
  int udp = -1;
  for (int round = 0; round < 10; ++round) {
    bool missing = false;
    for (auto& s : servers_) {
      auto mac = nl->GetNeighbour(s->oif, s->endpoint.ip);
      if (mac.ok() && mac->has_value()) {
        uint64_t v = kMacKnown;
        for (int b = 0; b < 6; ++b) v |= uint64_t{(**mac)[static_cast<size_t>(b)]} << (40 - 8 * b);
        s->mac.store(v, std::memory_order_relaxed);
        continue;
      }
      missing = true;
      if (!trigger) continue;
      // Any datagram to the server makes the kernel resolve its address
      // (ARP, RFC 826); port 9 is discard (RFC 863).
      if (udp < 0) udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_port = htons(9);
      sin.sin_addr.s_addr = htonl(s->endpoint.ip);
      (void)sendto(udp, "", 0, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
    }
    if (!missing || !trigger) break;
    std::unique_lock<std::mutex> lock(maintainer_mu_);
    maintainer_cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_.load(); });
    if (stop_.load()) break;
  }
  if (udp >= 0) close(udp);
}

void PacketServiceImpl::Maintain() {
  auto nl = Netlink::Open();
  if (!nl.ok()) return;
  while (!stop_.load()) {
    ResolveNeighbours(&nl.value(), /*trigger=*/true);
    std::unique_lock<std::mutex> lock(maintainer_mu_);
    maintainer_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_.load(); });
  }
}

PacketServiceSnapshot PacketServiceImpl::Snapshot(size_t max_flows_listed) const {
  PacketServiceSnapshot snap;
  snap.name = name_;
  snap.virtual_address = vip_;
  snap.mode = mode_;
  snap.tun_name = tun_.name;
  const int64_t now = NowNs();
  for (const auto& w : workers_) {
    snap.packets_read += w->packets_read.load(std::memory_order_relaxed);
    snap.packets_forwarded += w->forwarded.load(std::memory_order_relaxed);
    for (size_t r = 0; r < kDropReasonCount; ++r) {
      snap.drops[r] += w->drops[r].load(std::memory_order_relaxed);
    }
    std::lock_guard<std::mutex> lock(w->mu);
    snap.flows += w->table.size();
    if (snap.flow_list.size() >= max_flows_listed) continue;  // status and metrics: no walk
    w->table.ForEach([&](const FlowEntry& e) {
      if (snap.flow_list.size() >= max_flows_listed) return;
      FlowInfo f;
      f.protocol = e.key.protocol;
      f.client = {e.key.src_ip, e.key.src_port};
      f.virtual_address = {e.key.dst_ip, e.key.dst_port};
      f.server = {e.rs_ip, e.rs_port};
      f.state = e.state;
      f.expires_in = std::chrono::seconds(std::max<int64_t>(0, (e.expires_ns - now) / 1000000000));
      snap.flow_list.push_back(f);
    });
  }
  for (const auto& s : servers_) {
    if (s->removed.load(std::memory_order_relaxed)) continue;
    RealServerStats r;
    r.address = s->endpoint;
    r.weight = s->rs->weight();
    r.up = s->rs->up();
    r.active = s->rs->active();
    r.inactive = s->rs->inactive();
    r.flows = s->flows.load(std::memory_order_relaxed);
    r.packets_in = s->packets_in.load(std::memory_order_relaxed);
    r.bytes_in = s->bytes_in.load(std::memory_order_relaxed);
    r.packets_out = s->packets_out.load(std::memory_order_relaxed);
    r.bytes_out = s->bytes_out.load(std::memory_order_relaxed);
    snap.servers.push_back(r);
  }
  return snap;
}

}  // namespace

const char* ToString(PacketMode mode) {
  switch (mode) {
    case PacketMode::kNat:
      return "nat";
    case PacketMode::kDr:
      return "dr";
    case PacketMode::kTun:
      return "tun";
  }
  return "?";
}

std::string FormatSnapshot(const PacketServiceSnapshot& s) {
  // service NAME VIP:PORT MODE TUN
  // packets_read N / packets_forwarded N / flows N / drop.REASON N
  // server IP:PORT weight W up U active A inactive I flows F packets_in ...
  // flow PROTO CLIENT VIP SERVER STATE EXPIRES_S   (ipvsadm -Lnc's columns)
  std::ostringstream out;
  out << "service " << s.name << " " << ToString(s.virtual_address) << " " << ToString(s.mode)
      << " " << s.tun_name << "\n";
  out << "packets_read " << s.packets_read << "\n";
  out << "packets_forwarded " << s.packets_forwarded << "\n";
  out << "flows " << s.flows << "\n";
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    out << "drop." << ToString(static_cast<DropReason>(r)) << " " << s.drops[r] << "\n";
  }
  for (const auto& r : s.servers) {
    out << "server " << ToString(r.address) << " weight " << r.weight << " up " << r.up
        << " active " << r.active << " inactive " << r.inactive << " flows " << r.flows
        << " packets_in " << r.packets_in << " bytes_in " << r.bytes_in << " packets_out "
        << r.packets_out << " bytes_out " << r.bytes_out << "\n";
  }
  for (const auto& f : s.flow_list) {
    out << "flow " << (f.protocol == kProtoTcp ? "TCP" : "UDP") << " " << ToString(f.client) << " "
        << ToString(f.virtual_address) << " " << ToString(f.server) << " "
        << (f.protocol == kProtoTcp ? ToString(f.state) : "UDP") << " " << f.expires_in.count()
        << "\n";
  }
  return out.str();
}

Result<std::unique_ptr<PacketService>> PacketService::Create(std::shared_ptr<Service> service,
                                                             const PacketServiceOptions& options) {
  if (service == nullptr) return Status::Error("no service");
  auto impl = std::make_unique<PacketServiceImpl>(std::move(service), options);
  if (Status st = impl->Init(); !st.ok()) return Status::Error(options.name + ": " + st.message());
  return std::unique_ptr<PacketService>(std::move(impl));
}

}  // namespace lbd
