// Internal header of lbd_daemon.
//
// Daemon: the whole proxy — the control loop (libev's default loop, in the
// thread that calls Run()), the workers, the control socket, the metrics
// endpoint and the health monitor.
//
// Configuration changes (start, SIGHUP, `lbctl reload`) are applied as diffs
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

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "lbd/conf/config.h"
#include "lbd/daemon/control_protocol.h"
#include "lbd/daemon/control_server.h"
#include "lbd/daemon/counters.h"
#include "lbd/daemon/health_monitor.h"
#include "lbd/daemon/metrics_server.h"
#include "lbd/daemon/packet_runner.h"
#include "lbd/daemon/service_table.h"
#include "lbd/daemon/status_report.h"
#include "lbd/daemon/vrrp_runner.h"
#include "lbd/daemon/worker.h"

namespace lbd {

class Daemon {
 public:
  // Opens every listener and socket, starts the workers. Error: a listener
  // or socket could not be opened.
  static Result<std::unique_ptr<Daemon>> Create(const Config& config);
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
  struct ServiceState {
    VirtualServiceConfig config;
    std::shared_ptr<ServiceRuntime> runtime;
    std::shared_ptr<const ListenerSet> listeners;
    ServerStatsMap server_stats;
    std::shared_ptr<PacketRunner> packet;  // nat/dr/tun: the data plane
    bool sorry_only = false;               // as last published (SorryOnly)
  };
  struct Sample {
    double time;
    uint64_t connections, bytes_in, bytes_out;
  };
  using ServerKey = std::pair<std::string, Endpoint>;

  explicit Daemon(struct ev_loop* loop);
  Status Apply(const Config& next);
  // Publishes a new table; logs each service whose sorry_only changes.
  void Publish();
  // Quorum lost and a sorry server configured: every new connection goes there.
  bool SorryOnly(const ServiceState& st) const;
  // Phase 2 of Apply for a nat/dr/tun service: `st` gets the data plane
  // `created` in phase 1, or (`late`) one that replaces old's on the same VIP,
  // or old's own; a kept one follows the runtime's new set of servers.
  void SetPacketRunner(ServiceState* old, const VirtualServiceConfig& vs, int workers,
                       std::shared_ptr<PacketRunner> created, bool late, ServiceState* st);
  ServiceState* FindService(std::string_view name);
  // Puts `server` in or out of its Service and sets its up flag from the
  // health, lbctl disable and inhibit_on_failure state.
  void UpdateUp(const std::string& service, Endpoint server);
  // UpdateUp for every configured server (after a reload).
  void UpdateAllUp();
  // Feeds every service's up-weight sum to the quorum; publishes on a change.
  void UpdateQuorum();
  void OnHealth(const std::string& service, Endpoint server, bool up);
  void OnHealthWeight(const std::string& service, Endpoint server, int weight);
  // Tells the VRRP instances which services have a server up (changes only).
  void FeedVrrp();
  void BeginShutdown(int signum);
  void OnTick();
  static Rates RateOf(const std::deque<Sample>& samples);

  static void OnSignal(struct ev_loop* loop, ev_signal* w, int revents);
  static void OnTickTimer(struct ev_loop* loop, ev_timer* w, int revents);
  static void OnDrainTimer(struct ev_loop* loop, ev_timer* w, int revents);

  struct ev_loop* const loop_;
  Config config_;
  ProcessCounters counters_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<ServiceState> services_;
  uint64_t generation_ = 0;
  std::set<ServerKey> disabled_;     // lbctl disable
  std::set<ServerKey> health_down_;  // health checks
  // Out of their Service while down (inhibit_on_failure: false).
  struct HeldOut {
    std::shared_ptr<RealServer> server;  // keeps the counters for the re-add
    int weight;                          // configured weight to come back with
  };
  std::map<ServerKey, HeldOut> held_out_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<MetricsServer> metrics_;
  std::unique_ptr<HealthMonitor> health_;
  std::unique_ptr<VrrpRunner> vrrp_;      // null without a `vrrp:` section
  std::map<std::string, bool> vrrp_fed_;  // service -> up, as last told to vrrp_
  uint64_t reloads_ = 0;
  uint64_t reload_failures_ = 0;
  // Rate windows: totals and per service name.
  std::deque<Sample> total_samples_;
  std::map<std::string, std::deque<Sample>> service_samples_;

  ev_signal sighup_{}, sigterm_{}, sigint_{};  // zeroed: stopping an unstarted one is a no-op
  ev_timer tick_{};
  ev_timer drain_timer_{};
  bool shutting_down_ = false;
  double drain_deadline_ = 0;
  bool aborted_ = false;
};

}  // namespace lbd

#endif  // LBD_DAEMON_DAEMON_H_
