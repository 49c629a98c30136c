// Internal header of lbd_daemon.
//
// Worker: one data-plane thread running its own libev loop (ev_loop_new), at
// most one Worker per thread. Each worker watches its own SO_REUSEPORT
// listener of every proxied virtual service (the kernel spreads new
// connections over the workers), accepts in bounded batches and owns every
// Connection it accepted, in a slab that is never returned to the heap.
//
// The control thread talks to a worker only through Publish(), BeginDrain()
// and Abort(), which store a request and wake the loop with ev_async; the
// worker applies them in its own thread. The service table it reads on the
// hot path is its own shared_ptr copy, swapped there: no lock on that path.
//
// EMFILE/ENFILE on accept: the worker closes a reserved descriptor, accepts
// and closes the pending client (so the kernel queue drains instead of
// waking us forever), reopens the reserve and stops accepting for 100 ms.
//
// The connection budget (global.maxconn): every worker takes a slot from the
// shared ProcessCounters::live before each accept4 and gives it back when the
// connection ends, so all workers together never hold more than maxconn
// clients. A worker that finds no free slot stops watching its listeners
// (clients wait in the kernel's accept queue, HAProxy-style, instead of being
// refused) and counts maxconn_reached once per such episode; it resumes as
// soon as one of its own connections ends, or when a 10 ms poll sees that
// another worker freed a slot.
//
// Connections see the worker only through its WorkerContext (loop, pools,
// counters, current table, log budget) and give their slot back through
// ConnectionOwner::Release.
//
// Thread-safety: Publish/BeginDrain/Abort/finished/live_connections may be
// called from any thread; everything else is internal to the worker thread.
// The owner calls Start() once and Join() before destroying the Worker.
#ifndef LBD_DAEMON_WORKER_H_
#define LBD_DAEMON_WORKER_H_

#include <ev.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "lbd/daemon/connection.h"
#include "lbd/daemon/counters.h"
#include "lbd/daemon/mailbox.h"
#include "lbd/daemon/relay_pools.h"
#include "lbd/daemon/service_table.h"
#include "lbd/daemon/worker_context.h"

namespace lbd {

struct WorkerOptions {
  int index = 0;                        // which listener of each ListenerSet is ours
  ProcessCounters* counters = nullptr;  // REQUIRED; must outlive the worker
  bool force_copy = false;              // never splice (tests the fallback). Default: false.
  int accept_batch = 64;                // accepts per wake-up and listener. Default: 64.
  double emfile_pause = 0.1;            // seconds without accepting after EMFILE. Default: 0.1.
  // Client connections all workers may hold at once (counters->live); 0 =
  // no cap. The same value for every worker. Default: 0.
  int64_t max_connections = 0;
};

// Descriptors that client load never takes, whatever the limit (control and
// metrics clients, health checks, VRRP, packet modes, netlink, listeners,
// exec children, logs): see DefaultMaxConnections.
inline constexpr uint64_t kReservedFds = 1024;

// global.maxconn when the file leaves it out: each client connection costs
// two sockets (client, real server) plus, on average, one descriptor for the
// splice pipe pair a connection borrows while a bulk transfer is in flight;
// `reserve` = min(kReservedFds + 2 x real_servers (a health-check socket and
// a spare each), fd_limit / 2) stays out of client load:
//   maxconn = max(1, (fd_limit - reserve) / 3).
int64_t DefaultMaxConnections(uint64_t fd_limit, size_t real_servers);

class Worker final : private ConnectionOwner {
 public:
  static Result<std::unique_ptr<Worker>> Create(const WorkerOptions& options);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  // Spawns the thread. Signals should be blocked by the caller beforehand
  // (the thread inherits the mask).
  void Start();
  // Hands a new table to the worker; it swaps it in at its next wake-up.
  void Publish(std::shared_ptr<const ServiceTable> table);
  // Stop accepting; the thread exits once its last connection ended.
  void BeginDrain();
  // Reset every connection and exit now.
  void Abort();
  void Join();

  bool finished() const { return finished_.load(); }
  int64_t live_connections() const { return live_.load(std::memory_order_relaxed); }
  // The generation of the table the worker runs with (for tests and status).
  uint64_t generation() const { return generation_.load(); }
  int index() const { return options_.index; }

 private:
  struct ListenerWatch {
    ev_io io;
    Worker* worker;
    const ServiceEntry* entry;
  };

  explicit Worker(const WorkerOptions& options, struct ev_loop* loop);
  void Run();
  void ApplyTable(std::shared_ptr<const ServiceTable> table);
  void StartListeners();
  void StopListeners();
  void AcceptBatch(ListenerWatch& lw);
  void OnAcceptExhausted();
  // Takes a slot of the connection budget; false at the cap.
  bool ReserveSlot();
  void PauseAtCap();
  void ResumeListeners();  // unless EMFILE-paused or at the cap
  bool accepting() const { return !paused_ && !at_cap_; }
  void Release(Connection* c) override;
  void AbortAll();
  void MaybeFinish();
  ProcessCounters& counters() { return *options_.counters; }

  static void OnWake(struct ev_loop* loop, ev_async* w, int revents);
  static void OnAcceptable(struct ev_loop* loop, ev_io* w, int revents);
  static void OnResume(struct ev_loop* loop, ev_timer* w, int revents);
  static void OnCapPoll(struct ev_loop* loop, ev_timer* w, int revents);

  const WorkerOptions options_;
  struct ev_loop* const loop_;
  ev_async wake_;
  ev_timer resume_timer_;
  ev_timer cap_timer_;  // polls for a free slot while at the cap
  std::thread thread_;
  Mailbox<ServiceTable> mailbox_;
  std::atomic<bool> drain_requested_{false};
  std::atomic<bool> abort_requested_{false};
  std::atomic<bool> finished_{false};
  std::atomic<int64_t> live_{0};
  std::atomic<uint64_t> generation_{0};

  // Worker thread only.
  WorkerContext context_;  // holds the current table and the relay pools
  std::vector<std::unique_ptr<ListenerWatch>> listeners_;
  bool paused_ = false;  // EMFILE back-off
  bool at_cap_ = false;  // no slot left in the connection budget
  bool draining_ = false;
  int reserve_fd_ = -1;
  SlabPool<Connection> slab_;
  Connection* live_head_ = nullptr;
};

}  // namespace lbd

#endif  // LBD_DAEMON_WORKER_H_
