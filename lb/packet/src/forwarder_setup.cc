// PacketServiceImpl's set-up and tear-down: the tun device and its sysctls,
// the VIP/32 route, nat's reply table and policy rules, the server slots
// (SyncServers), dr's neighbour resolution, Create() and shutdown.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>

#include "forwarder_impl.h"
#include "lbd/sys/socket.h"

namespace lbd::packet_internal {

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
    auto thread = std::make_unique<ForwardingThread>(options_.max_flows);
    thread->tun_fd = tun_.fds[static_cast<size_t>(i)];
    tun_.fds[static_cast<size_t>(i)] = -1;
    thread->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    thread->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (thread->epoll_fd < 0 || thread->wake_fd < 0) {
      threads_.push_back(std::move(thread));
      return Status::Error(ErrnoMessage("epoll/eventfd", errno));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = thread->tun_fd;
    epoll_ctl(thread->epoll_fd, EPOLL_CTL_ADD, thread->tun_fd, &ev);
    ev.data.fd = thread->wake_fd;
    epoll_ctl(thread->epoll_fd, EPOLL_CTL_ADD, thread->wake_fd, &ev);
    if (mode_ == PacketMode::kDr && offload_) {
      // SOCK_RAW with PACKET_VNET_HDR (packet(7)): each frame starts with the
      // virtio_net_hdr the tun gave (offsets moved past our Ethernet header),
      // so GSO frames of up to 64 KiB go out whole and the device (or the
      // stack below it) segments them. Protocol 0 = send only.
      thread->send_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
      const int one = 1;
      if (thread->send_fd >= 0 &&
          setsockopt(thread->send_fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) != 0) {
        close(thread->send_fd);
        thread->send_fd = -1;
      }
    } else if (mode_ == PacketMode::kDr) {
      // SOCK_DGRAM: the kernel builds the Ethernet header from sll_addr
      // (packet(7)); protocol 0 = send only, nothing is queued for reading.
      thread->send_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    } else if (mode_ == PacketMode::kTun) {
      // IPPROTO_RAW implies IP_HDRINCL (raw(7)); the kernel fills the outer
      // header's checksum, total length and (when 0) its id.
      thread->send_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    }
    if (mode_ != PacketMode::kNat && thread->send_fd < 0) {
      int err = errno;
      threads_.push_back(std::move(thread));
      return Status::Error(ErrnoMessage("send socket", err));
    }
    threads_.push_back(std::move(thread));
  }
  for (auto& thread : threads_) {
    ForwardingThread* raw = thread.get();
    thread->runner = std::thread([this, raw] { Run(raw); });
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
  for (auto& thread : threads_) {
    if (thread->wake_fd >= 0) {
      uint64_t one = 1;
      (void)!write(thread->wake_fd, &one, sizeof(one));
    }
  }
  for (auto& thread : threads_) {
    if (thread->runner.joinable()) thread->runner.join();
  }
  // Flows still open are closed on their servers, so that a Service that
  // outlives this object keeps exact counters.
  for (auto& thread : threads_) {
    std::lock_guard<std::mutex> lock(thread->mu);
    thread->table.ForEach([this](const FlowEntry& e) { CloseFlow(e); });
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
  for (auto& thread : threads_) {
    for (int fd : {thread->tun_fd, thread->epoll_fd, thread->wake_fd, thread->send_fd}) {
      if (fd >= 0) close(fd);
    }
    thread->tun_fd = thread->epoll_fd = thread->wake_fd = thread->send_fd = -1;
  }
  for (int fd : tun_.fds) {
    if (fd >= 0) close(fd);
  }
  tun_.fds.clear();
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
      const sockaddr_in sin = ToSockaddr(Endpoint{s->endpoint.ip, 9});
      (void)sendto(udp, "", 0, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
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

}  // namespace lbd::packet_internal

namespace lbd {

Result<std::unique_ptr<PacketService>> PacketService::Create(std::shared_ptr<Service> service,
                                                             const PacketServiceOptions& options) {
  if (service == nullptr) return Status::Error("no service");
  auto impl = std::make_unique<packet_internal::PacketServiceImpl>(std::move(service), options);
  if (Status st = impl->Init(); !st.ok()) return Status::Error(options.name + ": " + st.message());
  return std::unique_ptr<PacketService>(std::move(impl));
}

}  // namespace lbd
