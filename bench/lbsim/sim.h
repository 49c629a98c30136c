// Internal header of lbsim: the discrete-event simulation of one scheduler
// under one workload.
//
// Model: each real server has `capacity` parallel slots and a FIFO queue; a
// request is counted active on its server (RealServer::ConnectionOpened /
// ConnectionClosed) from its pick until it completes, so lc/wlc/sed/nq/lblc
// see queue lengths exactly as IPVS sees established connections. Every
// request's intrinsic size (the uniform draws behind its service time), client
// and destination come from one stream seeded by `seed`, identical for every
// scheduler (common random numbers), so differences between schedulers are
// the schedulers'. A server that fails loses its queued and in-service
// requests and its cache; a removed server drains.
//
// Thread-safety: Simulate() is reentrant; each call owns its Service.
#ifndef LBD_BENCH_LBSIM_SIM_H_
#define LBD_BENCH_LBSIM_SIM_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lbsched/status.h"
#include "workload.h"

namespace lbd::lbsim {

struct SimOptions {
  uint64_t seed = 1;           // Default: 1.
  int64_t requests = 0;        // 0: the workload's count.
  int timeline_windows = 120;  // response-time-over-time resolution. Default: 120.
  int cdf_points = 200;        // latency CDF resolution. Default: 200.
  // Called now and then with the fraction done (0..1); may be empty.
  std::function<void(double)> progress;
};

struct ServerResult {
  std::string name;
  int weight = 0;  // configured at the start
  int capacity = 0;
  int64_t assigned = 0;    // requests the scheduler gave it
  double share = 0;        // assigned / all assigned
  double utilisation = 0;  // busy slot-seconds / (capacity x run length)
  int64_t hits = 0;
  int64_t misses = 0;
};

// What one workload event did to the client -> server mapping. Measured for
// the hashing schedulers (sh, dh, mh), whose pick is a pure function of the
// flow and the list: a fixed probe set of flows is picked just before and
// just after the event.
struct RemapResult {
  double at = 0;
  std::string what;      // "fail s3"
  double moved = -1;     // fraction of probe flows whose server changed (-1: not measured)
  double unserved = -1;  // fraction of probe flows with no server after the event
};

struct TimelinePoint {
  double t = 0;  // window start, seconds
  int64_t count = 0;
  double mean = 0;
  double p99 = 0;
};

struct SimResult {
  std::string scheduler;
  int64_t requests = 0;
  int64_t completed = 0;
  int64_t rejected = 0;           // no server could be picked
  int64_t dropped = 0;            // lost when their server failed
  int64_t queued_while_idle = 0;  // queued although a usable server had no active request
  double duration = 0;            // simulated seconds (last completion)
  double throughput = 0;          // completed / duration
  double mean = 0, p50 = 0, p99 = 0, p999 = 0, max = 0;  // response time, seconds
  double imbalance = 0;                                  // max / mean of the servers' utilisation
  double hit_rate = -1;                                  // -1: no server has a cache
  std::vector<ServerResult> servers;
  std::vector<RemapResult> remaps;
  std::vector<double> cdf;  // response time at quantile i / (size - 1)
  std::vector<TimelinePoint> timeline;
  double wall_seconds = 0;
};

// Expected run length in seconds: requests / mean arrival rate.
double ExpectedDuration(const Workload& w, int64_t requests);

Result<SimResult> Simulate(const Workload& workload, const std::string& scheduler,
                           const SimOptions& options);

}  // namespace lbd::lbsim

#endif  // LBD_BENCH_LBSIM_SIM_H_
