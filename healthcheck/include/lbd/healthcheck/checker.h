// Public header of lbd_healthcheck.
//
// HealthChecker: the health check of one real server, run on a libev loop.
// Made by Create() from a CheckOptions (the daemon fills it from the service's,
// or the server's, `healthcheck:` config);
// it schedules its own checks (HealthState, health_state.h), never blocks the
// loop, and calls back after every check and on every up/down transition.
//
// Checks (CheckOptions::type):
//   tcp   success = a non-blocking connect completes within `timeout`.
//   http  connect, send `GET path HTTP/1.1` (Host: cfg.host, or "ip:port",
//         the port left out when 80; Connection: close), parse the response
//         (HTTP/1.0 and 1.1; Content-Length, chunked, or read until close;
//         interim 1xx skipped; body capped at 1 MiB). Passes when the status
//         is in expect_status and, if expect_md5 is set, the MD5 of the body
//         (decoded: chunk framing removed) matches: keepalived's HTTP_GET
//         digest, what `genhash` or `curl -s URL | md5sum` print. Without
//         expect_md5 the body is not read. No TLS; redirects not followed.
//   exec  `/bin/sh -c command` with LBD_RS_IP / LBD_RS_PORT (the server's
//         address and port) in its environment, stdin and stdout on
//         /dev/null, stderr inherited; exit 0 = up, 1 = down; with
//         dynamic_weight, exit 2..255 = up with weight code - 2 (keepalived's
//         MISC_CHECK misc_dynamic); any other exit or a signal = down. At
//         `timeout` its whole process group is killed with SIGKILL.
// A check that has not finished at `timeout` fails with message
// "timeout after N ms". A check that cannot run for lack of local resources
// (EMFILE, ENFILE, ENOBUFS, ENOMEM, EAGAIN or EADDRNOTAVAIL from socket(),
// connect() or the fork of an exec check) is "unknown": reported with
// CheckResult::unknown and a message "unknown: socket: Too many open files",
// it counts neither as a success nor as a failure (HealthState::OnUnknown),
// so a daemon out of descriptors never marks a healthy server down. No callback reports the initial
// state (see up()). `port`, when non-zero, replaces the server's port for tcp and http.
//
// Child processes (exec): reaped through a pidfd on the checker's own loop,
// which may be any loop, default or not; no SIGCHLD handler is needed. The
// process we wait for is a clone child with no exit signal (it forks the
// shell and relays its status, see lbd/sys/subprocess.h), so waitpid(-1)
// elsewhere in the daemon, such as libev's ev_child reaper on the default
// loop, can neither reap it nor steal its status. Needs Linux >= 5.2. No
// zombie is left: a child still running when its checker is destroyed is
// killed with its process group and reaped then.
//
// Use (the daemon's control loop; one checker per real server that has a
// check):
//   CheckOptions check;
//   check.type = CheckType::kHttp;
//   check.path = "/health";
//   auto checker = HealthChecker::Create(
//       control_loop, check, rs.address,
//       {.on_result = [](const CheckResult& r) { /* count; r.weight */ },
//        .on_state_change = [](bool up, const CheckResult& r) { /* publish */ }});
//   if (!checker.ok()) { /* config error: checker.status().message() */ }
//
// Thread-safety: a HealthChecker belongs to the thread that runs its loop;
// create, use and destroy it there. Callbacks run on that loop, and may
// destroy the checker that calls them.
#ifndef LBD_HEALTHCHECK_CHECKER_H_
#define LBD_HEALTHCHECK_CHECKER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lbsched/endpoint.h"
#include "lbsched/status.h"

struct ev_loop;

namespace lbd {

enum class CheckType { kTcp, kHttp, kExec };

// Inclusive HTTP status range; a single code is [c, c].
struct HttpStatusRange {
  int low = 200;   // 100..999
  int high = 299;  // low..999

  bool operator==(const HttpStatusRange&) const = default;
};

// What to check and how often. Plain values; Create() rejects unusable ones.
struct CheckOptions {
  CheckType type = CheckType::kTcp;          // Default: tcp.
  std::chrono::milliseconds interval{2000};  // > 0. Default: 2s.
  std::chrono::milliseconds timeout{1000};   // > 0. Default: 1s.
  int rise = 2;                              // successes to mark up, >= 1. Default: 2.
  int fall = 3;                              // failures to mark down, >= 1. Default: 3.
  bool alpha = false;                        // start down until `rise` checks pass. Default: false.
  uint16_t port = 0;  // tcp, http: connect here instead of the server's port; 0 = same. Default: 0.
  // http
  std::string path = "/";  // starts with '/'. Default: "/".
  std::string host;        // Host header; "" = "ip:port" (":80" left out). Default: "".
  std::vector<HttpStatusRange> expect_status{{200, 299}};  // empty = 200-299. Default: 200-299.
  std::string expect_md5;  // 32 hex digits; "" = the body is not read. Default: "".
  // exec
  std::string command;          // run by /bin/sh -c; required for exec. Default: "".
  bool dynamic_weight = false;  // exit 2..255 = up with weight code - 2. Default: false.

  bool operator==(const CheckOptions&) const = default;
};

// The outcome of one check.
struct CheckResult {
  bool success = false;
  // From the start of the check to its result (or to the timeout).
  std::chrono::nanoseconds latency{0};
  // Why it failed ("connect: Connection refused", "status 500", "timeout",
  // "exit 1", ...) or a short note on success ("status 200", "exit 0").
  std::string message;
  // exec with dynamic_weight only: the weight the script asked for
  // (exit code - 2). Empty otherwise.
  std::optional<int> weight;
  // The check could not run for lack of local resources; `success` is
  // false but this is not a failure of the server.
  bool unknown = false;
};

struct HealthCheckCallbacks {
  // After every check (not for stale results). May be empty.
  std::function<void(const CheckResult&)> on_result;
  // On every transition; `up` is the new state, `last` the check that
  // caused it. Called after on_result. May be empty.
  std::function<void(bool up, const CheckResult& last)> on_state_change;
};

struct HealthCheckerOptions {
  // Random source for the first check's delay. Default: a per-checker
  // generator seeded from std::random_device.
  std::function<uint64_t()> random;
  // Monotonic time for scheduling and latency. Default: std::chrono::steady_clock.
  std::function<std::chrono::nanoseconds()> now;
};

class HealthChecker {
 public:
  using Callbacks = HealthCheckCallbacks;
  using Options = HealthCheckerOptions;

  // Starts checking `target` on `loop`; the first check runs after a random
  // delay in [0, check.interval). Fails when `check` is unusable (unknown
  // type, rise/fall < 1, interval/timeout <= 0, http path not starting with
  // '/', a bad expect_status range, expect_md5 not 32 hex digits, empty exec
  // command).
  // REQUIRES: `loop` outlives the checker.
  static Result<std::unique_ptr<HealthChecker>> Create(struct ev_loop* loop,
                                                       const CheckOptions& check, Endpoint target,
                                                       Callbacks callbacks, Options options = {});

  virtual ~HealthChecker() = default;
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // The current state (initially up, or down with check.alpha).
  virtual bool up() const = 0;
  virtual Endpoint target() const = 0;
  // Number of checks finished so far (stale results not counted).
  virtual uint64_t checks() const = 0;

 protected:
  HealthChecker() = default;
};

}  // namespace lbd

#endif  // LBD_HEALTHCHECK_CHECKER_H_
