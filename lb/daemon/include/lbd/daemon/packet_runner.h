// Internal header of lbd_daemon.
//
// PacketRunner: the seam between the daemon and lbd_packet (lb/packet): the
// data plane of one `forwarding: nat|dr|tun` service (tun device, VIP/32
// route, flow table, worker threads). The daemon creates one per packet-mode
// service (at start or by a reload), follows reloads that change its real
// servers with SyncServers(), and destroys it when the service goes, when
// its listen or forwarding changes (a new one replaces it) and at
// SIGTERM/SIGINT (routes, rules and the device removed).
//
// Thread-safety: created and destroyed on the control thread; Snapshot() may
// be called from any thread.
#ifndef LBD_DAEMON_PACKET_RUNNER_H_
#define LBD_DAEMON_PACKET_RUNNER_H_

#include <memory>

#include "lbd/conf/config.h"
#include "lbd/daemon/service_table.h"
#include "lbd/daemon/status_report.h"
#include "lbsched/status.h"

namespace lbd {

class PacketRunner {
 public:
  virtual ~PacketRunner() = default;
  // Counters, per-server stats and, for `lbctl flows`, the first
  // `max_flows_listed` flows (0: none).
  virtual PacketReport Snapshot(size_t max_flows_listed) const = 0;
  // After a reload changed the runtime's set of real servers: new servers
  // are set up for forwarding, removed ones get no new flows (see
  // lbd_packet's PacketService::SyncServers). Error: the servers that could
  // not be set up. Control thread only.
  virtual Status SyncServers() = 0;
  // The `index` it was created with.
  virtual int index() const = 0;
};

// `index` numbers the daemon's packet-mode services from 0: the tun device is
// `lbd<index>`, the nat reply table 19522 + index. The runtime's service (its
// real servers change only together with SyncServers()) is shared with the
// data plane.
// Error: the device, route or sockets could not be set up, or lbd was built
// without lb/packet.
Result<std::unique_ptr<PacketRunner>> NewPacketRunner(const VirtualServiceConfig& config,
                                                      std::shared_ptr<ServiceRuntime> runtime,
                                                      int workers, int index);

}  // namespace lbd

#endif  // LBD_DAEMON_PACKET_RUNNER_H_
