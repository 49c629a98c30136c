// Header of lbd_sys (internal to lbd: not installed).
//
// CommandRunner: starts notification commands (on_quorum_up, on_quorum_down,
// and the like) as `/bin/sh -c command` without waiting for them. Each child
// is reaped on the runner's loop when it exits, through its pidfd, so it
// leaves no zombie and needs no SIGCHLD handler (the same children as the
// exec check's, see checker.h). stdin and stdout are
// /dev/null; stderr is inherited.
//
// Children still running when the runner is destroyed are neither killed nor
// waited for; they are reaped (without blocking) by the next Run() of any
// runner in the process, or by init once the daemon exits. Make one runner
// for the daemon's lifetime.
//
// Thread-safety: a CommandRunner belongs to the thread that runs its loop.
#ifndef LBD_SYS_COMMAND_RUNNER_H_
#define LBD_SYS_COMMAND_RUNNER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lbsched/status.h"

struct ev_loop;

namespace lbd {

class CommandRunner {
 public:
  // REQUIRES: `loop` outlives the runner.
  static std::unique_ptr<CommandRunner> Create(struct ev_loop* loop);

  virtual ~CommandRunner() = default;
  CommandRunner(const CommandRunner&) = delete;
  CommandRunner& operator=(const CommandRunner&) = delete;

  // Starts `command` with `env` (NAME, value) added to the daemon's
  // environment. Fails only when the process cannot be created.
  virtual Status Run(const std::string& command,
                     const std::vector<std::pair<std::string, std::string>>& env = {}) = 0;

  // Children started by this runner that have not been reaped yet.
  virtual size_t running() const = 0;

 protected:
  CommandRunner() = default;
};

}  // namespace lbd

#endif  // LBD_SYS_COMMAND_RUNNER_H_
