// Internal header of lbd_daemon.
//
// Connection: one proxied TCP connection (client <-> real server), owned by
// the worker that accepted it and living in that worker's slab. It sees the
// worker only through a WorkerContext (worker_context.h): loop, pools,
// counters, current table, log budget, and Release() for its slot.
//
// Life: Start() schedules a real server (persistence first, then the
// service's scheduler; the sorry server when none; the client is closed at
// once when there is no sorry server), connects without blocking (bounded by
// timeouts.connect; a failed attempt is retried once on another server), then
// relays both directions with splice() through a pipe borrowed from the
// worker's pool only while bytes are in flight, falling back to read/write
// when splice() says EINVAL. EOF from one side becomes shutdown(SHUT_WR) on
// the other; the connection ends when both directions are done. An error or
// a reset on one side resets the other (SO_LINGER 0, then close), counted in
// ProcessCounters::resets and, by the side whose socket failed first, in
// client_resets or server_resets. An idle
// connection (no byte either way for timeouts.idle) is closed; the timer is
// re-armed lazily (one ev_timer, re-computed only when it fires).
//
// Accounting, as IPVS counts a TCP connection through its states:
//   connecting (SYN_SENT)             -> RealServer::ConnectionOpened(active=false)
//   established, both sides open      -> ConnectionActivated()      (active)
//   one side sent FIN (FIN_WAIT/...)  -> ConnectionDeactivated()    (inactive)
//   gone                              -> ConnectionClosed(was_active)
// so that lc/wlc/sed/nq see in-flight connects and the overload flag counts
// them, exactly as ip_vs_bind_dest() does.
//
// Latency signal (RealServer::ReportLatency(), what ewma schedules by; every
// proxy service reports it whatever its scheduler, the sorry server never):
//   connect completed  -> the connect time (ConnectTo() to OnEstablished())
//   connect failed     -> timeouts.connect, the worst a connect can take, so
//                         that a refusing or dead server looks slow at once
//                         (not when socket() itself fails: not its fault)
//   first server byte  -> connect time + time from the request to the first
//                         byte back: from the first client byte written to
//                         the server, or from the establish when the server
//                         speaks first, so client think time never counts
// Time is std::chrono::steady_clock (clock_gettime(CLOCK_MONOTONIC) through
// the vDSO; 91 ns a read measured on the loaded 2-core VM): three reads per
// connection, four when the client's first bytes come after the establish,
// well under a microsecond against the connection's dozen syscalls of a
// microsecond or more each (ReportLatency() adds a read and a short lock).
// ev_now() would cost nothing but is the loop's time at the start of the
// iteration, late by everything the iteration did before (up to 64 accepts
// and their connects), as much as a LAN connect takes; CLOCK_MONOTONIC_COARSE
// (15 ns) ticks every 4 ms here, coarser than a LAN connect or a fast answer.
//
// Access log (ServiceEntry::access_log): when the connection ends, one info
// line through the worker's access-line budget (WorkerContext::AllowAccessLog):
//   access CLIENT SERVICE VIP SERVER Tc/Tt IN/OUT TERM
// SERVER the last real server tried, `sorry:IP:PORT`, or `-` (none picked);
// Tc the connect time in ms (-1: never connected), Tt the whole life in ms;
// IN client->server and OUT server->client bytes; TERM two letters like
// HAProxy's termination state: who ended it, then in which phase.
//   first: `-` normal close, `C` client reset, `S` server refused or reset,
//          `s` server connect timeout, `c` idle timeout (timeouts.idle; no
//          byte either way, so not tied to one side), `K` killed (drain
//          timeout, shutdown), `P` lbd gave up (no server, no descriptor);
//   second: `C` while connecting, `D` while relaying data, `-` normal.
// Disabled, it costs a flag test at the start and one at the end.
//
// Thread-safety: none. Every method runs on the owning worker's thread.
#ifndef LBD_DAEMON_CONNECTION_H_
#define LBD_DAEMON_CONNECTION_H_

#include <ev.h>

#include <cstdint>
#include <memory>

#include "lbd/daemon/service_table.h"

namespace lbd {

struct WorkerContext;

class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Takes `client_fd` (accepted, non-blocking). May finish (and return the
  // slot to the pool) before it returns.
  // REQUIRES: `context` outlives the connection (it is its worker's).
  void Start(WorkerContext& context, int client_fd, Endpoint client, const ServiceEntry& entry);
  // Ends at once, resetting both sides (drain timeout, shutdown).
  void Abort() { Finish(/*reset=*/true, 'K'); }

  // Slab and live-list bookkeeping (owned by the ConnectionOwner).
  Connection* pool_next = nullptr;
  Connection* live_prev = nullptr;
  Connection* live_next = nullptr;

 private:
  enum class State : uint8_t { kFree, kConnecting, kRelaying };
  // Which socket of a direction failed: the source (read side) or the
  // destination (write side). Relay() maps it to the client or the server
  // for ProcessCounters::{client,server}_resets.
  enum class PumpResult : uint8_t { kOk, kSourceError, kDestinationError };
  // Where the first-byte sample of the latency signal stands.
  enum class FirstByte : uint8_t {
    kDone,          // taken, or not wanted (sorry server, not connected yet)
    kEstablished,   // within OnEstablished()'s Relay(): the request starts now
    kWaitRequest,   // established, no client byte sent to the server yet
    kWaitResponse,  // request sent at signal_stamp_ns_, no byte back yet
  };

  // One direction of the relay (client->server or server->client).
  struct Direction {
    int pipe[2] = {-1, -1};  // borrowed while bytes are in flight (splice mode)
    char* buf = nullptr;     // borrowed while bytes are in flight (copy mode)
    uint32_t off = 0;        // copy mode: first unsent byte in buf
    uint32_t pending = 0;    // bytes read from the source, not yet written
    bool copy = false;       // splice() refused (EINVAL): read/write from now on
    bool bulk = false;       // a read filled the whole buffer: splice from now on
    bool eof = false;        // the source sent FIN
    bool shut = false;       // shutdown(destination, SHUT_WR) done
    bool want_read = false;
    bool want_write = false;
  };

  void Begin(std::shared_ptr<RealServer> server);
  void ConnectTo(Endpoint target);
  void OnConnectDone(int err);
  void OnConnectFailed(int err);
  // The connect to the server (or sorry server) completed: reached from
  // ConnectTo() at once or from OnConnectDone().
  void OnEstablished();
  // The latency signal's first-byte sample, after a Relay() round moved
  // `in` bytes client -> server and `out` bytes server -> client.
  void TrackFirstByte(uint64_t in, uint64_t out);
  void Relay();
  PumpResult Pump(Direction& d, int src, int dst, uint64_t& moved);
  bool AcquireSlot(Direction& d);
  void ReleaseSlot(Direction& d);
  bool MovePipeToBuffer(Direction& d);
  void UpdateInterest();
  // `cause` is the first letter of the access log's TERM (see above).
  void Finish(bool reset, char cause);
  void LogAccess(char cause) const;
  void SetEvents(ev_io& io, int fd, int& current, int wanted);

  static void OnClientIo(struct ev_loop* loop, ev_io* w, int revents);
  static void OnServerIo(struct ev_loop* loop, ev_io* w, int revents);
  static void OnTimer(struct ev_loop* loop, ev_timer* w, int revents);

  WorkerContext* ctx_ = nullptr;
  State state_ = State::kFree;
  bool sorry_ = false;    // connected to the sorry server (no RealServer)
  bool counted_ = false;  // ConnectionOpened() done on server_
  bool active_ = false;   // currently counted active on server_
  bool access_log_ = false;
  bool tried_ = false;  // target_ holds the last connect's address
  uint8_t attempts_ = 0;
  FirstByte first_byte_ = FirstByte::kDone;
  int client_fd_ = -1;
  int server_fd_ = -1;
  int client_events_ = 0;
  int server_events_ = 0;
  ev_io client_io_;
  ev_io server_io_;
  ev_timer timer_;
  ev_tstamp last_activity_ = 0;
  float connect_timeout_ = 2;
  float idle_timeout_ = 300;
  uint32_t connect_us_ = 0;  // the last connect's time (latency signal)
  // Steady clock, ns: when the connect started; from the establish on, when
  // the request started (see FirstByte).
  int64_t signal_stamp_ns_ = 0;
  int64_t start_ns_ = 0;  // steady clock at Start(), with access_log_ only
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  Endpoint target_;
  Flow flow_;
  Direction c2s_;
  Direction s2c_;
  std::shared_ptr<ServiceRuntime> runtime_;
  std::shared_ptr<RealServer> server_;
  std::shared_ptr<TrafficStats> server_stats_;
};

}  // namespace lbd

#endif  // LBD_DAEMON_CONNECTION_H_
