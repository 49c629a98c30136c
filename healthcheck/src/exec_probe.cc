// The exec check: keepalived's MISC_CHECK (check_misc.c).
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <string>
#include <utility>

#include "lbd/sys/subprocess.h"
#include "probe.h"

namespace lbd {
namespace {

class ExecProbe final : public Probe {
 public:
  ExecProbe(struct ev_loop* loop, Endpoint server, const CheckOptions& cfg)
      : loop_(loop), server_(server), command_(cfg.command), dynamic_weight_(cfg.dynamic_weight) {}

  std::optional<ProbeResult> Start(Done done) override {
    done_ = std::move(done);
    errno = 0;
    auto child = Subprocess::Spawn(
        loop_, command_,
        {{"LBD_RS_IP", Ipv4ToString(server_.ip)}, {"LBD_RS_PORT", std::to_string(server_.port)}},
        [this](int status) { OnExit(status); });
    if (!child.ok()) {
      // Spawn's last failing call (clone: EAGAIN, ENOMEM; the pidfd: EMFILE)
      // left its errno.
      const int err = errno;
      done_ = nullptr;
      ProbeResult r{false, child.status().message(), std::nullopt};
      r.unknown = IsLocalResourceError(err);
      return r;
    }
    child_ = std::move(child).value();
    return std::nullopt;
  }

  // The child is killed; it stays watched until the kernel has reaped it.
  void Cancel() override {
    done_ = nullptr;
    if (child_ != nullptr) child_->KillGroup();
  }

  bool Releasing() const override { return child_ != nullptr && child_->running(); }

 private:
  void OnExit(int status) {
    Done done = std::move(done_);
    if (!done) return;  // cancelled: the kill's exit
    ProbeResult r;
    if (status == -1) {
      r.message = "child lost";
    } else if (WIFSIGNALED(status)) {
      r.message = "killed by signal " + std::to_string(WTERMSIG(status));
    } else {
      const int code = WEXITSTATUS(status);
      r.message = "exit " + std::to_string(code);
      if (code == 0) {
        r.success = true;
      } else if (code >= 2 && dynamic_weight_) {
        r.success = true;
        r.weight = code - 2;
      }
    }
    done(std::move(r));  // last: may destroy `this`
  }

  struct ev_loop* loop_;
  Endpoint server_;
  std::string command_;
  bool dynamic_weight_;
  Done done_;
  std::unique_ptr<Subprocess> child_;
};

}  // namespace

std::unique_ptr<Probe> NewExecProbe(struct ev_loop* loop, Endpoint server,
                                    const CheckOptions& cfg) {
  return std::make_unique<ExecProbe>(loop, server, cfg);
}

}  // namespace lbd
