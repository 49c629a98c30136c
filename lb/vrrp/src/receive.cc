#include "lbd/vrrp/receive.h"

namespace lbd::vrrp {

Received ReceiveAdvert(std::span<const uint8_t> packet, const RxPolicy& policy, uint32_t own_ip,
                       TimePoint now, Router* router, Counters* counters) {
  Received r;
  r.decoded = DecodeIpPacket(packet, policy);
  const Decoded& d = r.decoded;
  if (d.drop) {
    ++counters->dropped[static_cast<size_t>(*d.drop)];
    return r;
  }
  if (d.source == own_ip) {
    r.own = true;
    return r;
  }
  ++counters->adverts_received;
  if (d.advert.priority == kPriorityStop) ++counters->priority_zero_received;
  if (d.address_mismatch) ++counters->address_mismatch;
  if (d.interval_mismatch) ++counters->interval_mismatch;
  r.actions =
      router->OnAdvert(now, d.advert.priority, Micros(d.advert.interval_cs * 10'000), d.source);
  return r;
}

}  // namespace lbd::vrrp
