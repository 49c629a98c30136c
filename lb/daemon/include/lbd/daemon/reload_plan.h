// Internal header of lbd_daemon.
//
// Plan(old, next): what a reload from `old` to `next` changes, computed from
// the two configurations alone (no sockets, no loop, no running state), so
// the rules are unit-tested and the plan can be printed. Daemon::Apply
// executes it; where the running state differs from what `old` implies (a
// data plane that a previous reload could not recreate), Apply falls back to
// creating what is missing.
//
// The rules:
// - a service is matched by name; the others are added or removed;
// - scheduler, hash_port or hash_fallback changed: SetScheduler;
// - real servers matched by address: added, removed, and a weight is set
//   only when the file changed it (so `lbctl weight/drain` survive a reload
//   of an unchanged line); changed thresholds are re-applied;
// - proxy services keep their listeners unless listen changed (or the
//   service was not proxied before);
// - nat/dr/tun services keep their data plane unless listen or forwarding
//   changed: then a new one replaces it, created before the old one goes on
//   a new VIP, after it on the same VIP (its route is the old one's);
// - a `vrrp:` section that differs in any field recreates the instances.
//
// Thread-safety: plain values and pure functions (PlanMoves builds its own
// schedulers).
#ifndef LBD_DAEMON_RELOAD_PLAN_H_
#define LBD_DAEMON_RELOAD_PLAN_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lbd/conf/config.h"
#include "lbsched/endpoint.h"

namespace lbd {

struct ServerStep {
  enum class Kind {
    kAdd,         // new in the file
    kRemove,      // gone from the file: its connections drain
    kReweight,    // the file's weight changed: old_weight -> weight
    kThresholds,  // max_conns/min_conns changed
  };
  Kind kind = Kind::kAdd;
  Endpoint address;
  int old_weight = 0;  // kReweight
  int weight = 0;      // kAdd, kReweight
};

// The listeners of a proxied service.
enum class ListenerStep {
  kNone,  // not proxied (nat/dr/tun, or removed)
  kKeep,
  kOpen,  // new service, listen changed, or proxied now and not before
};

// The data plane of a nat/dr/tun service.
enum class DataPlaneStep {
  kNone,            // proxied (or removed: its data plane goes)
  kKeep,            // its real servers follow (SyncServers)
  kCreate,          // new service, or nat/dr/tun now and proxied before
  kReplace,         // listen changed to another VIP: the new one first, then the old one goes
  kReplaceInPlace,  // same VIP, other port or forwarding: the old one goes first
};

struct ServiceStep {
  enum class Kind { kAdd, kRemove, kKeep };
  Kind kind = Kind::kKeep;
  std::string name;
  bool scheduler_changed = false;   // scheduler, hash_port or hash_fallback
  bool listen_changed = false;      // kKeep
  bool forwarding_changed = false;  // kKeep
  // persistence, timeouts, sorry_server, quorum, hysteresis, on_quorum_*:
  // taken by the next published table and the health monitor.
  bool settings_changed = false;
  bool checks_changed = false;  // a health check setting (the monitor diffs its checks)
  ListenerStep listeners = ListenerStep::kNone;
  DataPlaneStep data_plane = DataPlaneStep::kNone;
  std::vector<ServerStep> servers;  // kKeep: removals first, then the file's order

  // A kept service with nothing to do is unchanged.
  bool changed() const;
  // The kReweight step of `address` (the file changed its weight), if any.
  bool Reweighted(Endpoint address) const;
};

struct ReloadPlan {
  // next's services in file order (kAdd, kKeep), then the removed ones.
  std::vector<ServiceStep> services;
  bool vrrp_changed = false;  // recreate the instances (or start, or stop them)
  // global.workers, control_socket or metrics_listen: they apply at restart only.
  bool restart_only_changed = false;
  bool drain_timeout_changed = false;
  bool log_level_changed = false;

  // Nothing to do: the same configuration.
  bool empty() const;
  // nullptr when `name` is in neither configuration.
  const ServiceStep* Find(std::string_view name) const;
};

ReloadPlan Plan(const Config& old, const Config& next);

// One line per step, for humans (`lbctl plan`) and test failures:
//   service web: added (10.0.0.1:80 wrr proxy, 2 real servers)
//   service web: scheduler changed
//   service web: real server 10.0.0.2:80 weight 1 -> 3
//   vrrp: changed (the instances restart)
// "nothing to change" for an empty plan.
std::string ToString(const ReloadPlan& plan);

// The what-if of `lbctl plan` for hashing schedulers (sh, dh, mh,
// rendezvous) and persistence: which keys and live clients a reload would
// send to another server. Both schedulers are built off-line from the two
// configurations (weights as given there: pass the runtime weights, and 0
// for a disabled server) and asked for the same flows; nothing running is
// touched.
struct LiveEntry {
  enum class Kind { kFlow, kPersistence };
  Kind kind = Kind::kFlow;
  Flow flow;        // kFlow: client and VIP; kPersistence: client IP (port 0) and VIP
  Endpoint server;  // where it goes now
};
struct HashMove {
  LiveEntry entry;
  std::optional<Endpoint> to;  // next's pick; none: no server would take it
  bool server_leaves = false;  // its server is gone from next or has weight 0 there
};
struct ServiceMoves {
  std::string service;
  std::string scheduler;  // next's
  bool hashed = false;    // both schedulers hash: keys/moved_keys were measured
  size_t keys = 0;        // sampled keys of the hash space (source, or destination for dh)
  size_t moved_keys = 0;  // of those, picked to another server by next
  size_t live = 0;        // live entries looked at
  std::vector<HashMove> moves;
};
// Services kept by the reload whose scheduler hashes in both configs, or
// that have live entries. A live entry moves when its server leaves, or
// when next would pick another server for its key than old would (both
// hashing), or than its current one (only next hashing). `keys` spread
// deterministically over the hash space.
std::vector<ServiceMoves> PlanMoves(const Config& old, const Config& next,
                                    const std::vector<std::pair<std::string, LiveEntry>>& live,
                                    size_t keys = 65536);
// "service web: mh: 24.9% of the hash space moves (16317 of 65536 sampled keys)",
// "service web: 3 of 12 live flows/clients move:", then one line each:
//   "  client 127.0.0.5: 127.0.0.1:9004 -> 127.0.0.1:9001 (its server leaves)"
//   "  flow 10.0.0.5:41234 -> 10.0.0.100:80: 10.0.1.4:80 -> 10.0.1.2:80"
// Empty when nothing moves.
std::string ToString(const std::vector<ServiceMoves>& moves);
const char* ToString(ServerStep::Kind kind);
const char* ToString(ListenerStep step);
const char* ToString(DataPlaneStep step);

}  // namespace lbd

#endif  // LBD_DAEMON_RELOAD_PLAN_H_
