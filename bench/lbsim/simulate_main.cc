#include "simulate_main.h"

#include <cstdio>

namespace lbd::lbsim {

int SimulateMain(int, char**) {
  std::fprintf(stderr, "lbsim: the simulation mode is not built yet; use --replay\n");
  return 2;
}

}  // namespace lbd::lbsim
