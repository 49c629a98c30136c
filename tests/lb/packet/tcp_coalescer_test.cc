// Unit tests of TcpCoalescer (lbd-tunnel's user-space TCP GRO) on hand-made
// packets: what merges, what must not, and that a merged packet is the
// original GSO packet again. No sockets, no devices.
#include "tcp_coalescer.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <iterator>
#include <random>
#include <vector>

#include "lbd/packet/checksum.h"
#include "lbd/packet/packet.h"

namespace lbd {
namespace {

constexpr uint8_t kTcpUrg = 0x20;
constexpr uint8_t kTcpEce = 0x40;

void Put16(uint8_t* p, uint16_t v) {
  v = htons(v);
  std::memcpy(p, &v, 2);
}
void Put32(uint8_t* p, uint32_t v) {
  v = htonl(v);
  std::memcpy(p, &v, 4);
}
uint16_t Get16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return ntohs(v);
}
uint32_t Get32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return ntohl(v);
}

// One TCP segment; the payload byte at sequence number s is (s * 7) & 0xff,
// so merged payloads can be checked.
constexpr uint8_t kTimestamps[12] = {1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 9};  // NOP NOP TS

struct Seg {
  uint32_t src = 0x0a0a0a01, dst = 0x0a0a0a02;
  uint16_t sport = 40000, dport = 5201;
  uint32_t seq = 1000, ack = 77;
  uint16_t window = 500;
  uint8_t flags = kTcpAck;
  uint8_t ttl = 63, tos = 0;
  bool df = true;
  uint16_t id = 1;
  size_t payload = 1448;
  std::vector<uint8_t> options{std::begin(kTimestamps), std::end(kTimestamps)};
  std::vector<uint8_t> ip_options;
};

std::vector<uint8_t> Make(const Seg& s) {
  const size_t ihl = 20 + s.ip_options.size();
  const size_t thl = 20 + s.options.size();
  std::vector<uint8_t> p(ihl + thl + s.payload);
  WriteIpv4Header(p.data(), kProtoTcp, s.src, s.dst, static_cast<uint16_t>(p.size()), s.df, s.ttl);
  p[0] = static_cast<uint8_t>(0x40 | (ihl / 4));
  p[1] = s.tos;
  Put16(p.data() + 4, s.id);
  if (!s.ip_options.empty()) std::memcpy(p.data() + 20, s.ip_options.data(), s.ip_options.size());
  Put16(p.data() + 10, 0);
  const uint16_t ip_check = InternetChecksum(p.data(), ihl);
  std::memcpy(p.data() + 10, &ip_check, 2);
  uint8_t* t = p.data() + ihl;
  Put16(t, s.sport);
  Put16(t + 2, s.dport);
  Put32(t + 4, s.seq);
  Put32(t + 8, s.ack);
  t[12] = static_cast<uint8_t>((thl / 4) << 4);
  t[13] = s.flags;
  Put16(t + 14, s.window);
  if (!s.options.empty()) std::memcpy(t + 20, s.options.data(), s.options.size());
  for (size_t i = 0; i < s.payload; ++i) {
    t[thl + i] = static_cast<uint8_t>((s.seq + i) * 7);
  }
  uint8_t pseudo[12];
  std::memcpy(pseudo, p.data() + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = kProtoTcp;
  Put16(pseudo + 10, static_cast<uint16_t>(thl + s.payload));
  const uint16_t sum = InternetChecksum(t, thl + s.payload, ChecksumPartial(pseudo, 12));
  std::memcpy(t + 16, &sum, 2);
  return p;
}

// The virtio_net_hdr and the packet of one output.
struct Out {
  uint8_t flags = 0, gso_type = 0;
  uint16_t hdr_len = 0, gso_size = 0, csum_start = 0, csum_offset = 0;
  std::vector<uint8_t> packet;
  size_t segments = 0;
};

// Adds `packets` (kept alive by the caller) as one batch.
std::vector<Out> Coalesce(TcpCoalescer* c, std::vector<std::vector<uint8_t>>* packets) {
  for (auto& p : *packets) EXPECT_TRUE(c->Add(p.data(), p.size()));
  c->Finish();
  std::vector<Out> outs;
  for (size_t i = 0; i < c->outputs(); ++i) {
    const auto iov = c->Output(i);
    EXPECT_GE(iov.size(), 2u);
    EXPECT_EQ(iov[0].iov_len, TcpCoalescer::kVnetHdrLen);
    Out o;
    const auto* vh = static_cast<const uint8_t*>(iov[0].iov_base);
    o.flags = vh[0];
    o.gso_type = vh[1];
    uint16_t f[4];
    std::memcpy(f, vh + 2, sizeof(f));
    o.hdr_len = f[0];
    o.gso_size = f[1];
    o.csum_start = f[2];
    o.csum_offset = f[3];
    for (size_t k = 1; k < iov.size(); ++k) {
      const auto* b = static_cast<const uint8_t*>(iov[k].iov_base);
      o.packet.insert(o.packet.end(), b, b + iov[k].iov_len);
    }
    o.segments = c->Segments(i);
    outs.push_back(std::move(o));
  }
  c->Clear();
  return outs;
}

// A merged output completed as the kernel would (skb_checksum_help()).
void ExpectMergedValid(const Out& o, size_t payload) {
  ASSERT_EQ(o.flags, 1);            // VIRTIO_NET_HDR_F_NEEDS_CSUM
  EXPECT_EQ(o.gso_type & 0x7f, 1);  // VIRTIO_NET_HDR_GSO_TCPV4
  EXPECT_EQ(o.csum_start, 20);
  EXPECT_EQ(o.csum_offset, 16);
  ASSERT_GE(o.packet.size(), o.hdr_len);
  EXPECT_EQ(o.packet.size() - o.hdr_len, payload);
  EXPECT_EQ(Get16(o.packet.data() + 2), o.packet.size());
  EXPECT_EQ(InternetChecksum(o.packet.data(), 20), 0);  // header checksum verifies
  std::vector<uint8_t> done = o.packet;
  ASSERT_TRUE(CompleteChecksum(done.data(), done.size(), o.csum_start, o.csum_offset, false));
  EXPECT_TRUE(TcpChecksumValid(done.data(), 20, done.size()));
  // The payload is the run of sequence numbers.
  const uint32_t seq = Get32(o.packet.data() + 24);
  for (size_t i = 0; i < payload; ++i) {
    ASSERT_EQ(o.packet[o.hdr_len + i], static_cast<uint8_t>((seq + i) * 7)) << i;
  }
}

TEST(TcpCoalescer, ConsecutiveSegmentsBecomeOneGsoPacket) {
  TcpCoalescer c(64);
  std::vector<std::vector<uint8_t>> pk;
  Seg s;
  for (int k = 0; k < 5; ++k) {
    pk.push_back(Make(s));
    s.seq += 1448;
    ++s.id;
  }
  s.payload = 100;  // a shorter last one
  s.flags = kTcpAck | kTcpPsh;
  pk.push_back(Make(s));
  auto outs = Coalesce(&c, &pk);
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_EQ(outs[0].segments, 6u);
  EXPECT_EQ(outs[0].hdr_len, 20 + 32);
  EXPECT_EQ(outs[0].gso_size, 1448);
  EXPECT_EQ(outs[0].packet[33], kTcpAck | kTcpPsh);  // PSH of the last one
  EXPECT_EQ(Get32(outs[0].packet.data() + 24), 1000u);
  EXPECT_EQ(Get16(outs[0].packet.data() + 4), 1);  // the first one's id
  ExpectMergedValid(outs[0], 5 * 1448 + 100);
}

TEST(TcpCoalescer, UndoesTcpSegmentation) {
  // A 20000-byte GSO packet cut by WriteTcpSegmentHeaders() (what the
  // director sends) comes back as that packet, its checksum partial.
  Seg big;
  big.payload = 20000;
  big.flags = kTcpAck | kTcpPsh;
  std::vector<uint8_t> original = Make(big);
  PacketView v;
  DropReason why;
  ASSERT_TRUE(ParsePacket(original.data(), original.size(), &v, &why));
  const size_t mss = 1448;
  const size_t hdrs = TcpHeadersLen(v);
  std::vector<std::vector<uint8_t>> pk;
  for (size_t k = 0; k < TcpSegmentCount(v, mss); ++k) {
    std::vector<uint8_t> seg(kMaxTcpHeaders + mss);
    const size_t n = WriteTcpSegmentHeaders(v, mss, k, seg.data());
    std::memcpy(seg.data() + hdrs, original.data() + hdrs + k * mss, n);
    seg.resize(hdrs + n);
    pk.push_back(std::move(seg));
  }
  TcpCoalescer c(64);
  auto outs = Coalesce(&c, &pk);
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_EQ(outs[0].gso_size, mss);
  ExpectMergedValid(outs[0], 20000);
  std::vector<uint8_t> done = outs[0].packet;
  ASSERT_TRUE(CompleteChecksum(done.data(), done.size(), 20, 16, false));
  EXPECT_EQ(done, original);
}

TEST(TcpCoalescer, PshEndsARun) {
  TcpCoalescer c(64);
  std::vector<std::vector<uint8_t>> pk;
  Seg s;
  pk.push_back(Make(s));
  s.seq += 1448;
  s.flags = kTcpAck | kTcpPsh;
  pk.push_back(Make(s));
  s.seq += 1448;
  s.flags = kTcpAck;
  pk.push_back(Make(s));
  s.seq += 1448;
  pk.push_back(Make(s));
  auto outs = Coalesce(&c, &pk);
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[0].segments, 2u);
  EXPECT_EQ(outs[1].segments, 2u);
  ExpectMergedValid(outs[0], 2 * 1448);
  ExpectMergedValid(outs[1], 2 * 1448);
  EXPECT_EQ(Get32(outs[1].packet.data() + 24), 1000u + 2 * 1448);
  EXPECT_EQ(outs[1].packet[33], kTcpAck);
}

// Two segments where the second differs by `change`: they must go out as
// two unchanged packets, in order.
void ExpectNotMerged(void (*change)(Seg*), const char* what) {
  SCOPED_TRACE(what);
  TcpCoalescer c(64);
  Seg s;
  std::vector<std::vector<uint8_t>> pk;
  pk.push_back(Make(s));
  s.seq += 1448;
  ++s.id;
  change(&s);
  pk.push_back(Make(s));
  const auto copy = pk;
  auto outs = Coalesce(&c, &pk);
  ASSERT_EQ(outs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(outs[i].flags, 0);
    EXPECT_EQ(outs[i].gso_type, 0);
    EXPECT_EQ(outs[i].segments, 1u);
    EXPECT_EQ(outs[i].packet, copy[i]);
  }
}

TEST(TcpCoalescer, MismatchesAreNotMerged) {
  ExpectNotMerged([](Seg* s) { s->seq += 1; }, "sequence gap");
  ExpectNotMerged([](Seg* s) { s->seq -= 1448; }, "retransmission");
  ExpectNotMerged([](Seg* s) { s->ack += 1; }, "acknowledgment");
  ExpectNotMerged([](Seg* s) { s->window += 1; }, "window");
  ExpectNotMerged([](Seg* s) { s->options[11] = 10; }, "timestamp");
  ExpectNotMerged([](Seg* s) { s->options.resize(8); }, "options length");
  ExpectNotMerged([](Seg* s) { s->ttl = 64; }, "ttl");
  ExpectNotMerged([](Seg* s) { s->tos = 0x03; }, "tos (ECN CE)");
  ExpectNotMerged([](Seg* s) { s->df = false; }, "df");
  ExpectNotMerged([](Seg* s) { s->payload = 1449; }, "payload above gso_size");
  ExpectNotMerged([](Seg* s) { s->flags = kTcpAck | kTcpCwr; }, "cwr");
  ExpectNotMerged([](Seg* s) { s->flags = kTcpAck | kTcpEce; }, "ece");
  ExpectNotMerged([](Seg* s) { s->flags = kTcpAck | kTcpFin; }, "fin");
  ExpectNotMerged([](Seg* s) { s->flags = kTcpAck | kTcpRst; }, "rst");
  ExpectNotMerged([](Seg* s) { s->flags = kTcpAck | kTcpUrg; }, "urg");
  ExpectNotMerged([](Seg* s) { s->flags = kTcpSyn | kTcpAck; }, "syn");
  ExpectNotMerged([](Seg* s) { s->payload = 0; }, "no payload");
  ExpectNotMerged([](Seg* s) { s->sport += 1; }, "another flow");
  ExpectNotMerged([](Seg* s) { s->dst += 1; }, "another address");
  ExpectNotMerged([](Seg* s) { s->ip_options = {1, 1, 1, 0}; }, "ip options");
}

TEST(TcpCoalescer, IdMustFollowWithoutDf) {
  TcpCoalescer c(64);
  Seg s;
  s.df = false;
  std::vector<std::vector<uint8_t>> pk;
  pk.push_back(Make(s));
  s.seq += 1448;
  s.id = 2;  // follows
  pk.push_back(Make(s));
  s.seq += 1448;
  s.id = 9;  // does not
  pk.push_back(Make(s));
  auto outs = Coalesce(&c, &pk);
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[0].segments, 2u);
  EXPECT_EQ(outs[1].segments, 1u);
}

TEST(TcpCoalescer, BadChecksumIsNeitherMergedNorFixed) {
  TcpCoalescer c(64);
  Seg s;
  std::vector<std::vector<uint8_t>> pk;
  pk.push_back(Make(s));
  s.seq += 1448;
  pk.push_back(Make(s));
  pk.back()[100] ^= 1;  // corrupted in transit
  s.seq += 1448;
  pk.push_back(Make(s));
  const auto copy = pk;
  auto outs = Coalesce(&c, &pk);
  // The corrupted one goes alone (the kernel drops it and counts it); the
  // next one does not follow the first any more.
  ASSERT_EQ(outs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(outs[i].packet, copy[i]);
}

TEST(TcpCoalescer, FinEndsTheRunAndKeepsOrder) {
  TcpCoalescer c(64);
  Seg s;
  std::vector<std::vector<uint8_t>> pk;
  pk.push_back(Make(s));
  s.seq += 1448;
  pk.push_back(Make(s));
  s.seq += 1448;
  Seg fin = s;
  fin.flags = kTcpAck | kTcpFin;
  fin.payload = 10;
  pk.push_back(Make(fin));
  s.seq += 10;
  pk.push_back(Make(s));  // after the FIN: never merged before it
  auto outs = Coalesce(&c, &pk);
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_EQ(outs[0].segments, 2u);
  EXPECT_EQ(outs[1].packet[33], kTcpAck | kTcpFin);
  EXPECT_EQ(outs[2].segments, 1u);
  EXPECT_EQ(Get32(outs[2].packet.data() + 24), 1000u + 2 * 1448 + 10);
}

TEST(TcpCoalescer, InterleavedFlowsMergeSeparately) {
  TcpCoalescer c(64);
  Seg a, b;
  b.sport = 40001;
  b.seq = 5000;
  std::vector<std::vector<uint8_t>> pk;
  for (int k = 0; k < 3; ++k) {
    pk.push_back(Make(a));
    pk.push_back(Make(b));
    a.seq += 1448;
    b.seq += 1448;
  }
  Seg udp_like = a;  // an ACK without payload of flow a: ends a's run
  udp_like.payload = 0;
  pk.push_back(Make(udp_like));
  pk.push_back(Make(a));
  auto outs = Coalesce(&c, &pk);
  ASSERT_EQ(outs.size(), 4u);
  EXPECT_EQ(outs[0].segments, 3u);
  EXPECT_EQ(Get16(outs[0].packet.data() + 20), 40000);
  EXPECT_EQ(outs[1].segments, 3u);
  EXPECT_EQ(Get16(outs[1].packet.data() + 20), 40001);
  ExpectMergedValid(outs[0], 3 * 1448);
  ExpectMergedValid(outs[1], 3 * 1448);
  EXPECT_EQ(outs[2].segments, 1u);
  EXPECT_EQ(outs[3].segments, 1u);
}

TEST(TcpCoalescer, StaysWithin64KiB) {
  TcpCoalescer c(64);
  Seg s;
  std::vector<std::vector<uint8_t>> pk;
  for (int k = 0; k < 50; ++k) {
    pk.push_back(Make(s));
    s.seq += 1448;
    ++s.id;
  }
  auto outs = Coalesce(&c, &pk);
  ASSERT_EQ(outs.size(), 2u);
  // (65535 - 52) / 1448 = 45 segments fit.
  EXPECT_EQ(outs[0].segments, 45u);
  EXPECT_EQ(outs[1].segments, 5u);
  EXPECT_LE(outs[0].packet.size(), TcpCoalescer::kMaxTotal);
  ExpectMergedValid(outs[0], 45 * 1448);
  ExpectMergedValid(outs[1], 5 * 1448);
  EXPECT_EQ(Get32(outs[1].packet.data() + 24), 1000u + 45 * 1448);
}

TEST(TcpCoalescer, BatchLimitAndReuse) {
  TcpCoalescer c(2);
  Seg s;
  auto p1 = Make(s);
  auto p2 = Make(s);
  auto p3 = Make(s);
  EXPECT_TRUE(c.Add(p1.data(), p1.size()));
  EXPECT_TRUE(c.Add(p2.data(), p2.size()));
  EXPECT_FALSE(c.Add(p3.data(), p3.size()));
  c.Finish();
  EXPECT_EQ(c.outputs(), 2u);  // the same segment twice: a retransmission
  c.Clear();
  EXPECT_EQ(c.outputs(), 0u);
  EXPECT_TRUE(c.Add(p3.data(), p3.size()));
}

TEST(TcpCoalescer, NonTcpAndGarbageGoOutUnchanged) {
  std::mt19937 rng(7);
  TcpCoalescer c(64);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::vector<uint8_t>> pk;
    const size_t n = 1 + rng() % 64;
    Seg s;
    for (size_t i = 0; i < n; ++i) {
      std::vector<uint8_t> p;
      if (rng() % 2 == 0) {
        p = Make(s);
        s.seq += 1448;
        // Damage some: any byte of the headers.
        if (rng() % 3 == 0) p[rng() % 52] = static_cast<uint8_t>(rng());
      } else {
        p.resize(rng() % 100);
        for (auto& b : p) b = static_cast<uint8_t>(rng());
      }
      pk.push_back(std::move(p));
    }
    size_t total_segments = 0;
    auto outs = Coalesce(&c, &pk);
    for (const Out& o : outs) {
      total_segments += o.segments;
      if (o.segments > 1) ExpectMergedValid(o, o.packet.size() - o.hdr_len);
    }
    EXPECT_EQ(total_segments, n);
  }
}

}  // namespace
}  // namespace lbd
