// Internal header of lbd_daemon.
//
// Daemon: the whole proxy — the control loop (libev's default loop, in the
// thread that calls Run()), the workers, the control socket, the metrics
// endpoint and the health monitor.
//
// Configuration changes (start, SIGHUP, `lbctl reload`) are planned by
// Plan() (reload_plan.h) and applied as diffs
// to the long-lived ServiceRuntime objects (AddServer/RemoveServer/SetWeight/
// SetScheduler), so counters and established connections survive; a weight
// is re-applied only when the file changed it, so `lbctl weight` overrides
// persist across reloads of an unchanged line. A server that disappears
// drains: its connections continue. Listeners of removed services close, new
// ones open; a reload whose listeners cannot be opened is refused as a whole.
// Then a new immutable ServiceTable is published to every worker.
// global.workers, control_socket and metrics_listen take effect at start only.
//
// SIGTERM/SIGINT: the VRRP instances stop first (priority 0, VIPs removed:
// the peer takes over at once), listeners close, workers drain, connections
// still open after global.drain_timeout are reset, Run() returns 0.
//
// Packet modes (`forwarding: nat|dr|tun`): one PacketRunner per service,
// created at start or by the reload that adds the service (a data plane that
// cannot be set up refuses the reload), destroyed when the service goes. A
// reload that changes its real servers applies them to the running data
// plane; one that changes its listen or forwarding replaces the data plane
// (a warning: its flows are reset). They are destroyed first thing at
// SIGTERM/SIGINT (after VRRP): packet flows are not drained.
//
// VRRP (`vrrp:`): the instances run on the control loop (VrrpRunner); a
// service has a server up for `track_services` when one of its real servers
// is up with weight > 0, re-evaluated after health changes, lbctl commands,
// reloads and every tick. A reload keeps the instances when the `vrrp:`
// section is unchanged and recreates them otherwise (a brief failover).
//
// Every real server has one ServerState record (server_state.h): file
// settings, runtime weight, disable, health, held out; reloads, health
// reports and lbctl commands change the record and ApplyServerState()
// turns it into Service calls.
//
// Health (HealthMonitor): a server whose check fails gets weight 0
// (Service::SetUp(false)), or with `inhibit_on_failure: false` is removed
// from its Service and held aside (new connections never reach it,
// established ones continue, lbctl weight/drain/enable/disable still apply
// to it) until its check passes again, when it is re-added with its
// counters. Quorum per service: after every health transition, dynamic
// weight, lbctl command, reload and tick the daemon feeds the up-weight sum
// to the monitor; while quorum is lost and the service has a sorry server,
// the published table sends every new connection there (sorry_only).
//
// Thread-safety: every method runs on the control thread (the one that calls
// Create and Run), except what workers reach through the published tables.
#ifndef LBD_DAEMON_DAEMON_H_
#define LBD_DAEMON_DAEMON_H_

#include <ev.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lbd/conf/config.h"
#include "lbd/daemon/control_protocol.h"
#include "lbd/daemon/control_server.h"
#include "lbd/daemon/counters.h"
#include "lbd/daemon/health_monitor.h"
#include "lbd/daemon/metrics_server.h"
#include "lbd/daemon/packet_runner.h"
#include "lbd/daemon/reload_plan.h"
#include "lbd/daemon/report_builder.h"
#include "lbd/daemon/runtime_state.h"
#include "lbd/daemon/server_state.h"
#include "lbd/daemon/service_table.h"
#include "lbd/daemon/status_report.h"
#include "lbd/daemon/vrrp_runner.h"
#include "lbd/daemon/worker.h"
#include "lbsched/scheduler.h"

namespace lbd {

// How Daemon::Create starts.
struct DaemonStartOptions {
  // Skip the check that no other process listens on a service's VIP:port
  // (listen_probe.h): the hook of a later "takeover" start, where the new
  // lbd shares the old one's listeners on purpose. Default: false.
  bool share_listeners = false;
};

class Daemon {
 public:
  // Takes the control socket (refused while another lbd holds it), restores
  // global.state_file, opens every listener and socket, starts the workers.
  // Error: the control socket is another lbd's, a VIP:port is already
  // listened on by another process, or a listener or socket could not be
  // opened. `clock` times the rate windows and the drain deadline; it
  // outlives the daemon.
  static Result<std::unique_ptr<Daemon>> Create(const Config& config,
                                                const Clock& clock = SteadyClock(),
                                                DaemonStartOptions options = {});
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon();

  // Runs the control loop until the drain after SIGTERM/SIGINT ends.
  // Returns the process exit code.
  int Run();

  // Re-reads config.file. On error the old configuration stays.
  Status Reload();
  // One control-protocol line -> its encoded reply.
  ControlReply HandleControlLine(std::string_view line);
  StatusReport Report() const;
  // `flows [SVC] [--max N] [--json]`: the encoded reply.
  ControlReply FlowsReply(const Command& c) const;

 private:
  Daemon(struct ev_loop* loop, const Clock& clock);
  // daemon_reload.cc: executes `plan` (Plan(config_, next)). Phase 1 opens
  // and creates everything that can fail without touching the running
  // state; phase 2 commits.
  Status Apply(const Config& next, const ReloadPlan& plan);
  // Phase 2 for the servers of a kept service: the file's settings into the
  // records, each record applied.
  void ApplyServerSteps(const VirtualServiceConfig& vs, const ServiceStep& step, ServiceState* st);
  // Phase 2 of Apply for a nat/dr/tun service: `st` gets the data plane
  // `created` in phase 1, or (`late`) one that replaces old's on the same VIP,
  // or old's own; a kept one follows the runtime's new set of servers.
  void SetPacketRunner(ServiceState* old, const VirtualServiceConfig& vs, int workers,
                       std::shared_ptr<PacketRunner> created, bool late, ServiceState* st);
  // Publishes a new table; logs each service whose sorry_only changes.
  void Publish();
  // Quorum lost and a sorry server configured: every new connection goes there.
  bool SorryOnly(const ServiceState& st) const;
  ServiceState* FindService(std::string_view name);

  // daemon_servers.cc: ApplyServerState on `state` of `st`; a server back in
  // the table gets its data-plane slot again (a reload while it was out may
  // have retired it).
  TableChange ApplyServer(ServiceState& st, ServerState& state);
  // Every record applied (after a reload reconfigured the checks).
  void ApplyAllServers();
  // Feeds every service's up-weight sum to the quorum; publishes on a change.
  void UpdateQuorum();
  void OnHealth(const std::string& service, Endpoint server, bool up);
  void OnHealthWeight(const std::string& service, Endpoint server, int weight);
  // lbctl weight/drain/enable/disable.
  Status ServerCommand(const Command& c);
  // Tells the VRRP instances which services have a server up (changes only).
  void FeedVrrp();
  // lbctl add-server/remove-server: `next` runtime state applied like a
  // reload of the same file (Plan + Apply); on success it becomes runtime_.
  Status ServerSetCommand(const Command& c);
  Status CommitRuntime(RuntimeState next);
  // runtime_'s weights and disables onto the server records (at start).
  void RestoreOverrides();
  // runtime_ to global.state_file (errors logged: a change is never refused
  // for it).
  void SaveState();
  // `dump`: the running configuration as YAML, runtime weights included,
  // disabled and draining servers marked by comments.
  std::string DumpRunning() const;
  // `plan FILE`: what a reload to FILE would do, with the hash moves.
  Status PlanReload(const std::string& path, std::string* out) const;
  // The running config as the hash-move model sees it: runtime weights, a
  // disabled server weight 0.
  Config RunningConfig() const;

  void BeginShutdown(int signum);
  // sd_notify(3): `state` plus a STATUS= line (services, live connections).
  void NotifyServiceManager(std::string_view state) const;
  void OnTick();
  static void OnSignal(struct ev_loop* loop, ev_signal* w, int revents);
  static void OnTickTimer(struct ev_loop* loop, ev_timer* w, int revents);
  static void OnDrainTimer(struct ev_loop* loop, ev_timer* w, int revents);
  double NowSeconds() const;

  struct ev_loop* const loop_;
  const Clock& clock_;
  Config config_;       // what runs: file_config_ overlaid with runtime_
  Config file_config_;  // as last loaded from config_.file
  RuntimeState runtime_;
  bool share_listeners_ = false;
  ProcessCounters counters_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<ServiceState> services_;  // each with its servers' records
  uint64_t generation_ = 0;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<MetricsServer> metrics_;
  std::unique_ptr<HealthMonitor> health_;
  std::unique_ptr<VrrpRunner> vrrp_;      // null without a `vrrp:` section
  std::map<std::string, bool> vrrp_fed_;  // service -> up, as last told to vrrp_
  uint64_t reloads_ = 0;
  uint64_t reload_failures_ = 0;
  RateWindow total_rates_;
  std::map<std::string, RateWindow> service_rates_;  // by service name

  ev_signal sighup_{}, sigterm_{}, sigint_{};  // zeroed: stopping an unstarted one is a no-op
  ev_timer tick_{};
  ev_timer drain_timer_{};
  bool shutting_down_ = false;
  double drain_deadline_ = 0;  // NowSeconds()
  bool aborted_ = false;
};

}  // namespace lbd

#endif  // LBD_DAEMON_DAEMON_H_
