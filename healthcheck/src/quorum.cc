#include "lbd/healthcheck/quorum.h"

#include <algorithm>

namespace lbd {

QuorumState::QuorumState(int64_t quorum, int64_t hysteresis, bool initially_up)
    : quorum_(quorum), hysteresis_(std::max<int64_t>(hysteresis, 0)), up_(initially_up) {
  if (quorum_ <= 0) up_ = true;
}

QuorumState::Change QuorumState::Update(int64_t up_weight_sum) {
  if (quorum_ <= 0) return Change::kNone;
  // Lost below quorum - hysteresis, regained at quorum + hysteresis or more
  // (keepalived's semantics; see the header).
  if (up_ && up_weight_sum < quorum_ - hysteresis_) {
    up_ = false;
    return Change::kLost;
  }
  if (!up_ && up_weight_sum >= quorum_ + hysteresis_) {
    up_ = true;
    return Change::kRegained;
  }
  return Change::kNone;
}

}  // namespace lbd
