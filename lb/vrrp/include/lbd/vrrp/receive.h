// Public header of lbd_vrrp.
//
// ReceiveAdvert: the whole receive path of one instance, pure: decode and
// check a packet (packet.h), count it, and hand an accepted advert to the
// Router. A dropped packet only moves a counter; it never reaches the
// Router, so it cannot change the state or the timers.
//
// Thread-safety: touches only its arguments.
#ifndef LBD_VRRP_RECEIVE_H_
#define LBD_VRRP_RECEIVE_H_

#include <cstdint>
#include <span>

#include "lbd/vrrp/advert.h"
#include "lbd/vrrp/router.h"
#include "lbd/vrrp/vrrp.h"

namespace lbd::vrrp {

struct Received {
  Decoded decoded;
  bool own = false;  // our own advert (looped back): ignored, not counted
  Actions actions;   // what the Router asked for (empty when dropped)
};

// `own_ip` is this router's primary address.
Received ReceiveAdvert(std::span<const uint8_t> packet, const RxPolicy& policy, uint32_t own_ip,
                       TimePoint now, Router* router, Counters* counters);

}  // namespace lbd::vrrp

#endif  // LBD_VRRP_RECEIVE_H_
