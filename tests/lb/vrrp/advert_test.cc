// The codec against every packet captured from keepalived 2.2.7
// (/work/shared/reference/vrrp-vectors-keepalived.txt), and hostile packets.
#include "lbd/vrrp/advert.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "lbd/vrrp/receive.h"
#include "lbd/vrrp/router.h"

namespace lbd::vrrp {
namespace {

constexpr uint32_t kA = 0x0ad50001;    // 10.213.0.1
constexpr uint32_t kB = 0x0ad50002;    // 10.213.0.2
constexpr uint32_t kVip = 0x0ad50064;  // 10.213.0.100

std::vector<uint8_t> Hex(const std::string& text) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < text.size();) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
    i += 2;
  }
  return out;
}

// An IPv4 header (no options) in front of `vrrp`, as a raw socket reads it.
std::vector<uint8_t> IpPacket(const std::vector<uint8_t>& vrrp, uint32_t src, uint32_t dst,
                              uint8_t ttl = 255) {
  std::vector<uint8_t> p(20, 0);
  const size_t total = 20 + vrrp.size();
  p[0] = 0x45;
  p[1] = 0xc0;
  p[2] = static_cast<uint8_t>(total >> 8);
  p[3] = static_cast<uint8_t>(total);
  p[8] = ttl;
  p[9] = kIpProtoVrrp;
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = static_cast<uint8_t>(src >> (24 - 8 * i));
    p[16 + i] = static_cast<uint8_t>(dst >> (24 - 8 * i));
  }
  for (uint8_t b : vrrp) p.push_back(b);  // (insert() trips GCC 12's -Warray-bounds)
  return p;
}

struct Vector {
  const char* name;
  int version;
  uint8_t priority;
  uint32_t src;
  uint32_t dst;
  const char* vrrp_hex;
};

// Every distinct packet of the capture (vrrp_hex column), including the
// priority-0 adverts of a graceful stop, the unicast one and priority 255.
const Vector kVectors[] = {
    {"v2 frame 1 prio 150", 2, 150, kA, kVrrpGroup, "2133960100013d910ad500640000000000000000"},
    {"v2 frame 6 prio 0", 2, 0, kA, kVrrpGroup, "213300010001d3910ad500640000000000000000"},
    {"v2 frame 7 prio 100", 2, 100, kB, kVrrpGroup, "2133640100016f910ad500640000000000000000"},
    {"v2 frame 46 prio 0", 2, 0, kB, kVrrpGroup, "213300010001d3910ad500640000000000000000"},
    {"v3 frame 1 prio 150", 3, 150, kA, kVrrpGroup, "31339601006441c90ad50064"},
    {"v3 frame 6 prio 0", 3, 0, kA, kVrrpGroup, "313300010064d7c90ad50064"},
    {"v3 frame 7 prio 100", 3, 100, kB, kVrrpGroup, "31336401006473c80ad50064"},
    {"v3 frame 46 prio 0", 3, 0, kB, kVrrpGroup, "313300010064d7c80ad50064"},
    {"v3 unicast prio 150", 3, 150, kA, kB, "31339601006417050ad50064"},
    {"v3 prio 255", 3, 255, kA, kVrrpGroup, "3133ff010064d8c80ad50064"},
};

Advert AdvertOf(const Vector& v) {
  Advert a;
  a.version = v.version;
  a.vrid = 51;
  a.priority = v.priority;
  a.interval_cs = 100;
  a.addresses = {kVip};
  return a;
}

RxPolicy PolicyFor(int version, bool unicast = false) {
  RxPolicy p;
  p.version = version;
  p.vrid = 51;
  p.interval_cs = 100;
  p.unicast = unicast;
  p.virtual_ips = {kVip};
  return p;
}

TEST(VrrpCodec, EncodesEveryCapturedKeepalivedPacket) {
  for (const Vector& v : kVectors) {
    SCOPED_TRACE(v.name);
    EXPECT_EQ(EncodeAdvert(AdvertOf(v), v.src, v.dst), Hex(v.vrrp_hex));
  }
}

TEST(VrrpCodec, DecodesEveryCapturedKeepalivedPacket) {
  for (const Vector& v : kVectors) {
    SCOPED_TRACE(v.name);
    const bool unicast = v.dst != kVrrpGroup;
    const Decoded d =
        DecodeIpPacket(IpPacket(Hex(v.vrrp_hex), v.src, v.dst), PolicyFor(v.version, unicast));
    ASSERT_FALSE(d.drop) << ToString(*d.drop);
    EXPECT_EQ(d.advert.version, v.version);
    EXPECT_EQ(d.advert.vrid, 51);
    EXPECT_EQ(d.advert.priority, v.priority);
    EXPECT_EQ(d.advert.interval_cs, 100);
    EXPECT_EQ(d.advert.addresses, std::vector<uint32_t>{kVip});
    EXPECT_EQ(d.source, v.src);
    EXPECT_FALSE(d.address_mismatch);
    EXPECT_FALSE(d.interval_mismatch);
    EXPECT_FALSE(d.old_unicast_checksum);
  }
}

TEST(VrrpCodec, ChecksumsOfCapturedPacketsVerify) {
  for (const Vector& v : kVectors) {
    SCOPED_TRACE(v.name);
    const std::vector<uint8_t> msg = Hex(v.vrrp_hex);
    uint32_t pseudo = 0;
    if (v.version == 3) {
      pseudo = (v.src >> 16) + (v.src & 0xffff) + (v.dst >> 16) + (v.dst & 0xffff) + 112 +
               static_cast<uint32_t>(msg.size());
    }
    EXPECT_EQ(InternetChecksum(msg, pseudo), 0);
  }
}

// The IP part of the captured Ethernet frames (14 bytes of Ethernet header
// dropped), exactly as the kernel hands them to a raw socket.
TEST(VrrpCodec, DecodesCapturedIpPackets) {
  struct Frame {
    const char* name;
    int version;
    bool unicast;
    uint8_t priority;
    const char* ip_hex;
  };
  const Frame frames[] = {
      {"v2 frame 1", 2, false, 150,
       "45c0 0028 0001 0000 ff70 cfbc 0ad5 0001 e000 0012 2133 9601 0001 3d91 0ad5 0064 0000 0000 "
       "0000 0000"},
      {"v2 frame 6", 2, false, 0,
       "45c0 0028 0003 0000 ff70 cfba 0ad5 0001 e000 0012 2133 0001 0001 d391 0ad5 0064 0000 0000 "
       "0000 0000"},
      {"v2 frame 7", 2, false, 100,
       "45c0 0028 0001 0000 ff70 cfbb 0ad5 0002 e000 0012 2133 6401 0001 6f91 0ad5 0064 0000 0000 "
       "0000 0000"},
      {"v3 frame 1", 3, false, 150,
       "45c0 0020 0001 0000 ff70 cfc4 0ad5 0001 e000 0012 3133 9601 0064 41c9 0ad5 0064"},
      {"v3 frame 6", 3, false, 0,
       "45c0 0020 0003 0000 ff70 cfc2 0ad5 0001 e000 0012 3133 0001 0064 d7c9 0ad5 0064"},
      {"v3 frame 7", 3, false, 100,
       "45c0 0020 0001 0000 ff70 cfc3 0ad5 0002 e000 0012 3133 6401 0064 73c8 0ad5 0064"},
      {"v3 unicast", 3, true, 150,
       "45c0 0020 0001 0000 ff70 a500 0ad5 0001 0ad5 0002 3133 9601 0064 1705 0ad5 0064"},
  };
  for (const Frame& f : frames) {
    SCOPED_TRACE(f.name);
    const std::vector<uint8_t> ip = Hex(f.ip_hex);
    // The IP header checksum of the capture checks out too (the bytes are right).
    EXPECT_EQ(InternetChecksum(std::span<const uint8_t>(ip).first(20)), 0);
    const Decoded d = DecodeIpPacket(ip, PolicyFor(f.version, f.unicast));
    ASSERT_FALSE(d.drop) << ToString(*d.drop);
    EXPECT_EQ(d.advert.priority, f.priority);
    EXPECT_EQ(d.ttl, 255);
  }
}

TEST(VrrpCodec, V2SimplePasswordRoundTrip) {
  Advert a;
  a.version = 2;
  a.vrid = 7;
  a.priority = 120;
  a.interval_cs = 300;
  a.auth_type = kAuthSimple;
  a.auth_data = AuthData("secret");
  a.addresses = {0x0a000001, 0x0a000002};
  RxPolicy p = PolicyFor(2);
  p.vrid = 7;
  p.interval_cs = 300;
  p.auth_pass = "secret";
  p.virtual_ips = {0x0a000002, 0x0a000001};  // order does not matter
  const Decoded d = DecodeIpPacket(IpPacket(EncodeAdvert(a, kA, kVrrpGroup), kA, kVrrpGroup), p);
  ASSERT_FALSE(d.drop);
  EXPECT_EQ(d.advert.auth_data, AuthData("secret"));
  EXPECT_EQ(d.advert.addresses.size(), 2u);
  EXPECT_FALSE(d.address_mismatch);
}

TEST(VrrpCodec, V3IntervalIsTwelveBitsOfCentiseconds) {
  Advert a = AdvertOf(kVectors[4]);
  a.interval_cs = 4095;
  const std::vector<uint8_t> msg = EncodeAdvert(a, kA, kVrrpGroup);
  EXPECT_EQ(msg[4], 0x0f);
  EXPECT_EQ(msg[5], 0xff);
  const Decoded d = DecodeIpPacket(IpPacket(msg, kA, kVrrpGroup), PolicyFor(3));
  ASSERT_FALSE(d.drop);
  EXPECT_EQ(d.advert.interval_cs, 4095);
  EXPECT_TRUE(d.interval_mismatch);  // accepted, only noted (RFC 5798 §6.4.2)
}

TEST(VrrpCodec, AcceptsOldKeepalivedUnicastChecksum) {
  // keepalived < 1.3 used 224.0.0.18 in the pseudo-header for unicast.
  Advert a = AdvertOf(kVectors[8]);
  const std::vector<uint8_t> old_style = EncodeAdvert(a, kA, kVrrpGroup);
  const Decoded d = DecodeIpPacket(IpPacket(old_style, kA, kB), PolicyFor(3, true));
  ASSERT_FALSE(d.drop);
  EXPECT_TRUE(d.old_unicast_checksum);
  RxPolicy strict = PolicyFor(3, true);
  strict.accept_old_unicast_checksum = false;
  EXPECT_EQ(DecodeIpPacket(IpPacket(old_style, kA, kB), strict).drop, DropReason::kChecksum);
}

TEST(VrrpCodec, AddressListMismatchIsAcceptedButFlagged) {
  RxPolicy p = PolicyFor(3);
  p.virtual_ips = {0x0ad50065};
  const Decoded d = DecodeIpPacket(IpPacket(Hex(kVectors[4].vrrp_hex), kA, kVrrpGroup), p);
  ASSERT_FALSE(d.drop);
  EXPECT_TRUE(d.address_mismatch);
}

// --- hostile packets ------------------------------------------------------

struct Hostile {
  const char* name;
  std::vector<uint8_t> packet;
  RxPolicy policy;
  DropReason expected;
};

std::vector<Hostile> HostilePackets() {
  const std::vector<uint8_t> v3 = Hex(kVectors[4].vrrp_hex);
  const std::vector<uint8_t> v2 = Hex(kVectors[0].vrrp_hex);
  std::vector<Hostile> out;
  out.push_back({"ttl 254", IpPacket(v3, kB, kVrrpGroup, 254), PolicyFor(3), DropReason::kTtl});
  out.push_back({"ttl 1", IpPacket(v2, kB, kVrrpGroup, 1), PolicyFor(2), DropReason::kTtl});
  {
    // keepalived's v3 packet from another source: the pseudo-header differs.
    out.push_back({"v3 bad checksum (src)", IpPacket(v3, kB, kVrrpGroup), PolicyFor(3),
                   DropReason::kChecksum});
    std::vector<uint8_t> bad = v2;
    bad[7] ^= 0x01;
    out.push_back(
        {"v2 bad checksum", IpPacket(bad, kA, kVrrpGroup), PolicyFor(2), DropReason::kChecksum});
  }
  out.push_back(
      {"v2 to a v3 router", IpPacket(v2, kA, kVrrpGroup), PolicyFor(3), DropReason::kVersion});
  out.push_back(
      {"v3 to a v2 router", IpPacket(v3, kA, kVrrpGroup), PolicyFor(2), DropReason::kVersion});
  {
    std::vector<uint8_t> bad = v3;
    bad[0] = 0x13;  // version 1
    out.push_back({"version 1", IpPacket(bad, kA, kVrrpGroup), PolicyFor(3), DropReason::kVersion});
    bad = v3;
    bad[0] = 0x32;  // type 2
    out.push_back({"type 2", IpPacket(bad, kA, kVrrpGroup), PolicyFor(3), DropReason::kType});
  }
  out.push_back({"short: 7 bytes of VRRP",
                 IpPacket(std::vector<uint8_t>(v3.begin(), v3.begin() + 7), kA, kVrrpGroup),
                 PolicyFor(3), DropReason::kTooShort});
  out.push_back(
      {"short: IP header only", IpPacket({}, kA, kVrrpGroup), PolicyFor(3), DropReason::kTooShort});
  out.push_back(
      {"short: 19 bytes", std::vector<uint8_t>(19, 0x45), PolicyFor(3), DropReason::kIpHeader});
  {
    Advert a = AdvertOf(kVectors[0]);
    a.auth_type = kAuthSimple;
    a.auth_data = AuthData("wrong");
    RxPolicy p = PolicyFor(2);
    p.auth_pass = "secret";
    out.push_back({"wrong password", IpPacket(EncodeAdvert(a, kA, kVrrpGroup), kA, kVrrpGroup), p,
                   DropReason::kAuthPassword});
    out.push_back(
        {"no password where one is set", IpPacket(v2, kA, kVrrpGroup), p, DropReason::kAuthType});
    a.auth_data = AuthData("secret");
    out.push_back({"password where none is set",
                   IpPacket(EncodeAdvert(a, kA, kVrrpGroup), kA, kVrrpGroup), PolicyFor(2),
                   DropReason::kAuthType});
  }
  {
    RxPolicy p = PolicyFor(3);
    p.vrid = 52;
    out.push_back({"wrong VRID", IpPacket(v3, kA, kVrrpGroup), p, DropReason::kVrid});
  }
  {
    std::vector<uint8_t> bad = v3;
    bad[3] = 5;  // says 5 addresses, carries 1
    out.push_back(
        {"bad count", IpPacket(bad, kA, kVrrpGroup), PolicyFor(3), DropReason::kAddressCount});
    bad = v2;
    bad[3] = 2;  // 2 addresses + auth would need 24 bytes, 20 given
    out.push_back(
        {"v2 bad count", IpPacket(bad, kA, kVrrpGroup), PolicyFor(2), DropReason::kAddressCount});
  }
  {
    RxPolicy p = PolicyFor(2);
    p.interval_cs = 200;
    out.push_back({"v2 interval mismatch", IpPacket(v2, kA, kVrrpGroup), p, DropReason::kInterval});
  }
  out.push_back({"multicast advert on a unicast instance", IpPacket(v3, kA, kVrrpGroup),
                 PolicyFor(3, true), DropReason::kDestination});
  out.push_back({"unicast advert on a multicast instance",
                 IpPacket(Hex(kVectors[8].vrrp_hex), kA, kB), PolicyFor(3),
                 DropReason::kDestination});
  {
    std::vector<uint8_t> frag = IpPacket(v3, kA, kVrrpGroup);
    frag[6] = 0x20;  // more fragments
    out.push_back({"fragment", frag, PolicyFor(3), DropReason::kIpHeader});
    std::vector<uint8_t> proto = IpPacket(v3, kA, kVrrpGroup);
    proto[9] = 17;
    out.push_back({"not protocol 112", proto, PolicyFor(3), DropReason::kIpHeader});
    std::vector<uint8_t> ihl = IpPacket(v3, kA, kVrrpGroup);
    ihl[0] = 0x4f;  // 60-byte header in a 32-byte packet
    out.push_back({"IHL past the end", ihl, PolicyFor(3), DropReason::kIpHeader});
    std::vector<uint8_t> total = IpPacket(v3, kA, kVrrpGroup);
    total[3] = 0xff;  // total length beyond what was read
    out.push_back({"total length past the end", total, PolicyFor(3), DropReason::kIpHeader});
  }
  return out;
}

TEST(VrrpHostile, EachKindIsRejectedCountedAndLeavesTheRouterAlone) {
  for (const Hostile& h : HostilePackets()) {
    SCOPED_TRACE(h.name);
    const TimePoint t0{};
    Router router(
        RouterConfig{.version = h.policy.version, .priority = 100, .primary_ip = kA + 10});
    (void)router.Start(t0);
    ASSERT_EQ(router.state(), State::kBackup);
    const auto deadline = router.deadline();
    Counters counters;
    const Received r = ReceiveAdvert(h.packet, h.policy, kA + 10, t0 + std::chrono::seconds(1),
                                     &router, &counters);
    ASSERT_TRUE(r.decoded.drop.has_value());
    EXPECT_EQ(*r.decoded.drop, h.expected) << ToString(*r.decoded.drop);
    EXPECT_EQ(counters.dropped[static_cast<size_t>(h.expected)], 1u);
    uint64_t total = 0;
    for (uint64_t c : counters.dropped) total += c;
    EXPECT_EQ(total, 1u);
    EXPECT_EQ(counters.adverts_received, 0u);
    EXPECT_EQ(router.state(), State::kBackup);
    EXPECT_EQ(router.deadline(), deadline);
    EXPECT_FALSE(r.actions.transition);
  }
}

TEST(VrrpHostile, HostilePriorityZeroDoesNotShortenTheTimer) {
  // A forged priority-0 with a wrong TTL must not trigger a fast takeover.
  Router router(RouterConfig{.priority = 100, .primary_ip = kB});
  (void)router.Start(TimePoint{});
  const auto deadline = router.deadline();
  Counters counters;
  (void)ReceiveAdvert(IpPacket(Hex(kVectors[5].vrrp_hex), kA, kVrrpGroup, 64), PolicyFor(3), kB,
                      TimePoint{} + std::chrono::seconds(1), &router, &counters);
  EXPECT_EQ(router.deadline(), deadline);
  EXPECT_EQ(counters.dropped[static_cast<size_t>(DropReason::kTtl)], 1u);
}

TEST(VrrpHostile, EveryTruncationAndRandomBytesNeverCrash) {
  const std::vector<uint8_t> full = IpPacket(Hex(kVectors[0].vrrp_hex), kA, kVrrpGroup);
  for (size_t n = 0; n < full.size(); ++n) {
    // Copy into an exact-size buffer so ASan sees any overread.
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_TRUE(DecodeIpPacket(cut, PolicyFor(2)).drop.has_value()) << n;
  }
  std::mt19937 rng(12345);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> bytes = full;
    bytes.resize(rng() % 80);
    for (size_t k = 0; k < bytes.size(); ++k) {
      if (rng() % 4 == 0) bytes[k] = static_cast<uint8_t>(rng());
    }
    if (!DecodeIpPacket(bytes, PolicyFor(2)).drop) ++accepted;
    if (!DecodeIpPacket(bytes, PolicyFor(3, true)).drop) ++accepted;
  }
  EXPECT_LT(accepted, 20000);  // mostly rejected; the point is no crash
}

TEST(VrrpCodec, OwnAdvertIsIgnoredNotCounted) {
  Router router(RouterConfig{.priority = 100, .primary_ip = kA});
  (void)router.Start(TimePoint{});
  Counters counters;
  const Received r = ReceiveAdvert(IpPacket(Hex(kVectors[4].vrrp_hex), kA, kVrrpGroup),
                                   PolicyFor(3), kA, TimePoint{}, &router, &counters);
  EXPECT_TRUE(r.own);
  EXPECT_EQ(counters.adverts_received, 0u);
}

}  // namespace
}  // namespace lbd::vrrp
