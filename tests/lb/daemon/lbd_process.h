// RAII handles for the real binaries: LbdProcess runs `lbd -c FILE` with its
// stderr in a log file; Run() runs a command to completion with a deadline.
// Every child is killed by PID (SIGKILL) if still running when its handle dies.
#ifndef LBD_TESTS_LB_LBD_PROCESS_H_
#define LBD_TESTS_LB_LBD_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "lb_test_util.h"

namespace lbtest {

struct RunResult {
  int exit_code = -1;  // -1: killed at the deadline or by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] with argv, stdout/stderr captured through files in `dir`.
inline RunResult RunProgram(const TempDir& dir, const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout = 10000ms) {
  static int counter = 0;
  std::string out_path = dir.File("run" + std::to_string(++counter) + ".out");
  std::string err_path = out_path + ".err";
  pid_t pid = fork();
  if (pid == 0) {
    int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  RunResult r;
  int status = 0;
  bool done = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  } else if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  }
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  return r;
}

class LbdProcess {
 public:
  // Writes `config` to DIR/lbd.yaml (the socket path is DIR/lbd.sock).
  LbdProcess(const TempDir& dir, const std::string& config)
      : dir_(dir), config_path_(dir.File("lbd.yaml")), socket_path_(dir.File("lbd.sock")) {
    WriteConfig(config);
  }
  ~LbdProcess() { Kill(); }
  LbdProcess(const LbdProcess&) = delete;
  LbdProcess& operator=(const LbdProcess&) = delete;

  void WriteConfig(const std::string& config) {
    // Write then rename: lbd never reads a half-written file.
    std::string tmp = config_path_ + ".tmp";
    { std::ofstream(tmp) << config; }
    std::rename(tmp.c_str(), config_path_.c_str());
  }

  // Starts lbd and waits until its control socket answers.
  bool Start() {
    std::string log = dir_.File("lbd.log");
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      dup2(fd, 1);
      dup2(fd, 2);
      execl(LBD_PATH, "lbd", "-c", config_path_.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    return WaitFor([&] { return !Exited() && Ctl({"status"}).exit_code == 0; }, 10000ms);
  }

  RunResult Ctl(std::vector<std::string> args) const {
    std::vector<std::string> argv = {LBCTL_PATH, "-s", socket_path_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(dir_, argv);
  }

  void Signal(int sig) const {
    if (pid_ > 0) kill(pid_, sig);
  }
  bool Exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      pid_ = -1;
      return true;
    }
    return false;
  }
  // The exit code once lbd exited within `timeout`.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout) {
    if (!WaitFor([&] { return Exited(); }, timeout)) return std::nullopt;
    return exit_code_;
  }
  void Kill() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  pid_t pid() const { return pid_; }
  std::string Log() const { return ReadFile(dir_.File("lbd.log")); }
  const std::string& config_path() const { return config_path_; }
  const std::string& socket_path() const { return socket_path_; }

 private:
  const TempDir& dir_;
  std::string config_path_;
  std::string socket_path_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// Resident memory of a process in KiB (VmRSS).
inline long RssKib(pid_t pid) {
  std::string s = ReadFile("/proc/" + std::to_string(pid) + "/status");
  size_t p = s.find("VmRSS:");
  return p == std::string::npos ? -1 : std::stol(s.substr(p + 6));
}

}  // namespace lbtest

#endif  // LBD_TESTS_LB_LBD_PROCESS_H_
