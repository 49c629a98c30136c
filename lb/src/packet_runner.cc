// The packet-mode seam over lbd_packet's PacketService.
#include "lbd/lb/packet_runner.h"

#include <algorithm>
#include <string>

#include "lbd/packet/forwarder.h"

namespace lbd {
namespace {

class LbdPacketRunner : public PacketRunner {
 public:
  explicit LbdPacketRunner(std::unique_ptr<PacketService> service) : service_(std::move(service)) {}

  PacketReport Snapshot() const override {
    PacketServiceSnapshot s = service_->Snapshot(0);
    PacketReport r;
    r.name = s.name;
    r.tun = s.tun_name;
    r.flows = s.flows;
    r.packets_read = s.packets_read;
    r.packets_forwarded = s.packets_forwarded;
    for (uint64_t n : s.drops) r.drops += n;
    return r;
  }

 private:
  std::unique_ptr<PacketService> service_;
};

}  // namespace

Result<std::unique_ptr<PacketRunner>> NewPacketRunner(const VirtualServiceConfig& config,
                                                      std::shared_ptr<ServiceRuntime> runtime,
                                                      int workers, int index) {
  PacketServiceOptions options;
  options.workers = std::max(1, workers);
  options.tun_name = "lbd" + std::to_string(index);
  options.nat_table += static_cast<uint32_t>(index);
  // Shares ownership of the runtime, points at its Service.
  std::shared_ptr<Service> service(runtime, runtime->service.get());
  auto ps = PacketService::Create(config, std::move(service), options);
  if (!ps.ok()) return ps.status();
  return std::unique_ptr<PacketRunner>(std::make_unique<LbdPacketRunner>(std::move(ps).value()));
}

}  // namespace lbd
