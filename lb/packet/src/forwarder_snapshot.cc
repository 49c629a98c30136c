// PacketServiceImpl::Snapshot() (counters, per-server stats, the flow list)
// and its text form.
#include <algorithm>
#include <chrono>
#include <mutex>
#include <sstream>

#include "forwarder_impl.h"

namespace lbd::packet_internal {

PacketServiceSnapshot PacketServiceImpl::Snapshot(size_t max_flows_listed) const {
  PacketServiceSnapshot snap;
  snap.name = name_;
  snap.virtual_address = vip_;
  snap.mode = mode_;
  snap.tun_name = tun_.name;
  const int64_t now = NowNs();
  for (const auto& thread : threads_) {
    snap.packets_read += thread->packets_read.load(std::memory_order_relaxed);
    snap.packets_forwarded += thread->forwarded.load(std::memory_order_relaxed);
    for (size_t r = 0; r < kDropReasonCount; ++r) {
      snap.drops[r] += thread->drops[r].load(std::memory_order_relaxed);
    }
    std::lock_guard<std::mutex> lock(thread->mu);
    snap.flows += thread->table.size();
    if (snap.flow_list.size() >= max_flows_listed) continue;  // status and metrics: no walk
    thread->table.ForEach([&](const FlowEntry& e) {
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

}  // namespace lbd::packet_internal

namespace lbd {

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

}  // namespace lbd
