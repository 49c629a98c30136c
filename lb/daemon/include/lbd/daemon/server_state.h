// Internal header of lbd_daemon.
//
// ServerState: the one record of everything the daemon decides about one
// real server of one service: what the file says (weight, thresholds,
// inhibit_on_failure), a runtime weight (lbctl weight/drain, a check's
// dynamic weight), lbctl disable, its check's verdict, and, while a failed
// check holds it out of its Service (inhibit_on_failure: false), the
// RealServer object kept for the re-add. ApplyServerState() is the only code
// that turns a record into Service calls (AddServer, RemoveServer,
// SetWeight, SetThresholds, SetUp): reloads, health transitions, dynamic
// weights and lbctl commands change the record, then apply it.
//
// ServiceState: one running virtual service (config, runtime, listeners,
// data plane) with the records of its servers in file order.
//
// Thread-safety: control thread only. The Service a record drives is itself
// thread-safe (workers pick from it concurrently).
#ifndef LBD_DAEMON_SERVER_STATE_H_
#define LBD_DAEMON_SERVER_STATE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lbd/conf/config.h"
#include "lbd/daemon/counters.h"
#include "lbd/daemon/packet_runner.h"
#include "lbd/daemon/service_table.h"
#include "lbsched/service.h"

namespace lbd {

struct ServerState {
  Endpoint address;
  // From the file.
  int configured_weight = 1;
  uint32_t max_conns = 0;
  uint32_t min_conns = 0;
  bool inhibit_on_failure = true;  // of the check that applies to it
  // lbctl weight/drain or a check's dynamic weight, whichever came last;
  // cleared when a reload changes the file's weight for this server.
  std::optional<int> weight_override;
  // lbctl weight/drain and a changed file weight are scheduler events even
  // when the weight stays (like ipvsadm -e): the next apply calls SetWeight.
  bool weight_event = false;
  bool disabled = false;     // lbctl disable
  bool health_down = false;  // its check failed
  // Gone from the file: the next apply removes it from its Service for good
  // (its connections drain) and the caller drops the record.
  bool retired = false;
  // Non-null exactly while held out of the Service by a failed check.
  std::shared_ptr<RealServer> held;
  // Proxy traffic counted by the workers (published in the ServiceTable).
  std::shared_ptr<TrafficStats> stats = std::make_shared<TrafficStats>();

  int weight() const { return weight_override.value_or(configured_weight); }
  // Neither disabled nor failed by its check.
  bool up() const { return !disabled && !health_down; }
  // A failed check with inhibit_on_failure: false takes it out of the table.
  bool out_of_table() const { return retired || (health_down && !inhibit_on_failure); }
};

// The record of `rs` as the file describes it, in service `vs`.
ServerState ServerStateOf(const VirtualServiceConfig& vs, const RealServerConfig& rs);
// Takes the file's settings of `rs` into `state`; a changed weight (the
// reload planner's kReweight) is passed as `reweighted` and replaces any
// runtime weight.
void UpdateFromFile(const VirtualServiceConfig& vs, const RealServerConfig& rs, bool reweighted,
                    ServerState* state);

// What ApplyServerState changed in the Service's list of servers.
enum class TableChange {
  kNone,
  kAdded,  // was not in the Service and not held: AddServer
  kAddFailed,
  kTakenOut,  // a failed check holds it out now (logged)
  kBackIn,    // re-added after being held out (logged)
  kRemoved,   // retired: removed for good
};

// Makes `service` match `state`:
// - retired: RemoveServer (if in it); the record's `held` is dropped.
// - held out (out_of_table()): SetUp(false) first (whatever looks at the
//   weight alone sees it leave before it leaves the list), then RemoveServer,
//   keeping the RealServer in `held`.
// - otherwise in the table: AddServer with weight() and the thresholds when
//   missing (reviving the held object and its counters), SetWeight when the
//   Service's weight differs or a weight event is due, SetThresholds, then
//   SetUp(up()).
// Logs the held-out transitions and a failed add under `service_name`.
TableChange ApplyServerState(const std::string& service_name, Service& service, ServerState& state);

// Sum of the configured weights of the servers that are up, in the table:
// what quorum counts; > 0 is "has a server up" for VRRP's track_services.
int64_t UpWeight(const Service& service);

struct ServiceState {
  VirtualServiceConfig config;
  std::shared_ptr<ServiceRuntime> runtime;
  std::shared_ptr<const ListenerSet> listeners;
  std::vector<ServerState> servers;      // the file's, in file order
  std::shared_ptr<PacketRunner> packet;  // nat/dr/tun: the data plane
  bool sorry_only = false;               // as last published

  ServerState* FindServer(Endpoint address);
  const ServerState* FindServer(Endpoint address) const;
  // The stats objects, as the workers' table holds them.
  ServerStatsMap StatsMap() const;
};

}  // namespace lbd

#endif  // LBD_DAEMON_SERVER_STATE_H_
