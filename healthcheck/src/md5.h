// Internal header of lbd_healthcheck.
//
// MD5 (RFC 1321), for keepalived-compatible HTTP body digests. Not for
// security: MD5 is broken as a cryptographic hash; here it only compares a
// page with what the operator expects.
//
// Thread-safety: plain value.
#ifndef LBD_HEALTHCHECK_MD5_H_
#define LBD_HEALTHCHECK_MD5_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace lbd {

class Md5 {
 public:
  Md5();
  void Update(std::string_view data);
  // The digest; the object must not be updated afterwards.
  std::array<uint8_t, 16> Finish();
  // Finish() as 32 lower-case hex digits.
  std::string FinishHex();

  static std::string HexDigest(std::string_view data);

 private:
  void Transform(const uint8_t block[64]);

  uint32_t state_[4];
  uint64_t length_ = 0;  // bytes
  uint8_t buffer_[64];
  size_t buffered_ = 0;
};

}  // namespace lbd

#endif  // LBD_HEALTHCHECK_MD5_H_
