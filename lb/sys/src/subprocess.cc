#include "lbd/sys/subprocess.h"

#include <ev.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

extern char** environ;

namespace lbd {
namespace {

std::mutex& DetachedMutex() {
  static std::mutex mu;
  return mu;
}
std::atomic<bool> clone_fallback_for_testing{false};

std::vector<pid_t>& DetachedPids() {
  static std::vector<pid_t> pids;
  return pids;
}

// clone() with fork semantics (no CLONE_VM, the child runs on a copy of our
// stack), CLONE_PIDFD and exit signal 0. Returns the pid in the parent (and
// sets *pidfd), 0 in the child, -1 with errno on failure. clone3 first;
// seccomp profiles (Docker's) answer ENOSYS for clone3 to make libcs fall
// back to clone, so we do too.
pid_t CloneWithPidfd(int* pidfd) {
  struct clone_args args;
  std::memset(&args, 0, sizeof(args));
  args.flags = CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(pidfd);
  args.exit_signal = 0;
  long ret = -1;
  errno = ENOSYS;
  if (!clone_fallback_for_testing.load()) ret = syscall(SYS_clone3, &args, sizeof(args));
  if (ret >= 0 || errno != ENOSYS) return static_cast<pid_t>(ret);
  // clone(flags, stack, parent_tid, ...): with CLONE_PIDFD the pidfd is
  // stored through parent_tid, the third argument on x86_64, arm, arm64,
  // riscv and powerpc alike.
  ret =
      syscall(SYS_clone, static_cast<unsigned long>(CLONE_PIDFD), nullptr, pidfd, nullptr, nullptr);
  return static_cast<pid_t>(ret);
}

// fork() as a raw system call: glibc's fork() runs atfork handlers and takes
// allocator locks, which a child of a multi-threaded process must not do.
// clone(flags, stack, ...) with stack 0: fork semantics. (s390 swaps the first
// two arguments; lbd does not build there.)
pid_t RawFork() {
  return static_cast<pid_t>(
      syscall(SYS_clone, static_cast<unsigned long>(SIGCHLD), nullptr, nullptr, nullptr, nullptr));
}

// How the children exit: exit_group(2), which is what _exit() is, minus the
// sanitizers' _exit interceptor. Under ThreadSanitizer that interceptor runs
// the runtime's finalization in the child, which still counts the parent's
// threads: it sleeps atexit_sleep_ms (1 s by default, so every exec check
// timed out) and turns the status into 66 when the parent reported a race.
[[noreturn]] void ExitChild(int code) {
  syscall(SYS_exit_group, code);
  __builtin_unreachable();
}

// The watched child. Only async-signal-safe calls from here on.
//
// execve() turns a clone child back into an ordinary one (the kernel's
// de_thread() resets exit_signal to SIGCHLD), so the child we watch never
// execs: it forks the shell, waits for it and exits with its status (or dies
// of its signal). Only this intermediate process is our child, and it stays
// invisible to waitpid(-1) for its whole life. Both are in the process group
// whose id is the intermediate's pid, so one kill(-pgid) reaches the shell and
// everything it started.
[[noreturn]] void RunChild(const char* const* argv, const char* const* envp) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  }
  setpgid(0, 0);
  // Descriptors through syscall(), not open()/dup2()/close(): a sanitizer
  // build intercepts those to track descriptors across threads, and in this
  // copy of a multi-threaded process (no thread but ours runs; raw clone, so
  // the runtime saw no fork) TSan reported our open() of a number a worker had
  // used as a race, and its bookkeeping may take a lock that another thread
  // held at the clone. The system calls are what the libc wrappers make.
  const int devnull =
      static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC));
  if (devnull >= 0) {
    syscall(SYS_dup3, devnull, STDIN_FILENO, 0);  // EINVAL when equal: dup2's no-op
    syscall(SYS_dup3, devnull, STDOUT_FILENO, 0);
  }
  if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0) {
    for (int fd = 3; fd < 4096; ++fd) syscall(SYS_close, fd);
  }
  const pid_t shell = RawFork();
  if (shell < 0) ExitChild(127);
  if (shell == 0) {
    execve("/bin/sh", const_cast<char* const*>(argv), const_cast<char* const*>(envp));
    ExitChild(127);
  }
  int status = 0;
  while (waitpid(shell, &status, 0) < 0) {
    if (errno != EINTR) ExitChild(127);
  }
  if (WIFEXITED(status)) ExitChild(WEXITSTATUS(status));
  // Die of the same signal, without a core file, so the parent sees it.
  const struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  syscall(SYS_kill, syscall(SYS_getpid), WTERMSIG(status));
  ExitChild(1);
}

}  // namespace

Result<std::unique_ptr<Subprocess>> Subprocess::Spawn(
    struct ev_loop* loop, const std::string& command,
    const std::vector<std::pair<std::string, std::string>>& env, OnExit on_exit) {
  ReapDetached();
  // Everything the child needs is built before the clone.
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    bool replaced = false;
    for (const auto& [name, value] : env) {
      if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 &&
          entry[name.size()] == '=') {
        replaced = true;
        break;
      }
    }
    if (!replaced) env_strings.emplace_back(entry);
  }
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<const char*> envp;
  for (const auto& s : env_strings) envp.push_back(s.c_str());
  envp.push_back(nullptr);
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};

  int pidfd = -1;
  const pid_t pid = CloneWithPidfd(&pidfd);
  if (pid < 0) return Status::Error(std::string("clone: ") + std::strerror(errno));
  if (pid == 0) RunChild(argv, envp.data());

  // Also from the parent, so that KillGroup() reaches the group even if it
  // runs before the child's own setpgid(); fails harmlessly after execve.
  setpgid(pid, pid);
  fcntl(pidfd, F_SETFD, FD_CLOEXEC);  // pidfds are close-on-exec already; be sure
  return std::unique_ptr<Subprocess>(new Subprocess(loop, pid, pidfd, std::move(on_exit)));
}

Subprocess::Subprocess(struct ev_loop* loop, pid_t pid, int pidfd, OnExit on_exit)
    : loop_(loop),
      pid_(pid),
      pidfd_(pidfd),
      on_exit_(std::move(on_exit)),
      watcher_(std::make_unique<ev_io>()) {
  ev_io_init(watcher_.get(), &Subprocess::OnPidfd, pidfd_, EV_READ);
  watcher_->data = this;
  ev_io_start(loop_, watcher_.get());
}

Subprocess::~Subprocess() {
  StopWatching();
  if (!reaped_ && pid_ > 0) {
    KillGroup();
    int status = 0;
    while (waitpid(pid_, &status, __WALL) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
}

void Subprocess::StopWatching() {
  if (watcher_ != nullptr) ev_io_stop(loop_, watcher_.get());
  if (pidfd_ >= 0) {
    close(pidfd_);
    pidfd_ = -1;
  }
}

void Subprocess::KillGroup() {
  if (reaped_) return;
  // The child is ours and unreaped, so neither its pid nor its process group
  // id can have been reused.
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
}

void Subprocess::Detach() {
  StopWatching();
  if (reaped_) return;
  {
    std::lock_guard<std::mutex> lock(DetachedMutex());
    DetachedPids().push_back(pid_);
  }
  reaped_ = true;  // no longer ours to reap
}

void Subprocess::ReapDetached() {
  std::lock_guard<std::mutex> lock(DetachedMutex());
  auto& pids = DetachedPids();
  for (size_t i = 0; i < pids.size();) {
    int status = 0;
    const pid_t r = waitpid(pids[i], &status, __WALL | WNOHANG);
    if (r == 0) {
      ++i;
    } else {
      pids[i] = pids.back();
      pids.pop_back();
    }
  }
}

void Subprocess::UseCloneFallbackForTesting(bool on) { clone_fallback_for_testing.store(on); }

void Subprocess::OnPidfd(struct ev_loop* /*loop*/, ::ev_io* w, int /*revents*/) {
  auto* self = static_cast<Subprocess*>(w->data);
  int status = 0;
  pid_t r;
  do {
    r = waitpid(self->pid_, &status, __WALL | WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return;      // not yet
  if (r < 0) status = -1;  // ECHILD: cannot happen for a clone child; report a failure
  self->reaped_ = true;
  self->StopWatching();
  // Last: the callback may destroy `self`.
  OnExit on_exit = std::move(self->on_exit_);
  if (on_exit) on_exit(status);
}

}  // namespace lbd
