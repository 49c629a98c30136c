// Public header of lbd_vrrp.
//
// The VRRP advertisement codec for IPv4: version 2 (RFC 3768 §5) and version 3
// (RFC 5798 §5), byte-compatible with keepalived (see the captured vectors in
// tests/vrrp). Encoding builds the VRRP message only (the kernel adds the IP
// header); decoding takes a whole IPv4 packet as a raw socket delivers it and
// applies keepalived's receive checks (RFC 3768 §7.1, RFC 5798 §7.1).
//
// Decoding never reads outside the given span; malformed input yields a
// DropReason, never a crash. Addresses are host byte order throughout.
//
// Thread-safety: pure functions on values; reentrant.
#ifndef LBD_VRRP_ADVERT_H_
#define LBD_VRRP_ADVERT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace lbd::vrrp {

inline constexpr uint8_t kIpProtoVrrp = 112;        // IANA protocol number
inline constexpr uint32_t kVrrpGroup = 0xe0000012;  // 224.0.0.18 (RFC 5798 §5.1.1.2)
inline constexpr uint8_t kVrrpTtl = 255;            // RFC 5798 §5.1.1.3
inline constexpr uint8_t kTypeAdvertisement = 1;    // RFC 5798 §5.2.2
inline constexpr uint8_t kPriorityStop = 0;         // RFC 5798 §5.2.4
inline constexpr uint8_t kPriorityOwner = 255;      // RFC 5798 §5.2.4
inline constexpr size_t kHeaderSize = 8;            // both versions
inline constexpr size_t kAuthDataSize = 8;          // RFC 3768 §5.3.10
inline constexpr uint8_t kAuthNone = 0;             // RFC 3768 §5.3.6
inline constexpr uint8_t kAuthSimple = 1;           // RFC 2338 §5.3.6.1 (keepalived PASS)
inline constexpr int kMaxV3IntervalCs = 0x0fff;     // 12 bits, RFC 5798 §5.2.7

struct Advert {
  int version = 3;  // 2 | 3
  uint8_t vrid = 0;
  uint8_t priority = 0;
  // Advertisement interval in centiseconds. Version 2 carries whole seconds
  // (RFC 3768 §5.3.7), so it is a multiple of 100 there.
  int interval_cs = 100;
  uint8_t auth_type = kAuthNone;                   // version 2 only
  std::array<uint8_t, kAuthDataSize> auth_data{};  // version 2 only; NUL-padded password
  std::vector<uint32_t> addresses;                 // the virtual IPs
};

// RFC 1071 one's-complement sum folded and inverted. `initial` is a partial
// (unfolded) sum, e.g. of a pseudo-header.
uint16_t InternetChecksum(std::span<const uint8_t> data, uint32_t initial = 0);

// The message as sent on the wire (no IP header), checksum filled in.
// Version 3 checksums include the IPv4 pseudo-header of `source` and
// `destination` (RFC 5798 §5.2.8): the real destination, i.e. 224.0.0.18 or
// the unicast peer. Version 2 ignores both (RFC 3768 §5.3.8).
// REQUIRES: version 2 or 3; addresses.size() <= 255; v2 interval a multiple of
// 100 cs in 100..25500, v3 interval 1..4095 cs.
std::vector<uint8_t> EncodeAdvert(const Advert& advert, uint32_t source, uint32_t destination);

// Why a received packet was dropped. Each kind is counted separately.
enum class DropReason : uint8_t {
  kIpHeader,      // not IPv4, bad IHL, fragment, not protocol 112, length over what was read
  kTooShort,      // IP payload shorter than a VRRP header
  kTtl,           // TTL != 255 on a multicast advert (RFC 5798 §7.1)
  kVersion,       // not the configured version (v2 and v3 do not interoperate)
  kType,          // not an advertisement
  kAddressCount,  // the address count does not fit the packet length
  kChecksum,      // RFC 5798 §7.1 / RFC 3768 §7.1
  kVrid,          // another virtual router
  kDestination,   // multicast advert on a unicast instance, or the reverse
  kAuthType,      // v2: auth type differs from ours (RFC 3768 §7.1)
  kAuthPassword,  // v2: simple password differs
  kInterval,      // v2: advert interval differs from ours (RFC 3768 §7.1)
};
inline constexpr size_t kDropReasonCount = 12;
const char* ToString(DropReason reason);

// What this router expects of a peer's advert.
struct RxPolicy {
  int version = 3;
  uint8_t vrid = 0;
  std::string auth_pass;              // v2: empty = auth type 0
  int interval_cs = 100;              // ours; v2 requires equality, v3 only notes a mismatch
  bool unicast = false;               // unicast_peers configured: no TTL check, unicast destination
  std::vector<uint32_t> virtual_ips;  // ours, to note count/list mismatches
  // v3 unicast: accept the pre-1.3 keepalived checksum computed with
  // 224.0.0.18 as pseudo-header destination. Default: true.
  bool accept_old_unicast_checksum = true;
};

struct Decoded {
  std::optional<DropReason> drop;  // set: the packet must be ignored (and counted)
  Advert advert;                   // valid when !drop
  uint32_t source = 0;             // IP source
  uint32_t destination = 0;        // IP destination
  uint8_t ttl = 0;
  // Accepted anyway, as keepalived does outside vrrp_strict (logged, counted):
  bool address_mismatch = false;   // count or list differs from ours
  bool interval_mismatch = false;  // v3: master's interval differs from ours
  bool old_unicast_checksum = false;
};

// `packet` starts at the IPv4 header (a raw IPPROTO_VRRP socket's read).
Decoded DecodeIpPacket(std::span<const uint8_t> packet, const RxPolicy& policy);

// The 8 auth bytes for a v2 simple password: the text, NUL-padded.
std::array<uint8_t, kAuthDataSize> AuthData(const std::string& pass);

}  // namespace lbd::vrrp

#endif  // LBD_VRRP_ADVERT_H_
