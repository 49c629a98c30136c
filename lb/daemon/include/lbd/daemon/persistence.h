// Internal header of lbd_daemon.
//
// PersistenceTable: ipvsadm -p for the proxy. Maps a client IP to the real
// server its last connection went to, for `timeout` after that connection
// started or ended (the kernel's persistence template, refreshed while it
// controls connections). An entry is honoured only while its server is still
// in the service (available) and has a weight > 0 (up, not drained): this is
// IPVS with expire_quiescent_template=1, so that `lbctl drain` and health
// checks move persistent clients away at once.
//
// Thread-safety: every method may be called from any thread; one mutex guards
// the map. It is taken only for services with persistence on, once when a
// connection is scheduled and once when it ends. A new client IP allocates one
// map node (per client, not per connection).
#ifndef LBD_DAEMON_PERSISTENCE_H_
#define LBD_DAEMON_PERSISTENCE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lbsched/real_server.h"

namespace lbd {

class PersistenceTable {
 public:
  using Nanos = std::chrono::nanoseconds;

  explicit PersistenceTable(Nanos timeout = Nanos{0}) : timeout_ns_(timeout.count()) {}
  PersistenceTable(const PersistenceTable&) = delete;
  PersistenceTable& operator=(const PersistenceTable&) = delete;

  // 0 turns persistence off (Lookup finds nothing, Record does nothing).
  void SetTimeout(Nanos timeout) { timeout_ns_.store(timeout.count()); }
  Nanos timeout() const { return Nanos{timeout_ns_.load()}; }
  bool enabled() const { return timeout_ns_.load(std::memory_order_relaxed) > 0; }

  // The server `client_ip` is bound to, or nullptr (none, expired, or the
  // server is unavailable/quiesced).
  std::shared_ptr<RealServer> Lookup(uint32_t client_ip, Nanos now);
  // Binds `client_ip` to `server` until now + timeout.
  void Record(uint32_t client_ip, const std::shared_ptr<RealServer>& server, Nanos now);
  // A connection of `client_ip` ended: its entry lives until now + timeout.
  void Touch(uint32_t client_ip, Nanos now);
  // Drops expired entries; returns how many.
  size_t Expire(Nanos now);
  size_t size() const;
  // The live entries (not expired at `now`): client IP -> its server's
  // address, for the reload planner's what-if (`lbctl plan`).
  std::vector<std::pair<uint32_t, Endpoint>> Entries(Nanos now) const;

 private:
  struct Entry {
    std::shared_ptr<RealServer> server;
    Nanos expires;
  };
  std::atomic<int64_t> timeout_ns_;
  mutable std::mutex mu_;
  std::unordered_map<uint32_t, Entry> entries_;  // guarded by mu_
};

}  // namespace lbd

#endif  // LBD_DAEMON_PERSISTENCE_H_
