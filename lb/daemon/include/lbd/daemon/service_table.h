// Internal header of lbd_daemon.
//
// What workers know about the virtual services.
//
// ServiceRuntime is the long-lived part of a virtual service: its
// lbd::Service (servers, counters, scheduler), persistence table and totals.
// It survives reloads (the control thread applies diffs to it), so counters
// and established connections are kept; connections hold a shared_ptr to it.
//
// ServiceTable is an immutable snapshot built by the control thread and
// published to every worker (std::shared_ptr<const ServiceTable>): the
// listener sockets, the per-connection settings and the per-server stats.
// A worker swaps its pointer in its own thread, so the hot path takes no lock
// for it. Listener sockets close when the last snapshot naming them is
// released, i.e. after every worker moved to a table without them.
//
// Thread-safety: ServiceRuntime's members are thread-safe objects
// (Service, PersistenceTable, atomics); ServiceTable and ListenerSet are
// immutable after construction.
#ifndef LBD_DAEMON_SERVICE_TABLE_H_
#define LBD_DAEMON_SERVICE_TABLE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lbd/conf/config.h"
#include "lbd/daemon/counters.h"
#include "lbd/daemon/persistence.h"
#include "lbsched/service.h"

namespace lbd {

struct ServiceRuntime {
  ServiceRuntime(std::string service_name, std::unique_ptr<Service> svc)
      : name(std::move(service_name)), service(std::move(svc)) {}

  const std::string name;
  const std::unique_ptr<Service> service;
  PersistenceTable persistence;
  TrafficStats stats;
};

// One listening socket per worker for one virtual service.
class ListenerSet {
 public:
  // Opens `count` SO_REUSEPORT listeners on `listen`. All or nothing.
  static Result<std::shared_ptr<const ListenerSet>> Open(Endpoint listen, int count);
  ListenerSet(const ListenerSet&) = delete;
  ListenerSet& operator=(const ListenerSet&) = delete;
  ~ListenerSet();

  Endpoint listen() const { return listen_; }
  // REQUIRES: worker < count.
  int fd(int worker) const { return fds_[static_cast<size_t>(worker)]; }
  int count() const { return static_cast<int>(fds_.size()); }

 private:
  ListenerSet(Endpoint listen, std::vector<int> fds) : listen_(listen), fds_(std::move(fds)) {}
  Endpoint listen_;
  std::vector<int> fds_;
};

using ServerStatsMap = std::unordered_map<Endpoint, std::shared_ptr<TrafficStats>, EndpointHash>;

// The per-connection settings of one service, copied from its config.
struct ServiceEntry {
  std::shared_ptr<ServiceRuntime> runtime;
  std::shared_ptr<const ListenerSet> listeners;  // null: not proxied (or draining)
  Endpoint listen;
  double connect_timeout = 2.0;  // seconds
  double idle_timeout = 300.0;   // seconds
  std::optional<Endpoint> sorry_server;
  // Quorum lost with a sorry server configured: every new connection goes to
  // the sorry server, even while some real servers are up (keepalived takes
  // the real servers out and puts the sorry server in).
  bool sorry_only = false;
  bool access_log = false;  // one "access ..." info line per finished connection
  ServerStatsMap server_stats;

  // The stats object of `server`, or nullptr when the snapshot predates it.
  TrafficStats* StatsFor(Endpoint server) const {
    auto it = server_stats.find(server);
    return it == server_stats.end() ? nullptr : it->second.get();
  }
};

struct ServiceTable {
  uint64_t generation = 0;
  std::vector<ServiceEntry> services;

  const ServiceEntry* Find(const ServiceRuntime* runtime) const {
    for (const auto& s : services) {
      if (s.runtime.get() == runtime) return &s;
    }
    return nullptr;
  }
};

}  // namespace lbd

#endif  // LBD_DAEMON_SERVICE_TABLE_H_
