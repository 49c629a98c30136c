// Md5: the RFC 1321 appendix A.5 test suite, plus block-boundary splits.
#include "md5.h"

#include <gtest/gtest.h>

#include <string>

namespace lbd {
namespace {

TEST(Md5, Rfc1321TestSuite) {
  EXPECT_EQ(Md5::HexDigest(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Md5::HexDigest("a"), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(Md5::HexDigest("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Md5::HexDigest("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(Md5::HexDigest("abcdefghijklmnopqrstuvwxyz"), "c3fcd3d76192e4007dfb496cca67e13b");
  EXPECT_EQ(Md5::HexDigest("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            "d174ab98d277d9f5a5611c2c9f419d9f");
  EXPECT_EQ(Md5::HexDigest("1234567890123456789012345678901234567890123456789012345678901234567890"
                           "1234567890"),
            "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(Md5, IncrementalEqualsOneShotAcrossBlockBoundaries) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>(i * 7 + 3);
  const std::string whole = Md5::HexDigest(data);
  for (size_t step : {1u, 3u, 55u, 56u, 63u, 64u, 65u, 127u, 999u}) {
    Md5 md5;
    for (size_t i = 0; i < data.size(); i += step)
      md5.Update(std::string_view(data).substr(i, step));
    EXPECT_EQ(md5.FinishHex(), whole) << "step " << step;
  }
  // Lengths around the padding boundary (55, 56, 64 bytes).
  // (md5sum of that many 'x')
  EXPECT_EQ(Md5::HexDigest(std::string(55, 'x')), "04364420e25c512fd958a70738aa8f72");
  EXPECT_EQ(Md5::HexDigest(std::string(56, 'x')), "668a72d5ba17f08e62dabcafad6db14b");
  EXPECT_EQ(Md5::HexDigest(std::string(64, 'x')), "c1bb4f81d892b2d57947682aeb252456");
}

}  // namespace
}  // namespace lbd
