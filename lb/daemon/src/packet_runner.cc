// The packet-mode seam over lbd_packet's PacketService.
#include "lbd/daemon/packet_runner.h"

#include <algorithm>
#include <string>

#include "lbd/packet/forwarder.h"

namespace lbd {
namespace {

class LbdPacketRunner : public PacketRunner {
 public:
  LbdPacketRunner(std::unique_ptr<PacketService> service, int index)
      : service_(std::move(service)), index_(index) {}

  Status SyncServers() override { return service_->SyncServers(); }
  int index() const override { return index_; }

  PacketReport Snapshot(size_t max_flows_listed) const override {
    PacketServiceSnapshot s = service_->Snapshot(max_flows_listed);
    PacketReport r;
    r.name = s.name;
    r.tun = s.tun_name;
    r.flows = s.flows;
    r.packets_read = s.packets_read;
    r.packets_forwarded = s.packets_forwarded;
    for (size_t k = 0; k < kDropReasonCount; ++k) {
      r.drops += s.drops[k];
      r.drops_by_kind.emplace_back(ToString(static_cast<DropReason>(k)), s.drops[k]);
    }
    for (const auto& rs : s.servers) {
      PacketServerReport sr;
      sr.address = rs.address;
      sr.active = rs.active;
      sr.inactive = rs.inactive;
      sr.flows = rs.flows;
      sr.packets_in = rs.packets_in;
      sr.bytes_in = rs.bytes_in;
      sr.packets_out = rs.packets_out;
      sr.bytes_out = rs.bytes_out;
      r.servers.push_back(sr);
    }
    for (const auto& f : s.flow_list) {
      FlowReport fr;
      fr.protocol = f.protocol == kProtoTcp ? "TCP" : "UDP";
      fr.client = f.client;
      fr.virtual_address = f.virtual_address;
      fr.server = f.server;
      fr.state = f.protocol == kProtoTcp ? ToString(f.state) : "UDP";
      fr.expires_seconds = f.expires_in.count();
      r.flow_list.push_back(std::move(fr));
    }
    return r;
  }

 private:
  const std::unique_ptr<PacketService> service_;
  const int index_;
};

}  // namespace

Result<std::unique_ptr<PacketRunner>> NewPacketRunner(const VirtualServiceConfig& config,
                                                      std::shared_ptr<ServiceRuntime> runtime,
                                                      int workers, int index) {
  // The daemon's config, translated into the library's options.
  if (config.forwarding == Forwarding::kProxy) {
    return Status::Error(config.name + ": forwarding is proxy");
  }
  PacketServiceOptions options;
  options.name = config.name;
  options.virtual_address = config.listen;
  options.mode = config.forwarding == Forwarding::kNat  ? PacketMode::kNat
                 : config.forwarding == Forwarding::kDr ? PacketMode::kDr
                                                        : PacketMode::kTun;
  options.persistence = config.persistence;
  options.threads = std::max(1, workers);
  options.tun_name = "lbd" + std::to_string(index);
  options.nat_table += static_cast<uint32_t>(index);
  // Shares ownership of the runtime, points at its Service.
  std::shared_ptr<Service> service(runtime, runtime->service.get());
  auto ps = PacketService::Create(std::move(service), options);
  if (!ps.ok()) return ps.status();
  return std::unique_ptr<PacketRunner>(
      std::make_unique<LbdPacketRunner>(std::move(ps).value(), index));
}

}  // namespace lbd
