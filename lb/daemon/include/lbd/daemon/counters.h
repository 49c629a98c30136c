// Internal header of lbd_daemon.
//
// Statistics the data plane feeds and the control plane reads: per real
// server, per virtual service and per process. Real-server connection counts
// (active/inactive) live in lbd::RealServer itself because the schedulers read
// them; these are the additional totals for lbctl and /metrics.
//
// Thread-safety: relaxed atomics, written by every worker and read by the
// control thread; values are statistics, not synchronisation.
#ifndef LBD_DAEMON_COUNTERS_H_
#define LBD_DAEMON_COUNTERS_H_

#include <atomic>
#include <cstdint>

namespace lbd {

// Totals of one real server or one virtual service. "in" is client -> server,
// "out" is server -> client (ipvsadm's InBytes/OutBytes).
struct TrafficStats {
  std::atomic<uint64_t> connections{0};  // connections established to a server
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};

  void AddIn(uint64_t n) { bytes_in.fetch_add(n, std::memory_order_relaxed); }
  void AddOut(uint64_t n) { bytes_out.fetch_add(n, std::memory_order_relaxed); }
};

struct ProcessCounters {
  std::atomic<uint64_t> accepted{0};          // client connections accepted
  std::atomic<uint64_t> accept_errors{0};     // accept4() failures of any kind
  std::atomic<uint64_t> emfile{0};            // ... of which EMFILE/ENFILE
  std::atomic<uint64_t> connect_failures{0};  // refused, timed out, unreachable
  std::atomic<uint64_t> retries{0};           // second attempts on another server
  std::atomic<uint64_t> no_server{0};         // clients closed: no server (nor sorry server)
  std::atomic<uint64_t> sorry{0};             // clients sent to the sorry server
  std::atomic<uint64_t> resets{0};            // connections ended by a reset (either side)
  std::atomic<uint64_t> client_resets{0};     // ... a read/write error on the client socket
  std::atomic<uint64_t> server_resets{0};     // ... on the real server's socket
  std::atomic<uint64_t> idle_timeouts{0};     // connections closed by timeouts.idle
  std::atomic<uint64_t> splice_fallbacks{0};  // directions that fell back to read/write
  std::atomic<int64_t> live{0};               // connections currently held by workers
  std::atomic<uint64_t> maxconn_reached{0};   // times a worker stopped accepting at maxconn
  // The cap on `live` in force (global.maxconn, or derived from the
  // descriptor limit); 0 = none. Set once at start, before workers run.
  std::atomic<int64_t> maxconn{0};

  static void Inc(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }
};

}  // namespace lbd

#endif  // LBD_DAEMON_COUNTERS_H_
