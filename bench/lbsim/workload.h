// Internal header of lbsim: the workload a simulation runs (servers, arrivals,
// clients, timed events), loaded from YAML (bench/workloads/*.yaml) or built in.
//
// Thread-safety: plain values.
#ifndef LBD_BENCH_LBSIM_WORKLOAD_H_
#define LBD_BENCH_LBSIM_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "lbsched/endpoint.h"
#include "lbsched/status.h"

namespace lbd::lbsim {

enum class Dist { kExp, kConst, kLognormal };

struct ServiceTime {
  Dist dist = Dist::kExp;  // Default: exp.
  double mean = 0.010;     // seconds. Default: 10 ms.
  double sigma = 1.0;      // lognormal shape (of the underlying normal). Default: 1.
};

struct ServerSpec {
  std::string name;
  Endpoint endpoint;    // Default: 10.0.0.<index+1>:80.
  int weight = 1;       // 0..65535. Default: 1.
  int capacity = 1;     // parallel slots; more requests queue FIFO. Default: 1.
  ServiceTime service;  // without a cache
  // Locality: an LRU of `cache_size` destinations (0: no cache). A hit is
  // served with mean `hit`, a miss with mean `miss` (same distribution shape).
  int cache_size = 0;   // Default: 0.
  double hit = 0.001;   // seconds. Default: 1 ms.
  double miss = 0.020;  // seconds. Default: 20 ms.
  bool present = true;  // in the service from the start; else an `add` event adds it
  // Nominal mean service time, used to turn a load factor into a rate.
  double NominalMean() const { return cache_size > 0 ? miss : service.mean; }
};

enum class ArrivalKind { kPoisson, kBursts };

struct Arrivals {
  ArrivalKind kind = ArrivalKind::kPoisson;
  // The mean rate: `rate` requests/s when > 0, else `load` x the nominal
  // capacity of the servers present at the start (sum of capacity / mean).
  double rate = 0;    // Default: from load.
  double load = 0.8;  // Default: 0.8.
  // Bursts: the rate is `peak` x the mean for `on` seconds, then lower for
  // `off` seconds so that the long-run mean stays the same (never below 0).
  double on = 0.5;    // seconds. Default: 0.5.
  double off = 1.5;   // seconds. Default: 1.5.
  double peak = 3.0;  // Default: 3.
};

struct Clients {
  int sources = 5000;        // client addresses (198.18.0.0/15 upwards). Default: 5000.
  int destinations = 1000;   // destination addresses (the lblc/dh key). Default: 1000.
  double zipf = 0.0;         // popularity exponent of destinations; 0: uniform. Default: 0.
  double source_zipf = 0.0;  // popularity exponent of sources. Default: 0.
  // Sources are 11.0.0.0/8 from 11.0.0.1 upwards, each flow with a random
  // ephemeral port; destinations are 100.64.0.0/10 from 100.64.0.1 upwards, port 80
  // (in a cache cluster the destination address is the content's origin).
};

enum class EventKind { kFail, kRecover, kWeight, kAdd, kRemove, kSlow };

struct Event {
  double at = 0;  // seconds since the start
  // When >= 0, `at` is this fraction of the expected run length (requests /
  // mean rate), from "at: 40%"; resolved by the simulation.
  double at_fraction = -1;
  EventKind kind = EventKind::kFail;
  size_t server = 0;  // index into Workload::servers
  int weight = 0;     // kWeight
  // kSlow: from now on the server's service times are `factor` x their
  // nominal ones (a latency spike; factor 1 ends it).
  double factor = 1;
};

struct Workload {
  std::string name = "default";
  std::string description;
  int64_t requests = 200000;            // per scheduler, unless --requests. Default: 200000.
  std::vector<std::string> schedulers;  // empty: all of them
  std::vector<ServerSpec> servers;
  Arrivals arrivals;
  Clients clients;
  // How long a finished request's connection stays counted inactive (like
  // IPVS's TIME_WAIT/FIN states), which lc and wlc weigh and sed/nq ignore.
  double linger = 0;  // seconds. Default: 0.
  // p2c, ewma: servers sampled per pick (SchedulerOptions::choices). Default: 2.
  int choices = 2;
  // ewma: the latency average's time constant in seconds
  // (SchedulerOptions::ewma_decay). Default: 10.
  double decay = 10;
  std::vector<Event> events;  // in file order; the simulation sorts them by time
  std::string source;         // file name, or "built-in"
};

// The built-in default: six servers, two of them twice as strong and one slow,
// Poisson arrivals at load 0.8 and one server failing and coming back.
Workload DefaultWorkload();

// Loads and validates a workload file. Errors read "FILE:LINE:COL: message".
Result<Workload> LoadWorkload(const std::string& path);
// The same from text (`name` labels errors).
Result<Workload> ParseWorkload(const std::string& text, const std::string& name);

// "250ms", "2s", "1.5", "5m", "100us": seconds. False on anything else.
bool ParseDuration(const std::string& text, double* seconds);

}  // namespace lbd::lbsim

#endif  // LBD_BENCH_LBSIM_WORKLOAD_H_
