// Public header of lbd_healthcheck.
//
// QuorumState: keepalived's quorum with hysteresis for one virtual service.
// The caller feeds the sum of the weights of the real servers that are up;
// quorum is lost when the sum drops below quorum - hysteresis and regained
// when it reaches quorum + hysteresis (keepalived's virtual_server quorum /
// hysteresis, shared/reference/vrrp-and-keepalived.md §5; between the two
// bounds the state holds, which damps flapping). On a change the daemon runs on_quorum_down /
// on_quorum_up (CommandRunner, command_runner.h) and swaps the sorry server in or out.
//
// Thread-safety: none; a plain value driven by one caller.
#ifndef LBD_HEALTHCHECK_QUORUM_H_
#define LBD_HEALTHCHECK_QUORUM_H_

#include <cstdint>

namespace lbd {

class QuorumState {
 public:
  enum class Change { kNone, kLost, kRegained };

  // quorum <= 0 turns quorum off: has_quorum() is always true. A negative
  // hysteresis counts as 0. `initially_up`: the state before the first
  // Update(). Servers start up unless alpha, so quorum starts up too; with
  // alpha servers pass false (or feed the initial sum at once). Default: true.
  explicit QuorumState(int64_t quorum, int64_t hysteresis = 0, bool initially_up = true);

  // The new sum of the weights of up servers; reports a transition, if any.
  Change Update(int64_t up_weight_sum);

  bool has_quorum() const { return up_; }
  int64_t quorum() const { return quorum_; }
  int64_t hysteresis() const { return hysteresis_; }

 private:
  int64_t quorum_;
  int64_t hysteresis_;
  bool up_;
};

}  // namespace lbd

#endif  // LBD_HEALTHCHECK_QUORUM_H_
