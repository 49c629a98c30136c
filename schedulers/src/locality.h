// Internal header of liblbsched: what lblc and lblcr share.
#ifndef LBSCHED_SRC_LOCALITY_H_
#define LBSCHED_SRC_LOCALITY_H_

#include "common.h"

namespace lbd::sched_internal {

// is_overloaded() of ip_vs_lblc.c / ip_vs_lblcr.c: more active connections
// than its weight while some server of the list is below half its weight.
inline bool LblcOverloaded(const RealServer& rs, const ServerList& servers) {
  if (rs.active() <= rs.weight()) return false;
  for (const auto& d : servers) {
    if (int64_t{d->active()} * 2 < d->weight()) return true;
  }
  return false;
}

}  // namespace lbd::sched_internal

#endif  // LBSCHED_SRC_LOCALITY_H_
