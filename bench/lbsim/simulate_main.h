// Internal header of lbsim: the simulation mode's command line.
#ifndef LBD_BENCH_LBSIM_SIMULATE_MAIN_H_
#define LBD_BENCH_LBSIM_SIMULATE_MAIN_H_

namespace lbd::lbsim {

// `lbsim [WORKLOAD] [options]`; returns the exit status.
int SimulateMain(int argc, char** argv);

}  // namespace lbd::lbsim

#endif  // LBD_BENCH_LBSIM_SIMULATE_MAIN_H_
