// PacketServiceImpl's flow tracking: lookup in the threads' flow tables,
// scheduling of new flows (persistence templates, then the Service), IPVS's
// TCP states and timeouts, and the per-server accounting.
#include <algorithm>
#include <chrono>
#include <mutex>

#include "forwarder_impl.h"

namespace lbd::packet_internal {

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

bool PacketServiceImpl::Track(ForwardingThread* thread, const PacketView& v, Decision* d,
                              DropReason* reason) {
  const FlowKey key{v.src_ip, v.dst_ip, v.src_port, v.dst_port, v.protocol};
  const bool inbound = v.dst_ip == vip_.ip;
  const int64_t now = NowNs();
  auto lookup = [&](ForwardingThread* owner) {
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
  if (lookup(thread)) return true;
  // The tun steers a nat reply to the queue that last wrote its flow, but only
  // while its flow cache entry lives (tun.c, 3 s): look in the others too.
  for (auto& other : threads_) {
    if (other.get() != thread && lookup(other.get())) return true;
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
  std::lock_guard<std::mutex> lock(thread->mu);
  FlowEntry* e = thread->table.Insert(key, mode_ == PacketMode::kNat ? &reply : nullptr);
  if (e == nullptr) {
    *reason = thread->table.size() == thread->table.capacity() ? DropReason::kTableFull
                                                               : DropReason::kNoFlow;
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

}  // namespace lbd::packet_internal
