// The packet-mode seam when lbd is built without lbd_packet.
#include "lbd/lb/packet_runner.h"

namespace lbd {

Result<std::unique_ptr<PacketRunner>> NewPacketRunner(const VirtualServiceConfig&,
                                                      std::shared_ptr<ServiceRuntime>, int, int) {
  return Status::Error("this lbd was built without packet modes (lb/packet)");
}

}  // namespace lbd
