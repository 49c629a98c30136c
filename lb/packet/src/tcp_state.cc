#include "lbd/packet/tcp_state.h"

#include "lbd/packet/packet.h"

namespace lbd {
namespace {

constexpr TcpState sNO = TcpState::kNone;
constexpr TcpState sES = TcpState::kEstablished;
constexpr TcpState sSS = TcpState::kSynSent;
constexpr TcpState sSR = TcpState::kSynRecv;
constexpr TcpState sFW = TcpState::kFinWait;
constexpr TcpState sTW = TcpState::kTimeWait;
constexpr TcpState sCL = TcpState::kClose;
constexpr TcpState sCW = TcpState::kCloseWait;
constexpr TcpState sLA = TcpState::kLastAck;
constexpr TcpState sLI = TcpState::kListen;
constexpr TcpState sSA = TcpState::kSynAck;

constexpr int kStates = static_cast<int>(TcpState::kCount);

// ip_vs_proto_tcp.c tcp_states[]: [direction][syn fin ack rst][state].
constexpr TcpState kTable[3][4][kStates] = {
    // INPUT
    {
        /*        sNO  sES  sSS  sSR  sFW  sTW  sCL  sCW  sLA  sLI  sSA */
        /*syn*/ {sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR},
        /*fin*/ {sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW},
        /*ack*/ {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES},
        /*rst*/ {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR},
    },
    // OUTPUT
    {
        /*syn*/ {sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR},
        /*fin*/ {sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW},
        /*ack*/ {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES},
        /*rst*/ {sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL},
    },
    // INPUT-ONLY
    {
        /*syn*/ {sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR},
        /*fin*/ {sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW},
        /*ack*/ {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES},
        /*rst*/ {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL},
    },
};

}  // namespace

const char* ToString(TcpState state) {
  switch (state) {
    case TcpState::kNone:
      return "NONE";
    case TcpState::kEstablished:
      return "ESTABLISHED";
    case TcpState::kSynSent:
      return "SYN_SENT";
    case TcpState::kSynRecv:
      return "SYN_RECV";
    case TcpState::kFinWait:
      return "FIN_WAIT";
    case TcpState::kTimeWait:
      return "TIME_WAIT";
    case TcpState::kClose:
      return "CLOSE";
    case TcpState::kCloseWait:
      return "CLOSE_WAIT";
    case TcpState::kLastAck:
      return "LAST_ACK";
    case TcpState::kListen:
      return "LISTEN";
    case TcpState::kSynAck:
      return "SYNACK";
    case TcpState::kCount:
      break;
  }
  return "UNKNOWN";
}

TcpState NextTcpState(TcpState state, TcpDirection direction, uint8_t tcp_flags) {
  // tcp_state_idx(): rst, then syn, then fin, then ack.
  int idx;
  if (tcp_flags & kTcpRst) {
    idx = 3;
  } else if (tcp_flags & kTcpSyn) {
    idx = 0;
  } else if (tcp_flags & kTcpFin) {
    idx = 1;
  } else if (tcp_flags & kTcpAck) {
    idx = 2;
  } else {
    return state;
  }
  const int s = static_cast<int>(state);
  if (s < 0 || s >= kStates) return state;
  return kTable[static_cast<int>(direction)][idx][s];
}

std::chrono::seconds TcpTimeout(const FlowTimeouts& timeouts, TcpState state) {
  using std::chrono::seconds;
  // ip_vs_proto_tcp.c tcp_timeouts[].
  switch (state) {
    case TcpState::kNone:
      return seconds(2);
    case TcpState::kEstablished:
      return timeouts.tcp;
    case TcpState::kSynSent:
      return seconds(120);
    case TcpState::kSynRecv:
      return seconds(60);
    case TcpState::kFinWait:
      return timeouts.tcp_fin;
    case TcpState::kTimeWait:
      return seconds(120);
    case TcpState::kClose:
      return seconds(10);
    case TcpState::kCloseWait:
      return seconds(60);
    case TcpState::kLastAck:
      return seconds(30);
    case TcpState::kListen:
      return seconds(120);
    case TcpState::kSynAck:
      return seconds(120);
    case TcpState::kCount:
      break;
  }
  return seconds(2);
}

}  // namespace lbd
