// Public header of lbd_packet.
//
// IPVS's view of a TCP connection from the director
// (net/netfilter/ipvs/ip_vs_proto_tcp.c: tcp_states[], tcp_state_idx(),
// set_tcp_state(), tcp_timeouts[]), and the flow timeouts `ipvsadm --set`
// changes.
//
// Thread-safety: pure functions and plain values.
#ifndef LBD_PACKET_TCP_STATE_H_
#define LBD_PACKET_TCP_STATE_H_

#include <chrono>
#include <cstdint>

namespace lbd {

// In the kernel's order (IP_VS_TCP_S_*).
enum class TcpState : uint8_t {
  kNone,
  kEstablished,
  kSynSent,
  kSynRecv,
  kFinWait,
  kTimeWait,
  kClose,
  kCloseWait,
  kLastAck,
  kListen,
  kSynAck,
  kCount,
};
// "NONE", "ESTABLISHED", ... as ipvsadm -Lnc prints them.
const char* ToString(TcpState state);

// Which half of tcp_states[] applies: kInput = client to real server, kOutput
// = real server to client (nat sees both), kInputOnly = dr/tun, where the
// director sees only the client's packets (IP_VS_CONN_F_NOOUTPUT).
enum class TcpDirection : uint8_t { kInput, kOutput, kInputOnly };

// The state after a segment with `tcp_flags` (RST, then SYN, then FIN, then
// ACK decide, as tcp_state_idx()); a segment with none of them keeps `state`.
TcpState NextTcpState(TcpState state, TcpDirection direction, uint8_t tcp_flags);

// Flow timeouts. tcp/tcp_fin/udp are what `ipvsadm --set tcp tcpfin udp` sets;
// the other TCP states keep the kernel's tcp_timeouts[] values.
struct FlowTimeouts {
  std::chrono::seconds tcp{900};      // ESTABLISHED. Default: 900 s.
  std::chrono::seconds tcp_fin{120};  // FIN_WAIT (after the client's FIN). Default: 120 s.
  std::chrono::seconds udp{300};      // every UDP flow. Default: 300 s.
};
std::chrono::seconds TcpTimeout(const FlowTimeouts& timeouts, TcpState state);

}  // namespace lbd

#endif  // LBD_PACKET_TCP_STATE_H_
