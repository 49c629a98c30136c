// Unit tests of lbd_packet: checksums, the parser, the IPVS TCP state table
// and the flow table. No sockets, no devices.
#include "lbd/packet/packet.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "lbd/packet/checksum.h"
#include "lbd/packet/flow_table.h"
#include "lbd/packet/tcp_state.h"

namespace lbd {
namespace {

// A TCP or UDP packet with correct checksums, `payload` random bytes.
std::vector<uint8_t> MakePacket(std::mt19937& rng, uint8_t protocol, size_t payload,
                                uint8_t tcp_flags = kTcpAck) {
  const size_t l4_len = (protocol == kProtoTcp ? 20 : 8) + payload;
  std::vector<uint8_t> p(20 + l4_len);
  WriteIpv4Header(p.data(), protocol, rng(), rng(), static_cast<uint16_t>(p.size()), true, 64);
  uint8_t* l4 = p.data() + 20;
  for (size_t i = 0; i < l4_len; ++i) l4[i] = static_cast<uint8_t>(rng());
  if (protocol == kProtoTcp) {
    l4[12] = 5 << 4;
    l4[13] = tcp_flags;
    l4[16] = l4[17] = 0;
  } else {
    const uint16_t len = htons(static_cast<uint16_t>(l4_len));
    std::memcpy(l4 + 4, &len, 2);
    l4[6] = l4[7] = 0;
  }
  // Pseudo-header (RFC 9293 §3.1, RFC 768).
  uint8_t pseudo[12];
  std::memcpy(pseudo, p.data() + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = protocol;
  const uint16_t len = htons(static_cast<uint16_t>(l4_len));
  std::memcpy(pseudo + 10, &len, 2);
  uint16_t sum = InternetChecksum(l4, l4_len, ChecksumPartial(pseudo, 12));
  if (protocol == kProtoUdp && sum == 0) sum = 0xffff;
  std::memcpy(l4 + (protocol == kProtoTcp ? 16 : 6), &sum, 2);
  return p;
}

// Sum over the transport part including its pseudo-header: 0xffff if valid.
uint16_t VerifyL4(const std::vector<uint8_t>& p) {
  const size_t l4_len = p.size() - 20;
  uint8_t pseudo[12];
  std::memcpy(pseudo, p.data() + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = p[9];
  const uint16_t len = htons(static_cast<uint16_t>(l4_len));
  std::memcpy(pseudo + 10, &len, 2);
  return ChecksumFold(ChecksumPartial(p.data() + 20, l4_len, ChecksumPartial(pseudo, 12)));
}

TEST(Checksum, KnownVector) {
  // RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
  const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(ntohs(ChecksumFold(ChecksumPartial(data, sizeof(data)))), 0xddf2);
}

// The RFC 1071 sum written the plain way, independent of ChecksumPartial's
// four-bytes-at-a-time loop: big-endian 16-bit words, an odd last byte as the
// high byte of a word padded with zero, carries folded at once. Returns the
// folded sum in host order.
uint16_t ReferenceSum(const std::vector<uint8_t>& bytes) {
  uint32_t sum = 0;
  for (size_t i = 0; i < bytes.size(); i += 2) {
    const uint32_t high = bytes[i];
    const uint32_t low = i + 1 < bytes.size() ? bytes[i + 1] : 0;
    sum += (high << 8) | low;
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(sum);
}

uint16_t SumOf(const std::vector<uint8_t>& bytes, uint32_t initial = 0) {
  return ntohs(ChecksumFold(ChecksumPartial(bytes.data(), bytes.size(), initial)));
}

TEST(Checksum, HandVectorsWithOddLengths) {
  struct Vector {
    std::vector<uint8_t> bytes;
    uint16_t sum;  // folded, host order; the checksum field is its complement
  };
  const Vector vectors[] = {
      {{}, 0x0000},
      {{0x01}, 0x0100},                          // 0x0100 (padded)
      {{0x00, 0x01, 0xf2}, 0xf201},              // 0x0001 + 0xf200
      {{0xff, 0xff, 0xff}, 0xff00},              // 0xffff + 0xff00 = 0x1feff -> 0xff00
      {{0xff, 0xff, 0xff, 0xff, 0xff}, 0xff00},  // 0x1fffe + 0xff00 = 0x2fefe -> 0xff00
      {{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0xab},
       0x88f3},  // RFC 1071 §3's 0xddf2 + 0xab00 = 0x188f2 -> 0x88f3
      {{0x80, 0x00, 0x80, 0x00, 0x80}, 0x8001},  // 0x10000 + 0x8000 -> 0x0001 + 0x8000
  };
  for (const Vector& v : vectors) {
    EXPECT_EQ(SumOf(v.bytes), v.sum) << v.bytes.size() << " bytes";
    EXPECT_EQ(ReferenceSum(v.bytes), v.sum) << v.bytes.size() << " bytes";
    EXPECT_EQ(ntohs(InternetChecksum(v.bytes.data(), v.bytes.size())),
              static_cast<uint16_t>(~v.sum));
  }
}

TEST(Checksum, AnIpv4HeaderByHand) {
  // 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7: the words sum to
  // 0x2479c -> 0x479c + 2 = 0x479e, complement 0xb861.
  const std::vector<uint8_t> header = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                       0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(ntohs(InternetChecksum(header.data(), header.size())), 0xb861);
  // Destination 192.168.0.199 -> 192.168.0.2: 0x2479c - 0xc7 + 0x02 = 0x246d7
  // -> 0x46d7 + 2 = 0x46d9, complement 0xb926.
  EXPECT_EQ(ChecksumAdjust32(0xb861, 0xc0a800c7u, 0xc0a80002u), 0xb926);
  EXPECT_EQ(ChecksumAdjust16(0xb861, 0x00c7, 0x0002), 0xb926);
}

TEST(Checksum, Rfc1624Example) {
  // RFC 1624 §4: HC 0xdd2f, m 0x5555 -> m' 0x3285. Eqn. 3:
  // ~(~0xdd2f + ~0x5555 + 0x3285) = ~(0x22d0 + 0xaaaa + 0x3285) = ~0xffff = 0x0000
  // (eqn. 2 of RFC 1141 would give the -0 form 0xffff).
  EXPECT_EQ(ChecksumAdjust16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

TEST(Checksum, ChainedPartialSumsMatchTheReference) {
  std::mt19937 rng(1071);
  for (int i = 0; i < 500; ++i) {
    std::vector<uint8_t> a(rng() % 40), b(rng() % 41);
    for (auto& x : a) x = static_cast<uint8_t>(rng());
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    // One buffer, and the reference over it.
    std::vector<uint8_t> whole = a;
    whole.insert(whole.end(), b.begin(), b.end());
    EXPECT_EQ(SumOf(whole), ReferenceSum(whole)) << whole.size();
    // Chained: a's sum carried into b's. An odd `a` is padded with zero, so
    // the chain equals the reference over a, a zero byte, then b.
    std::vector<uint8_t> padded = a;
    if (padded.size() % 2 == 1) padded.push_back(0);
    padded.insert(padded.end(), b.begin(), b.end());
    const uint32_t first = ChecksumPartial(a.data(), a.size());
    EXPECT_LT(first, 1u << 17);  // the documented bound that makes chaining safe
    EXPECT_EQ(SumOf(b, first), ReferenceSum(padded)) << a.size() << "+" << b.size();
  }
  // 7 x 0xff: 3 x 0xffff + 0xff00 = 0x3fefd -> 0xfefd + 3 = 0xff00. A
  // carried-in unfolded 0x1fffe (0xffff once folded, the same in either byte
  // order) adds one's complement zero: 0xff00 + 0xffff = 0x1feff -> 0xff00.
  const std::vector<uint8_t> ones(7, 0xff);
  EXPECT_EQ(ReferenceSum(ones), 0xff00);
  EXPECT_EQ(SumOf(ones), 0xff00);
  EXPECT_EQ(SumOf(ones, 0x1fffe), 0xff00);
}

TEST(Checksum, IncrementalMatchesFullRecompute) {
  std::mt19937 rng(1624);
  for (int i = 0; i < 2000; ++i) {
    const uint8_t proto = (i % 2) ? kProtoTcp : kProtoUdp;
    auto p = MakePacket(rng, proto, rng() % 1400);
    PacketView v;
    DropReason reason;
    ASSERT_TRUE(ParsePacket(p.data(), p.size(), &v, &reason));
    if (i % 3 == 0) {
      RewriteSource(&v, rng(), static_cast<uint16_t>(rng()));
    } else {
      RewriteDestination(&v, rng(), static_cast<uint16_t>(rng()));
    }
    // IP header: incremental equals a full recompute (RFC 1624 eqn. 3 never
    // yields -0 here because the header always has non-zero words).
    uint16_t stored;
    std::memcpy(&stored, p.data() + 10, 2);
    p[10] = p[11] = 0;
    EXPECT_EQ(stored, InternetChecksum(p.data(), 20)) << i;
    std::memcpy(p.data() + 10, &stored, 2);
    // Transport: the packet verifies.
    EXPECT_EQ(VerifyL4(p), 0xffff) << i;
    // And equals a full recompute, up to the +0/-0 ambiguity.
    const size_t off = 20 + (proto == kProtoTcp ? 16 : 6);
    uint16_t l4_stored;
    std::memcpy(&l4_stored, p.data() + off, 2);
    p[off] = p[off + 1] = 0;
    uint16_t full = static_cast<uint16_t>(~VerifyL4(p));
    if (proto == kProtoUdp && full == 0) full = 0xffff;
    if (!((l4_stored == 0 && full == 0xffff) || (l4_stored == 0xffff && full == 0))) {
      EXPECT_EQ(l4_stored, full) << i;
    }
  }
}

// CHECKSUM_PARTIAL (a GSO packet from a tun with IFF_VNET_HDR): the field
// holds the uncomplemented pseudo-header sum; after the rewrite, completing the
// checksum as the device would (sum from the L4 header on, complemented) must
// give a valid packet.
TEST(Checksum, PartialChecksumRewriteCompletesToValid) {
  std::mt19937 rng(2460);
  for (int i = 0; i < 500; ++i) {
    const uint8_t proto = (i % 2) ? kProtoTcp : kProtoUdp;
    auto p = MakePacket(rng, proto, rng() % 1400);
    const size_t off = 20 + (proto == kProtoTcp ? 16 : 6);
    const size_t l4_len = p.size() - 20;
    uint8_t pseudo[12];
    std::memcpy(pseudo, p.data() + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = proto;
    const uint16_t len = htons(static_cast<uint16_t>(l4_len));
    std::memcpy(pseudo + 10, &len, 2);
    const uint16_t partial_sum = ChecksumFold(ChecksumPartial(pseudo, 12));
    std::memcpy(p.data() + off, &partial_sum, 2);
    PacketView v;
    DropReason reason;
    ASSERT_TRUE(ParsePacket(p.data(), p.size(), &v, &reason));
    if (i % 3 == 0) {
      RewriteSource(&v, rng(), static_cast<uint16_t>(rng()), /*checksum_partial=*/true);
    } else {
      RewriteDestination(&v, rng(), static_cast<uint16_t>(rng()), /*checksum_partial=*/true);
    }
    const uint16_t done = InternetChecksum(p.data() + 20, l4_len);
    std::memcpy(p.data() + off, &done, 2);
    EXPECT_EQ(VerifyL4(p), 0xffff) << i;
    EXPECT_EQ(InternetChecksum(p.data(), 20), 0) << i;
  }
}

// A partial checksum (the field holds the pseudo-header sum) completed in
// place equals the original full checksum.
TEST(Checksum, CompleteChecksumGivesTheFullOne) {
  std::mt19937 rng(99);
  for (int i = 0; i < 200; ++i) {
    const uint8_t proto = (i % 2) ? kProtoTcp : kProtoUdp;
    auto p = MakePacket(rng, proto, rng() % 1400);
    const size_t field = proto == kProtoTcp ? 16 : 6;
    const size_t l4_len = p.size() - 20;
    uint8_t pseudo[12];
    std::memcpy(pseudo, p.data() + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = proto;
    const uint16_t len = htons(static_cast<uint16_t>(l4_len));
    std::memcpy(pseudo + 10, &len, 2);
    const uint16_t partial_sum = ChecksumFold(ChecksumPartial(pseudo, 12));
    std::memcpy(p.data() + 20 + field, &partial_sum, 2);
    ASSERT_TRUE(CompleteChecksum(p.data(), p.size(), 20, field, proto == kProtoUdp));
    EXPECT_EQ(VerifyL4(p), 0xffff) << i;
  }
  std::vector<uint8_t> small(30);
  EXPECT_FALSE(CompleteChecksum(small.data(), small.size(), 30, 0, false));
  EXPECT_FALSE(CompleteChecksum(small.data(), small.size(), 20, 9, false));
}

// A GSO super-packet cut like tcp_gso_segment(): valid checksums, ids and
// sequence numbers that advance, flags only where they belong, the payload
// intact.
TEST(Segmentation, TcpSegmentsAreValidAndCarryThePayload) {
  std::mt19937 rng(5);
  for (size_t payload : {0u, 1u, 1447u, 1448u, 1449u, 5000u, 64000u}) {
    auto p = MakePacket(rng, kProtoTcp, payload, kTcpAck | kTcpPsh | kTcpFin | kTcpCwr);
    PacketView v;
    DropReason reason;
    ASSERT_TRUE(ParsePacket(p.data(), p.size(), &v, &reason));
    ASSERT_EQ(TcpHeadersLen(v), 40u);
    const size_t mss = 1448;
    const size_t count = TcpSegmentCount(v, mss);
    EXPECT_EQ(count, payload == 0 ? 1 : (payload + mss - 1) / mss);
    uint32_t seq0;
    std::memcpy(&seq0, p.data() + 24, 4);
    std::vector<uint8_t> joined;
    for (size_t k = 0; k < count; ++k) {
      std::vector<uint8_t> seg(kMaxTcpHeaders);
      const size_t n = WriteTcpSegmentHeaders(v, mss, k, seg.data());
      seg.resize(40);
      seg.insert(seg.end(), p.begin() + 40 + static_cast<long>(k * mss),
                 p.begin() + 40 + static_cast<long>(k * mss + n));
      joined.insert(joined.end(), seg.begin() + 40, seg.end());
      EXPECT_EQ(InternetChecksum(seg.data(), 20), 0) << payload << " " << k;
      EXPECT_EQ(VerifyL4(seg), 0xffff) << payload << " " << k;
      uint16_t total;
      std::memcpy(&total, seg.data() + 2, 2);
      EXPECT_EQ(ntohs(total), seg.size());
      uint32_t seq;
      std::memcpy(&seq, seg.data() + 24, 4);
      EXPECT_EQ(ntohl(seq), ntohl(seq0) + k * mss);
      const bool last = k + 1 == count;
      EXPECT_EQ((seg[33] & (kTcpFin | kTcpPsh)) != 0, last) << k;
      EXPECT_EQ((seg[33] & kTcpCwr) != 0, k == 0) << k;
      EXPECT_NE(seg[33] & kTcpAck, 0);
    }
    EXPECT_TRUE(std::equal(joined.begin(), joined.end(), p.begin() + 40, p.end())) << payload;
    EXPECT_EQ(joined.size(), payload);
  }
  // A data offset beyond the packet, or below 5: nothing to cut.
  std::mt19937 rng2(6);
  auto bad = MakePacket(rng2, kProtoTcp, 10);
  PacketView v;
  DropReason reason;
  ASSERT_TRUE(ParsePacket(bad.data(), bad.size(), &v, &reason));
  bad[32] = 15 << 4;
  EXPECT_EQ(TcpSegmentCount(v, 1448), 0u);
  bad[32] = 4 << 4;
  EXPECT_EQ(TcpSegmentCount(v, 1448), 0u);
  bad[32] = 5 << 4;
  EXPECT_EQ(TcpSegmentCount(v, 0), 0u);
}

TEST(Checksum, UdpWithoutChecksumStaysWithout) {
  std::mt19937 rng(7);
  auto p = MakePacket(rng, kProtoUdp, 10);
  p[26] = p[27] = 0;
  PacketView v;
  DropReason reason;
  ASSERT_TRUE(ParsePacket(p.data(), p.size(), &v, &reason));
  RewriteDestination(&v, 0x0a000001, 80);
  EXPECT_EQ(p[26], 0);
  EXPECT_EQ(p[27], 0);
}

TEST(Parser, AcceptsAndReadsFields) {
  std::mt19937 rng(1);
  auto p = MakePacket(rng, kProtoTcp, 5, kTcpSyn);
  PacketView v;
  DropReason reason;
  ASSERT_TRUE(ParsePacket(p.data(), p.size(), &v, &reason));
  EXPECT_EQ(v.protocol, kProtoTcp);
  EXPECT_EQ(v.tcp_flags, kTcpSyn);
  EXPECT_EQ(v.len, p.size());
  EXPECT_TRUE(v.dont_fragment);
  // Trailing padding (an Ethernet minimum frame) is ignored.
  p.resize(p.size() + 10);
  ASSERT_TRUE(ParsePacket(p.data(), p.size(), &v, &reason));
  EXPECT_EQ(v.len, p.size() - 10);
}

TEST(Parser, Rejections) {
  std::mt19937 rng(2);
  const auto good = MakePacket(rng, kProtoTcp, 0);
  struct Case {
    const char* name;
    void (*mutate)(std::vector<uint8_t>&);
    DropReason want;
  };
  const Case cases[] = {
      {"short", [](std::vector<uint8_t>& p) { p.resize(19); }, DropReason::kTooShort},
      {"v6", [](std::vector<uint8_t>& p) { p[0] = 0x65; }, DropReason::kBadVersion},
      {"ihl4", [](std::vector<uint8_t>& p) { p[0] = 0x44; }, DropReason::kBadIhl},
      {"ihl15", [](std::vector<uint8_t>& p) { p[0] = 0x4f; }, DropReason::kBadIhl},
      {"total>len", [](std::vector<uint8_t>& p) { p[2] = 0x7f; }, DropReason::kBadTotalLength},
      {"total<ihl",
       [](std::vector<uint8_t>& p) {
         p[2] = 0;
         p[3] = 10;
       },
       DropReason::kBadTotalLength},
      {"mf", [](std::vector<uint8_t>& p) { p[6] = 0x20; }, DropReason::kFragment},
      {"offset",
       [](std::vector<uint8_t>& p) {
         p[6] = 0;
         p[7] = 1;
       },
       DropReason::kFragment},
      {"tcp truncated",
       [](std::vector<uint8_t>& p) {
         p.resize(30);
         p[2] = 0;
         p[3] = 30;
       },
       DropReason::kTruncatedL4},
      {"tcp doff 4", [](std::vector<uint8_t>& p) { p[32] = 4 << 4; }, DropReason::kTruncatedL4},
      {"tcp doff 15", [](std::vector<uint8_t>& p) { p[32] = 15 << 4; }, DropReason::kTruncatedL4},
      {"icmp", [](std::vector<uint8_t>& p) { p[9] = kProtoIcmp; },
       DropReason::kUnsupportedProtocol},
      {"udp len",
       [](std::vector<uint8_t>& p) {
         p[9] = kProtoUdp;
         p[24] = 0xff;
       },
       DropReason::kTruncatedL4},
  };
  for (const Case& c : cases) {
    auto p = good;
    c.mutate(p);
    PacketView v;
    DropReason reason = DropReason::kCount;
    EXPECT_FALSE(ParsePacket(p.data(), p.size(), &v, &reason)) << c.name;
    EXPECT_EQ(reason, c.want) << c.name << ": " << ToString(reason);
  }
}

TEST(Parser, RandomBytesNeverCrash) {
  std::mt19937 rng(3);
  std::vector<uint8_t> buf(128);
  for (int i = 0; i < 100000; ++i) {
    const size_t len = rng() % buf.size();
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    if (i % 2) buf[0] = static_cast<uint8_t>(0x40 | (buf[0] & 0x0f));
    PacketView v;
    DropReason reason;
    if (ParsePacket(buf.data(), len, &v, &reason)) {
      EXPECT_LE(v.len, len);
      EXPECT_LE(v.l4_offset + 8, v.len);
    }
  }
}

TEST(Icmp, FragNeededQuotesHeaderAndEightBytes) {
  std::mt19937 rng(4);
  auto p = MakePacket(rng, kProtoTcp, 1000);
  PacketView v;
  DropReason reason;
  ASSERT_TRUE(ParsePacket(p.data(), p.size(), &v, &reason));
  uint8_t out[kIcmpFragNeededMax];
  const size_t n = BuildIcmpFragNeeded(v, 0x0a000001, 1480, out);
  ASSERT_EQ(n, 20u + 8 + 20 + 8);
  EXPECT_EQ(out[9], kProtoIcmp);
  EXPECT_EQ(out[20], 3);
  EXPECT_EQ(out[21], 4);
  EXPECT_EQ((out[26] << 8) | out[27], 1480);
  EXPECT_EQ(InternetChecksum(out, 20), 0);
  EXPECT_EQ(InternetChecksum(out + 20, n - 20), 0);
  EXPECT_EQ(std::memcmp(out + 28, p.data(), 28), 0);
  // Addressed back to the sender.
  EXPECT_EQ(std::memcmp(out + 16, p.data() + 12, 4), 0);
}

TEST(TcpState, ThreeWayHandshakeAndCloseInNat) {
  TcpState s = TcpState::kNone;
  s = NextTcpState(s, TcpDirection::kInput, kTcpSyn);
  EXPECT_EQ(s, TcpState::kSynRecv);
  s = NextTcpState(s, TcpDirection::kOutput, kTcpSyn | kTcpAck);  // syn wins over ack
  EXPECT_EQ(s, TcpState::kSynRecv);
  s = NextTcpState(s, TcpDirection::kInput, kTcpAck);
  EXPECT_EQ(s, TcpState::kEstablished);
  s = NextTcpState(s, TcpDirection::kInput, kTcpFin | kTcpAck);
  EXPECT_EQ(s, TcpState::kCloseWait);
  s = NextTcpState(s, TcpDirection::kOutput, kTcpFin | kTcpAck);
  EXPECT_EQ(s, TcpState::kTimeWait);
  s = NextTcpState(s, TcpDirection::kInput, kTcpAck);
  EXPECT_EQ(s, TcpState::kTimeWait);
}

TEST(TcpState, ServerClosesFirstInNat) {
  TcpState s = TcpState::kEstablished;
  s = NextTcpState(s, TcpDirection::kOutput, kTcpFin | kTcpAck);
  EXPECT_EQ(s, TcpState::kFinWait);
  s = NextTcpState(s, TcpDirection::kInput, kTcpAck);
  EXPECT_EQ(s, TcpState::kFinWait);
  s = NextTcpState(s, TcpDirection::kInput, kTcpFin | kTcpAck);
  EXPECT_EQ(s, TcpState::kTimeWait);
}

TEST(TcpState, InputOnlyForDrAndTun) {
  TcpState s = NextTcpState(TcpState::kNone, TcpDirection::kInputOnly, kTcpSyn);
  EXPECT_EQ(s, TcpState::kSynRecv);
  s = NextTcpState(s, TcpDirection::kInputOnly, kTcpAck);
  EXPECT_EQ(s, TcpState::kEstablished);
  // In input-only, the client's FIN means FIN_WAIT (not CLOSE_WAIT as in INPUT).
  s = NextTcpState(s, TcpDirection::kInputOnly, kTcpFin | kTcpAck);
  EXPECT_EQ(s, TcpState::kFinWait);
  s = NextTcpState(s, TcpDirection::kInputOnly, kTcpAck);
  EXPECT_EQ(s, TcpState::kFinWait);
  EXPECT_EQ(NextTcpState(TcpState::kSynAck, TcpDirection::kInputOnly, kTcpRst), TcpState::kClose);
  EXPECT_EQ(NextTcpState(TcpState::kSynAck, TcpDirection::kInput, kTcpRst), TcpState::kSynRecv);
}

TEST(TcpState, RstAndNoFlagsAndFullTable) {
  EXPECT_EQ(NextTcpState(TcpState::kEstablished, TcpDirection::kInput, kTcpRst | kTcpAck),
            TcpState::kClose);
  EXPECT_EQ(NextTcpState(TcpState::kEstablished, TcpDirection::kInput, 0), TcpState::kEstablished);
  EXPECT_EQ(NextTcpState(TcpState::kNone, TcpDirection::kOutput, kTcpSyn), TcpState::kSynSent);
  EXPECT_EQ(NextTcpState(TcpState::kLastAck, TcpDirection::kInput, kTcpAck), TcpState::kClose);
  EXPECT_EQ(NextTcpState(TcpState::kListen, TcpDirection::kOutput, kTcpAck),
            TcpState::kEstablished);
  EXPECT_STREQ(ToString(TcpState::kTimeWait), "TIME_WAIT");
}

TEST(TcpState, Timeouts) {
  FlowTimeouts t;
  EXPECT_EQ(TcpTimeout(t, TcpState::kEstablished).count(), 900);
  EXPECT_EQ(TcpTimeout(t, TcpState::kFinWait).count(), 120);
  EXPECT_EQ(TcpTimeout(t, TcpState::kSynRecv).count(), 60);
  EXPECT_EQ(TcpTimeout(t, TcpState::kClose).count(), 10);
  t.tcp = std::chrono::seconds(5);
  EXPECT_EQ(TcpTimeout(t, TcpState::kEstablished).count(), 5);
  EXPECT_EQ(t.udp.count(), 300);
}

FlowKey Key(uint32_t i) { return {0x0a000000u + i, 0x0ac86401, uint16_t(1000 + i), 80, 6}; }
FlowKey ReplyKey(uint32_t i) { return {0x0a00000bu, 0x0a000000u + i, 8080, uint16_t(1000 + i), 6}; }

TEST(FlowTable, InsertFindEraseBothKeys) {
  FlowTable t(16);
  FlowKey rk = ReplyKey(1);
  FlowEntry* e = t.Insert(Key(1), &rk);
  ASSERT_NE(e, nullptr);
  bool is_reply = true;
  EXPECT_EQ(t.Find(Key(1), &is_reply), e);
  EXPECT_FALSE(is_reply);
  EXPECT_EQ(t.Find(rk, &is_reply), e);
  EXPECT_TRUE(is_reply);
  EXPECT_EQ(t.Insert(Key(1), nullptr), nullptr);  // duplicate
  t.Erase(e);
  EXPECT_EQ(t.Find(Key(1), &is_reply), nullptr);
  EXPECT_EQ(t.Find(rk, &is_reply), nullptr);
  EXPECT_EQ(t.size(), 0u);
}

TEST(FlowTable, FullTableRefusesAndRecovers) {
  FlowTable t(100);
  for (uint32_t i = 0; i < 100; ++i) {
    FlowKey rk = ReplyKey(i);
    ASSERT_NE(t.Insert(Key(i), &rk), nullptr) << i;
  }
  EXPECT_EQ(t.size(), 100u);
  EXPECT_EQ(t.Insert(Key(1000), nullptr), nullptr);
  bool r;
  t.Erase(t.Find(Key(50), &r));
  EXPECT_NE(t.Insert(Key(1000), nullptr), nullptr);
  EXPECT_EQ(t.Insert(Key(1001), nullptr), nullptr);
}

TEST(FlowTable, RandomOperationsMatchAModel) {
  std::mt19937 rng(9);
  FlowTable t(512);
  std::vector<bool> present(2048, false);
  size_t count = 0;
  for (int step = 0; step < 200000; ++step) {
    const uint32_t i = rng() % 2048;
    bool r;
    FlowEntry* e = t.Find(Key(i), &r);
    ASSERT_EQ(e != nullptr, present[i]) << step;
    if (e != nullptr) {
      FlowEntry* e2 = t.Find(ReplyKey(i), &r);
      ASSERT_EQ(e2, e);
      ASSERT_TRUE(r);
      t.Erase(e);
      present[i] = false;
      --count;
    } else {
      FlowKey rk = ReplyKey(i);
      FlowEntry* n = t.Insert(Key(i), &rk);
      if (count == 512) {
        ASSERT_EQ(n, nullptr);
      } else {
        ASSERT_NE(n, nullptr);
        present[i] = true;
        ++count;
      }
    }
    ASSERT_EQ(t.size(), count);
  }
}

TEST(FlowTable, ExpireSomeSweepsIncrementally) {
  FlowTable t(10);
  for (uint32_t i = 0; i < 10; ++i) {
    FlowEntry* e = t.Insert(Key(i), nullptr);
    ASSERT_NE(e, nullptr);
    e->expires_ns = i < 5 ? 100 : 1000;
  }
  size_t called = 0;
  size_t erased = 0;
  for (int round = 0; round < 5; ++round) {
    erased += t.ExpireSome(500, 2, [&](const FlowEntry& e) {
      EXPECT_LE(e.expires_ns, 500);
      ++called;
    });
  }
  EXPECT_EQ(erased, 5u);
  EXPECT_EQ(called, 5u);
  EXPECT_EQ(t.size(), 5u);
}

}  // namespace
}  // namespace lbd
