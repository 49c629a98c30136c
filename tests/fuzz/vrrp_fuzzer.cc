// libFuzzer target: the VRRP advertisement decoder (lbd/vrrp/advert.h
// DecodeIpPacket) under the receive policies lbd uses: v2 with and without a
// password, v3 multicast and v3 unicast. The input is an IPv4 packet as a raw
// IPPROTO_VRRP socket returns it (tests/fuzz/corpus/fuzz_vrrp holds the
// keepalived captures). Properties: never reads outside the span (ASan), and
// an accepted advert re-encoded with EncodeAdvert() and decoded again under
// the same policy is accepted with the same fields.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "lbd/vrrp/advert.h"

namespace {

std::vector<lbd::vrrp::RxPolicy> Policies() {
  std::vector<lbd::vrrp::RxPolicy> out;
  lbd::vrrp::RxPolicy v2;
  v2.version = 2;
  v2.vrid = 51;
  v2.interval_cs = 100;
  v2.virtual_ips = {0x0ad50064};  // 10.213.0.100
  out.push_back(v2);
  v2.auth_pass = "secret";
  out.push_back(v2);
  lbd::vrrp::RxPolicy v3;
  v3.vrid = 51;
  v3.virtual_ips = {0x0ad50064};
  out.push_back(v3);
  v3.unicast = true;
  out.push_back(v3);
  return out;
}

// The IPv4 header a raw socket would show in front of `msg`.
std::vector<uint8_t> WithIpHeader(const std::vector<uint8_t>& msg, const lbd::vrrp::Decoded& d) {
  std::vector<uint8_t> p(20, 0);
  const size_t total = 20 + msg.size();
  p[0] = 0x45;
  p[2] = static_cast<uint8_t>(total >> 8);
  p[3] = static_cast<uint8_t>(total);
  p[8] = d.ttl;
  p[9] = lbd::vrrp::kIpProtoVrrp;
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = static_cast<uint8_t>(d.source >> (24 - 8 * i));
    p[16 + i] = static_cast<uint8_t>(d.destination >> (24 - 8 * i));
  }
  p.insert(p.end(), msg.begin(), msg.end());
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<lbd::vrrp::RxPolicy> policies = Policies();
  // An exact-size copy, so that ASan sees any read past the end.
  const std::vector<uint8_t> packet(data, data + size);
  for (const lbd::vrrp::RxPolicy& policy : policies) {
    const lbd::vrrp::Decoded d = lbd::vrrp::DecodeIpPacket(packet, policy);
    if (d.drop) {
      (void)lbd::vrrp::ToString(*d.drop);
      continue;
    }
    const lbd::vrrp::Advert& a = d.advert;
    if (a.version != policy.version || a.vrid != policy.vrid || a.addresses.size() > 255) {
      std::abort();
    }
    // EncodeAdvert's REQUIRES: a v3 interval of 1..4095 cs (0 on the wire is
    // out of its domain: not re-encoded).
    if (a.version == 3 && a.interval_cs == 0) continue;
    const std::vector<uint8_t> again =
        WithIpHeader(lbd::vrrp::EncodeAdvert(a, d.source, d.destination), d);
    const lbd::vrrp::Decoded d2 = lbd::vrrp::DecodeIpPacket(again, policy);
    if (d2.drop || d2.advert.priority != a.priority || d2.advert.addresses != a.addresses ||
        d2.advert.interval_cs != a.interval_cs || d2.advert.auth_data != a.auth_data ||
        d2.address_mismatch != d.address_mismatch) {
      std::abort();
    }
  }
  return 0;
}
