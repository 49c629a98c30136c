// Public header of lbd_packet.
//
// The Internet checksum (RFC 1071) and its incremental update (RFC 1624),
// used to rewrite addresses and ports without summing the whole packet again.
// Every 16-bit value is taken as it is stored in the packet (network byte
// order); the one's complement sum does not depend on the byte order as long
// as all words are read the same way (RFC 1071 §2(B)).
//
// Thread-safety: pure functions.
#ifndef LBD_PACKET_CHECKSUM_H_
#define LBD_PACKET_CHECKSUM_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lbd {

// One's complement sum of `len` bytes (odd tail padded with zero), added to
// `sum`; not complemented, and folded only as far as keeps it below 2^17, so
// that callers may chain partial sums and fold once. Reads four bytes at a
// time into 64 bits: the same sum once folded (RFC 1071 §2(B) byte order
// independence, §2(C) deferred carries).
inline uint32_t ChecksumPartial(const uint8_t* data, size_t len, uint32_t sum = 0) {
  uint64_t wide = sum;
  while (len >= 4) {
    uint32_t word;
    std::memcpy(&word, data, 4);
    wide += word;
    data += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t word;
    std::memcpy(&word, data, 2);
    wide += word;
    data += 2;
    len -= 2;
  }
  if (len == 1) {
    uint16_t word = 0;
    std::memcpy(&word, data, 1);
    wide += word;
  }
  while (wide >> 32) wide = (wide & 0xffffffffu) + (wide >> 32);
  return static_cast<uint32_t>((wide & 0xffff) + (wide >> 16));
}

inline uint16_t ChecksumFold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// The checksum field value for `len` bytes (RFC 1071), as stored.
inline uint16_t InternetChecksum(const uint8_t* data, size_t len, uint32_t sum = 0) {
  return static_cast<uint16_t>(~ChecksumFold(ChecksumPartial(data, len, sum)));
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word m -> m'.
inline uint16_t ChecksumAdjust16(uint16_t check, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = static_cast<uint16_t>(~check);
  sum += static_cast<uint16_t>(~old_word);
  sum += new_word;
  return static_cast<uint16_t>(~ChecksumFold(sum));
}

// The same for a 32-bit field (an IPv4 address), as two 16-bit words.
inline uint16_t ChecksumAdjust32(uint16_t check, uint32_t old_value, uint32_t new_value) {
  uint32_t sum = static_cast<uint16_t>(~check);
  sum += static_cast<uint16_t>(~(old_value & 0xffff));
  sum += static_cast<uint16_t>(~(old_value >> 16));
  sum += new_value & 0xffff;
  sum += new_value >> 16;
  return static_cast<uint16_t>(~ChecksumFold(sum));
}

}  // namespace lbd

#endif  // LBD_PACKET_CHECKSUM_H_
