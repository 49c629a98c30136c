// Header of lbd_sys (internal to lbd: not installed).
//
// Subprocess: `/bin/sh -c command` in its own process group, watched and
// reaped through a pidfd on a libev loop (any loop, default or not).
//
// Our direct child is made with clone(CLONE_PIDFD) and exit signal 0 (a
// "clone child", see wait(2) __WCLONE): no SIGCHLD is sent for it and
// waitpid(-1) without __WALL does not see it, so another reaper in the
// process (libev's ev_child on the default loop, any SIGCHLD handler calling
// waitpid(-1)) can neither reap it nor steal its exit status. Because execve()
// would make it an ordinary child again (de_thread() resets exit_signal to
// SIGCHLD), that child never execs: it forks the shell, waits for it, and
// exits with the shell's status or dies of the shell's signal. The pidfd
// becomes readable when it exits; we reap it with waitpid(pid, __WALL).
// Costs one extra fork per command. Needs Linux >= 5.2 (CLONE_PIDFD).
//
// Thread-safety: belongs to the loop's thread. Spawn() may run concurrently
// on other threads (the child only makes async-signal-safe calls).
#ifndef LBD_SYS_SUBPROCESS_H_
#define LBD_SYS_SUBPROCESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lbsched/status.h"

struct ev_loop;
struct ev_io;

namespace lbd {

class Subprocess {
 public:
  // Called once, on the loop, with the wait status (see waitpid(2)).
  using OnExit = std::function<void(int wait_status)>;

  // Starts `/bin/sh -c command` with `env` added to the environment, stdin
  // and stdout on /dev/null, stderr inherited, default signal dispositions
  // and an empty signal mask, in a new process group whose id is pid().
  // `on_exit` gets the shell's status (exit code, or its killing signal).
  static Result<std::unique_ptr<Subprocess>> Spawn(
      struct ev_loop* loop, const std::string& command,
      const std::vector<std::pair<std::string, std::string>>& env, OnExit on_exit);

  // If the child has not been reaped: SIGKILL its process group and reap it
  // (a blocking wait, but only for a process that is being killed).
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // SIGKILL to the whole process group; the exit is still reported (and the
  // child reaped) on the loop.
  void KillGroup();
  // Detaches the child: the watcher stops and the pidfd closes, without
  // killing; the pid goes to a process-wide list that ReapDetached() drains.
  void Detach();
  bool running() const { return !reaped_; }
  pid_t pid() const { return pid_; }

  // Reaps, without blocking, detached children that have exited.
  static void ReapDetached();

  // Tests only: skip clone3 and use the clone fallback (what runs under
  // seccomp profiles that answer ENOSYS for clone3).
  static void UseCloneFallbackForTesting(bool on);

 private:
  Subprocess(struct ev_loop* loop, pid_t pid, int pidfd, OnExit on_exit);
  static void OnPidfd(struct ev_loop* loop, ::ev_io* w, int revents);
  void StopWatching();

  struct ev_loop* loop_;
  pid_t pid_;
  int pidfd_;
  bool reaped_ = false;
  OnExit on_exit_;
  std::unique_ptr<::ev_io> watcher_;
};

}  // namespace lbd

#endif  // LBD_SYS_SUBPROCESS_H_
