// Internal header of lbd_daemon.
//
// WorkerContext: all that a Connection sees of the worker that owns it, the
// way muduo's TcpConnection knows only its EventLoop. The worker builds one at
// construction and hands a reference to every connection it starts; the
// connection never sees the Worker class (its listeners, mailbox, slab or
// drain state).
//
// What is in it, and why the connection needs it:
//   loop, counters, force_copy      fixed for the worker's life;
//   pipes, buffers                  borrowed while bytes are in flight;
//   table                           the worker's current snapshot (per-server
//                                   stats of a server picked on a retry, after
//                                   a swap);
//   AllowLog(), AllowAccessLog()    the per-worker warning and access-line
//                                   rate limits;
//   Release()                       the connection's last act: the owner takes
//                                   its slot back (one indirect call per
//                                   connection, never per byte).
// Everything on the relay path (pools, counters, the loop) is a plain member:
// no virtual call per read or write.
//
// Thread-safety: none. It belongs to one worker thread, like the connections
// that use it; only the worker writes `table`.
#ifndef LBD_DAEMON_WORKER_CONTEXT_H_
#define LBD_DAEMON_WORKER_CONTEXT_H_

#include <ev.h>

#include <cstdint>
#include <memory>

#include "lbd/daemon/counters.h"
#include "lbd/daemon/relay_pools.h"
#include "lbd/daemon/service_table.h"

namespace lbd {

class Connection;

// The owner of connection slots (the Worker).
class ConnectionOwner {
 public:
  // Takes back the slot of `c`, which ended: its sockets are closed, its
  // watchers stopped and its pipes and buffers returned.
  virtual void Release(Connection* c) = 0;

 protected:
  ~ConnectionOwner() = default;
};

struct WorkerContext {
  // REQUIRES: `loop`, `counters` and `owner` outlive the context.
  WorkerContext(struct ev_loop* loop_in, ProcessCounters& counters_in, ConnectionOwner& owner_in,
                int worker_index_in, bool force_copy_in)
      : loop(loop_in),
        counters(counters_in),
        worker_index(worker_index_in),
        force_copy(force_copy_in),
        owner_(owner_in) {}
  WorkerContext(const WorkerContext&) = delete;
  WorkerContext& operator=(const WorkerContext&) = delete;

  // Rate limit for per-connection warnings: at most 10 a second per worker;
  // the number suppressed is logged when the next second starts.
  bool AllowLog();
  // Rate limit for access lines: at most kAccessLinesPerSecond a second per
  // worker, so that a connection flood costs a bounded amount of logging;
  // the number dropped is logged (warning) when the next second's first
  // access line comes.
  static constexpr int kAccessLinesPerSecond = 2000;
  bool AllowAccessLog();

  // The stats of `server` in the current table's entry for `runtime`, or
  // nullptr when there is no table, the service left it, or the snapshot
  // predates the server.
  std::shared_ptr<TrafficStats> ServerStats(const ServiceRuntime* runtime, Endpoint server) const;

  void Release(Connection* c) { owner_.Release(c); }

  struct ev_loop* const loop;
  ProcessCounters& counters;
  const int worker_index;
  const bool force_copy;  // never splice (WorkerOptions::force_copy)
  PipePool pipes;
  BufferPool buffers;
  // The snapshot the worker runs with: swapped by the worker in its thread,
  // read by connections (it holds the listeners and per-server stats).
  std::shared_ptr<const ServiceTable> table;

 private:
  ConnectionOwner& owner_;
  ev_tstamp log_window_ = 0;
  int log_budget_ = 0;
  ev_tstamp access_window_ = 0;
  int access_budget_ = 0;
  uint64_t access_dropped_ = 0;
};

}  // namespace lbd

#endif  // LBD_DAEMON_WORKER_CONTEXT_H_
