// Test support (not part of lbd): network namespaces and the processes run in
// them, for the integration tests that need real devices (tests/lb/vrrp,
// tests/lb/packet, tests/lb/daemon/*_daemon_test.cc). Needs root.
//
// Cleanup is the point: every namespace a test makes and every process it
// starts goes away at the end, also on failure:
// - RAII: Namespaces deletes its namespaces, Process kills (SIGKILL) and reaps
//   its process, ScriptTopology stops what it spawned and runs `topology.sh
//   down`;
// - a test killed by SIGINT/SIGTERM/SIGHUP: InstallCleanup()'s handler kills
//   the tracked PIDs and deletes the tracked namespaces (async-signal-safe);
// - a test killed by SIGKILL: spawned programs die with it
//   (PR_SET_PDEATHSIG), and the next run's InstallCleanup(tag) removes the
//   namespaces and /tmp folders "<tag>-<pid>-*" whose <pid> is gone.
// Names carry the test's PID, so runs on one machine never collide. Every wait
// is bounded. Processes are only ever signalled by their PID.
//
// Thread-safety: the tracking (TrackPid, Namespaces) is lock-free and may be
// used from any thread; the rest belongs to the test's thread.
#ifndef LBD_TESTS_NETNS_NETNS_H_
#define LBD_TESTS_NETNS_NETNS_H_

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace netns {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Polls `condition` every `step` until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& condition, milliseconds timeout,
                    milliseconds step = milliseconds(20)) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(step);
  }
  return condition();
}

// Runs `command` with /bin/sh, stdout into `out`; its exit status, or -1.
inline int Shell(const std::string& command, std::string* out = nullptr) {
  FILE* f = popen(command.c_str(), "r");
  if (f == nullptr) return -1;
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), f)) > 0) text.append(buffer, n);
  const int status = pclose(f);
  if (out != nullptr) *out = std::move(text);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The stdout of `command`.
inline std::string Output(const std::string& command) {
  std::string out;
  (void)Shell(command, &out);
  return out;
}

// Whether `command` (stdout not captured) exits 0.
inline bool Sh(const std::string& command) { return std::system(command.c_str()) == 0; }

// Whether `ip` (dotted quad) is on `dev` in `ns`.
inline bool HasAddress(const std::string& ns, const std::string& dev, const std::string& ip) {
  return Output("ip -n " + ns + " -4 -o addr show dev " + dev).find(" " + ip + "/") !=
         std::string::npos;
}

// Whether `dev` in `ns` has its carrier (LOWER_UP).
inline bool LinkUp(const std::string& ns, const std::string& dev) {
  return Output("ip -n " + ns + " -o link show dev " + dev).find("LOWER_UP") != std::string::npos;
}

// "<tag>-<pid>-<name>": unique to this run.
inline std::string UniqueName(const std::string& tag, const std::string& name) {
  return tag + "-" + std::to_string(getpid()) + "-" + name;
}

// --- cleanup that also runs on SIGINT/SIGTERM/SIGHUP ---------------------------

namespace internal {
inline constexpr int kMaxPids = 32;
inline constexpr int kMaxNamespaces = 8;
inline std::atomic<pid_t> pids[kMaxPids];
// 0: free, 1: being written, 2: a name the handler deletes.
inline std::atomic<int> namespace_state[kMaxNamespaces];
inline char namespaces[kMaxNamespaces][64];
}  // namespace internal

// Remembers `pid` for the signal handler (silently not when 32 are tracked).
inline void TrackPid(pid_t pid) {
  for (auto& p : internal::pids) {
    pid_t zero = 0;
    if (p.compare_exchange_strong(zero, pid)) return;
  }
}
inline void UntrackPid(pid_t pid) {
  for (auto& p : internal::pids) {
    pid_t same = pid;
    p.compare_exchange_strong(same, 0);
  }
}

// `ip netns del NAME`, waited for. Async-signal-safe: fork, execv, waitpid.
inline void DeleteNamespace(const char* name) {
  const char* argv[] = {"/usr/sbin/ip", "netns", "del", name, nullptr};
  if (access(argv[0], X_OK) != 0) argv[0] = "/sbin/ip";
  const pid_t pid = fork();
  if (pid == 0) {
    execv(argv[0], const_cast<char* const*>(argv));
    _exit(127);
  }
  if (pid > 0) waitpid(pid, nullptr, 0);
}

// The signal handler: SIGKILL to the tracked PIDs, the tracked namespaces
// deleted, exit 128 + sig. Async-signal-safe: kill, fork, execv, waitpid, _exit.
inline void EmergencyCleanup(int sig) {
  for (auto& p : internal::pids) {
    const pid_t pid = p.exchange(0);
    if (pid > 0) kill(pid, SIGKILL);
  }
  for (int i = 0; i < internal::kMaxNamespaces; ++i) {
    if (internal::namespace_state[i].load() == 2) DeleteNamespace(internal::namespaces[i]);
  }
  _exit(128 + sig);
}

// Whether `name` is "<tag>-<pid>-..." of a process that no longer exists.
inline bool IsStale(const std::string& tag, const std::string& name) {
  const std::string head = tag + "-";
  if (name.rfind(head, 0) != 0) return false;
  const size_t dash = name.find('-', head.size());
  if (dash == std::string::npos) return false;
  const std::string pid = name.substr(head.size(), dash - head.size());
  if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) return false;
  return std::to_string(getpid()) != pid && !std::filesystem::exists("/proc/" + pid);
}

// Installs EmergencyCleanup for SIGINT, SIGTERM and SIGHUP, and removes the
// namespaces and /tmp folders "<tag>-<pid>-*" of runs that were killed
// before they could clean up.
inline void InstallCleanup(const std::string& tag) {
  struct sigaction sa {};
  sa.sa_handler = EmergencyCleanup;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/tmp", ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory(ec) && IsStale(tag, name)) std::filesystem::remove_all(entry.path(), ec);
  }
  std::istringstream list(Output("ip netns list 2>/dev/null"));
  std::string line;
  for (int i = 0; i < 256 && std::getline(list, line); ++i) {
    const std::string name = line.substr(0, line.find(' '));
    if (IsStale(tag, name)) DeleteNamespace(name.c_str());
  }
}

// Network namespaces UniqueName(tag, name) for each name, with lo up, tracked
// for EmergencyCleanup; deleted (with their devices) when destroyed.
class Namespaces {
 public:
  Namespaces(const std::string& tag, std::initializer_list<std::string> names) {
    ok_ = true;
    for (const std::string& n : names) {
      names_.push_back(UniqueName(tag, n));
      Track(names_.back());
      ok_ = ok_ && Sh("ip netns add " + names_.back()) &&
            Sh("ip -n " + names_.back() + " link set lo up");
    }
  }
  ~Namespaces() {
    for (size_t i = 0; i < names_.size(); ++i) {
      DeleteNamespace(names_[i].c_str());
      if (slots_[i] >= 0) internal::namespace_state[slots_[i]].store(0);
    }
  }
  Namespaces(const Namespaces&) = delete;
  Namespaces& operator=(const Namespaces&) = delete;

  bool ok() const { return ok_; }
  // The i-th namespace's full name, in the order given.
  const std::string& operator[](size_t i) const { return names_.at(i); }

 private:
  void Track(const std::string& name) {
    int slot = -1;
    for (int i = 0; i < internal::kMaxNamespaces && slot < 0; ++i) {
      int free_slot = 0;
      // Ready (2) only once the name is written: the handler reads it.
      if (internal::namespace_state[i].compare_exchange_strong(free_slot, 1)) {
        std::snprintf(internal::namespaces[i], sizeof(internal::namespaces[i]), "%s", name.c_str());
        internal::namespace_state[i].store(2);
        slot = i;
      }
    }
    slots_.push_back(slot);
  }

  std::vector<std::string> names_;
  std::vector<int> slots_;
  bool ok_ = false;
};

// Makes the calling thread's network namespace `ns` (setns is per thread):
// the sockets it creates from then on live there.
inline bool EnterNamespace(const std::string& ns) {
  const int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool joined = setns(fd, CLONE_NEWNET) == 0;
  close(fd);
  return joined;
}

// Runs `fn` on a thread that joined `ns`; `fallback` when it could not join.
// What `fn` opens stays in `ns` (and keeps working from any thread).
template <typename T>
T InNamespace(const std::string& ns, const std::function<T()>& fn, T fallback = T{}) {
  T result = std::move(fallback);
  std::thread([&] {
    if (EnterNamespace(ns)) result = fn();
  }).join();
  return result;
}

// --- processes -----------------------------------------------------------------

enum class LogMode { kAppend, kTruncate };

// Starts `argv` in namespace `ns` (`ip netns exec` execs it, so the PID is
// the program's), stdout and stderr to `log_path`; SIGKILLed when the
// starting thread dies (PR_SET_PDEATHSIG); tracked for EmergencyCleanup.
// -1 when fork failed.
inline pid_t Spawn(const std::string& ns, const std::vector<std::string>& argv,
                   const std::string& log_path, LogMode mode = LogMode::kAppend) {
  std::vector<std::string> all = {"ip", "netns", "exec", ns};
  all.insert(all.end(), argv.begin(), argv.end());
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // the test dies -> so does this
    const int flags = O_WRONLY | O_CREAT | (mode == LogMode::kAppend ? O_APPEND : O_TRUNC);
    const int fd = open(log_path.c_str(), flags, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> args;
    for (std::string& a : all) args.push_back(a.data());
    args.push_back(nullptr);
    execvp("ip", args.data());
    _exit(127);
  }
  if (pid > 0) TrackPid(pid);
  return pid;
}

// SIGTERM, then SIGKILL after `grace`; reaped and untracked. The exit code,
// or -1 (killed by a signal, not a child, or reaped before).
inline int Stop(pid_t pid, milliseconds grace) {
  if (pid <= 0) return -1;
  int status = 0;
  auto exit_code = [&] { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; };
  if (waitpid(pid, &status, WNOHANG) == pid) {
    UntrackPid(pid);
    return exit_code();
  }
  if (kill(pid, 0) != 0) return -1;  // reaped before
  kill(pid, SIGTERM);
  const bool exited = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, grace);
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  UntrackPid(pid);
  return exited ? exit_code() : -1;
}

// A program started by Spawn(); SIGKILLed and reaped when destroyed.
class Process {
 public:
  Process(const std::string& ns, const std::vector<std::string>& argv, const std::string& log_path,
          LogMode mode = LogMode::kAppend)
      : pid_(Spawn(ns, argv, log_path, mode)) {}
  ~Process() { Kill(SIGKILL); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Reaps the process if it exited.
  bool running() {
    if (pid_ <= 0 || exited_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      UntrackPid(pid_);
    }
    return !exited_;
  }
  // -1 until it exited with a code (or when a signal ended it).
  int exit_code() const { return exit_code_; }
  void Signal(int sig) {
    if (running()) kill(pid_, sig);
  }
  // Waits (bounded) for the exit; true when it exited.
  bool Wait(milliseconds timeout) {
    return WaitFor([this] { return !running(); }, timeout);
  }
  // `sig`, then SIGKILL if it has not exited within 3 s.
  void Kill(int sig) {
    if (!running()) return;
    kill(pid_, sig);
    if (!Wait(milliseconds(3000))) {
      kill(pid_, SIGKILL);
      Wait(milliseconds(3000));
    }
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

// The packet tests' topology, built by tests/netns/topology.sh: `up PREFIX
// MODE N` (client PREFIXc, director PREFIXd, real servers PREFIXr1..N on a
// bridge in PREFIXsw), and the programs a test spawns in it. Destroying it
// stops those programs (latest first, `grace` each) and runs `down PREFIX`.
class ScriptTopology {
 public:
  ScriptTopology(std::string script, std::string prefix, const std::string& mode, int servers,
                 std::string log_dir, milliseconds grace)
      : script_(std::move(script)),
        prefix_(std::move(prefix)),
        log_dir_(std::move(log_dir)),
        grace_(grace) {
    ok_ = Shell(script_ + " up " + prefix_ + " " + mode + " " + std::to_string(servers) +
                " 2>&1") == 0;
  }
  ~ScriptTopology() {
    for (auto it = pids_.rbegin(); it != pids_.rend(); ++it) (void)netns::Stop(*it, grace_);
    (void)Shell(script_ + " down " + prefix_);
  }
  ScriptTopology(const ScriptTopology&) = delete;
  ScriptTopology& operator=(const ScriptTopology&) = delete;

  bool ok() const { return ok_; }
  std::string Ns(const std::string& node) const { return prefix_ + node; }

  // Starts argv on `node`; stdout and stderr to LOG_DIR/log (truncated).
  pid_t Spawn(const std::string& node, const std::vector<std::string>& argv,
              const std::string& log) {
    const pid_t pid = netns::Spawn(Ns(node), argv, log_dir_ + "/" + log, LogMode::kTruncate);
    if (pid > 0) pids_.push_back(pid);
    return pid;
  }
  // netns::Stop with this topology's grace; forgets the PID.
  int Stop(pid_t pid) {
    std::erase(pids_, pid);
    return netns::Stop(pid, grace_);
  }

  // `cmd` run by sh on `node`; its stdout (stderr dropped).
  std::string Exec(const std::string& node, const std::string& cmd, int* status = nullptr) {
    std::string out;
    const int st = Shell("ip netns exec " + Ns(node) + " sh -c '" + cmd + "' 2>/dev/null", &out);
    if (status != nullptr) *status = st;
    return out;
  }

 private:
  std::string script_;
  std::string prefix_;
  std::string log_dir_;
  milliseconds grace_;
  bool ok_ = false;
  std::vector<pid_t> pids_;
};

}  // namespace netns

#endif  // LBD_TESTS_NETNS_NETNS_H_
