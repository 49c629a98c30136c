#include "lbd/vrrp/advert.h"

#include <algorithm>
#include <cassert>

namespace lbd::vrrp {
namespace {

constexpr size_t kIpMinHeader = 20;

uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Load32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
void Store16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Store32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// Unfolded sum of the IPv4 pseudo-header (RFC 5798 §5.2.8 refers to the
// upper-layer checksum of RFC 2460 §8.1 / the TCP/UDP IPv4 form).
uint32_t PseudoHeaderSum(uint32_t source, uint32_t destination, size_t length) {
  uint32_t sum = 0;
  sum += source >> 16;
  sum += source & 0xffff;
  sum += destination >> 16;
  sum += destination & 0xffff;
  sum += kIpProtoVrrp;
  sum += static_cast<uint32_t>(length);
  return sum;
}

size_t MessageSize(int version, size_t count) {
  return kHeaderSize + 4 * count + (version == 2 ? kAuthDataSize : 0);
}

}  // namespace

const char* ToString(DropReason reason) {
  switch (reason) {
    case DropReason::kIpHeader:
      return "ip_header";
    case DropReason::kTooShort:
      return "too_short";
    case DropReason::kTtl:
      return "ttl";
    case DropReason::kVersion:
      return "version";
    case DropReason::kType:
      return "type";
    case DropReason::kAddressCount:
      return "address_count";
    case DropReason::kChecksum:
      return "checksum";
    case DropReason::kVrid:
      return "vrid";
    case DropReason::kDestination:
      return "destination";
    case DropReason::kAuthType:
      return "auth_type";
    case DropReason::kAuthPassword:
      return "auth_password";
    case DropReason::kInterval:
      return "interval";
  }
  return "?";
}

uint16_t InternetChecksum(std::span<const uint8_t> data, uint32_t initial) {
  uint64_t sum = initial;
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += Load16(&data[i]);
  if (i < data.size()) sum += static_cast<uint32_t>(data[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

std::array<uint8_t, kAuthDataSize> AuthData(const std::string& pass) {
  std::array<uint8_t, kAuthDataSize> data{};
  std::copy_n(pass.begin(), std::min(pass.size(), data.size()), data.begin());
  return data;
}

std::vector<uint8_t> EncodeAdvert(const Advert& advert, uint32_t source, uint32_t destination) {
  assert(advert.version == 2 || advert.version == 3);
  const size_t count = std::min<size_t>(advert.addresses.size(), 255);
  std::vector<uint8_t> out(MessageSize(advert.version, count), 0);
  out[0] = static_cast<uint8_t>((advert.version << 4) | kTypeAdvertisement);
  out[1] = advert.vrid;
  out[2] = advert.priority;
  out[3] = static_cast<uint8_t>(count);
  if (advert.version == 2) {
    // RFC 3768 §5.3.6-5.3.7: auth type, then the interval in whole seconds.
    out[4] = advert.auth_type;
    out[5] = static_cast<uint8_t>(std::clamp(advert.interval_cs / 100, 1, 255));
  } else {
    // RFC 5798 §5.2.5-5.2.7: 4 reserved bits (0), 12 bits of centiseconds.
    Store16(&out[4], static_cast<uint16_t>(std::clamp(advert.interval_cs, 1, kMaxV3IntervalCs)));
  }
  for (size_t i = 0; i < count; ++i) Store32(&out[kHeaderSize + 4 * i], advert.addresses[i]);
  if (advert.version == 2) {
    std::copy(advert.auth_data.begin(), advert.auth_data.end(), out.end() - kAuthDataSize);
  }
  const uint32_t initial =
      advert.version == 3 ? PseudoHeaderSum(source, destination, out.size()) : 0;
  Store16(&out[6], InternetChecksum(out, initial));
  return out;
}

Decoded DecodeIpPacket(std::span<const uint8_t> packet, const RxPolicy& policy) {
  Decoded d;
  auto drop = [&d](DropReason reason) {
    d.drop = reason;
    return d;
  };
  // The IPv4 header as the raw socket hands it over.
  if (packet.size() < kIpMinHeader) return drop(DropReason::kIpHeader);
  const uint8_t* ip = packet.data();
  const size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
  if ((ip[0] >> 4) != 4 || ihl < kIpMinHeader || ihl > packet.size()) {
    return drop(DropReason::kIpHeader);
  }
  const size_t total = Load16(ip + 2);
  const uint16_t fragment = Load16(ip + 6);
  if (total < ihl || total > packet.size() || (fragment & 0x3fff) != 0 || ip[9] != kIpProtoVrrp) {
    return drop(DropReason::kIpHeader);
  }
  d.ttl = ip[8];
  d.source = Load32(ip + 12);
  d.destination = Load32(ip + 16);
  // The VRRP message; anything after IP total length (Ethernet padding) is
  // already excluded.
  const std::span<const uint8_t> msg = packet.subspan(ihl, total - ihl);
  if (msg.size() < kHeaderSize) return drop(DropReason::kTooShort);
  // RFC 5798 §7.1: TTL must be 255. keepalived skips it for unicast peers.
  if (!policy.unicast && d.ttl != kVrrpTtl) return drop(DropReason::kTtl);
  const int version = msg[0] >> 4;
  if (version != policy.version) return drop(DropReason::kVersion);
  if ((msg[0] & 0x0f) != kTypeAdvertisement) return drop(DropReason::kType);
  const size_t count = msg[3];
  const size_t size = MessageSize(version, count);
  if (size > msg.size()) return drop(DropReason::kAddressCount);
  const std::span<const uint8_t> body = msg.first(size);
  if (version == 2) {
    if (InternetChecksum(body) != 0) return drop(DropReason::kChecksum);
  } else {
    // RFC 5798 §5.2.8: includes the pseudo-header with the real destination.
    if (InternetChecksum(body, PseudoHeaderSum(d.source, d.destination, size)) != 0) {
      if (!policy.unicast || !policy.accept_old_unicast_checksum ||
          InternetChecksum(body, PseudoHeaderSum(d.source, kVrrpGroup, size)) != 0) {
        return drop(DropReason::kChecksum);
      }
      d.old_unicast_checksum = true;
    }
  }
  if (msg[1] != policy.vrid) return drop(DropReason::kVrid);
  if ((d.destination == kVrrpGroup) == policy.unicast) return drop(DropReason::kDestination);

  Advert& a = d.advert;
  a.version = version;
  a.vrid = msg[1];
  a.priority = msg[2];
  a.addresses.reserve(count);
  for (size_t i = 0; i < count; ++i) a.addresses.push_back(Load32(&body[kHeaderSize + 4 * i]));
  if (version == 2) {
    a.auth_type = msg[4];
    a.interval_cs = msg[5] * 100;
    std::copy_n(body.end() - kAuthDataSize, kAuthDataSize, a.auth_data.begin());
    // RFC 3768 §7.1: auth type and data must match ours.
    const uint8_t want_type = policy.auth_pass.empty() ? kAuthNone : kAuthSimple;
    if (a.auth_type != want_type) return drop(DropReason::kAuthType);
    if (want_type == kAuthSimple && a.auth_data != AuthData(policy.auth_pass)) {
      return drop(DropReason::kAuthPassword);
    }
    // RFC 3768 §7.1: a different Adver Int is discarded (keepalived too:
    // mismatched timers would split the brain).
    if (a.interval_cs != policy.interval_cs) return drop(DropReason::kInterval);
  } else {
    a.interval_cs = Load16(&msg[4]) & kMaxV3IntervalCs;
    // RFC 5798 §6.4.2: the backup adopts the master's interval; only noted.
    d.interval_mismatch = a.interval_cs != policy.interval_cs;
  }
  // RFC 5798 §7.1: a count or list mismatch "MAY" be logged; keepalived (not
  // vrrp_strict) logs it and still uses the advert.
  std::vector<uint32_t> theirs = a.addresses;
  std::vector<uint32_t> ours = policy.virtual_ips;
  std::sort(theirs.begin(), theirs.end());
  std::sort(ours.begin(), ours.end());
  d.address_mismatch = theirs != ours;
  return d;
}

}  // namespace lbd::vrrp
