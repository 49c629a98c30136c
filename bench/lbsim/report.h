// Internal header of lbsim: rendering simulation results as an aligned
// table, CSV, JSON, and PNG charts (gnuplot run as a subprocess).
//
// Thread-safety: plain functions.
#ifndef LBD_BENCH_LBSIM_REPORT_H_
#define LBD_BENCH_LBSIM_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "lbsched/status.h"
#include "sim.h"
#include "workload.h"

namespace lbd::lbsim {

struct RunInfo {
  uint64_t seed = 1;
  int64_t requests = 0;  // per scheduler
  double mean_rate = 0;  // requests/s
};

// Human-readable: a summary line per scheduler (times in ms), then load share
// and utilisation per server, then the remapping caused by each event.
std::string FormatTable(const Workload& w, const RunInfo& info,
                        const std::vector<SimResult>& results);
// One row per scheduler; times in seconds; share_<server>, util_<server> columns.
std::string FormatCsv(const std::vector<SimResult>& results);
// Everything, including the CDF and the timeline; times in seconds.
std::string FormatJson(const Workload& w, const RunInfo& info,
                       const std::vector<SimResult>& results);
// Writes DIR/latency_cdf.png, DIR/load_share.png and DIR/timeline.png with
// gnuplot (its .dat inputs are removed on success, kept for debugging on
// failure). Error if gnuplot is missing or fails.
Status WritePlots(const Workload& w, const std::vector<SimResult>& results, const std::string& dir);
// The gnuplot script WritePlots() runs (its .dat files in `dir`). Every y axis
// starts at 0; the i-th scheduler gets PlotStyle(i) in every chart.
std::string PlotScript(const Workload& w, const std::vector<SimResult>& results,
                       const std::string& dir);
// The line style of the i-th scheduler: colour, dash type and point type
// (gnuplot `lc rgb '...' dt N pt M`). Colour and point type are unique for
// i < 15 (one for each scheduler) and the dash type cycles through 5, so the
// lines stay apart in black and white too (by point, then dash).
std::string PlotStyle(size_t i);

}  // namespace lbd::lbsim

#endif  // LBD_BENCH_LBSIM_REPORT_H_
