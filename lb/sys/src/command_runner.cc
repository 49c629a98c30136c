#include "lbd/sys/command_runner.h"

#include <algorithm>

#include "lbd/sys/subprocess.h"

namespace lbd {
namespace {

class CommandRunnerImpl final : public CommandRunner {
 public:
  explicit CommandRunnerImpl(struct ev_loop* loop) : loop_(loop) {}

  ~CommandRunnerImpl() override {
    for (auto& child : children_) child->Detach();
  }

  Status Run(const std::string& command,
             const std::vector<std::pair<std::string, std::string>>& env) override {
    Purge();
    auto child = Subprocess::Spawn(loop_, command, env, [](int /*status*/) {});
    if (!child.ok()) return child.status();
    children_.push_back(std::move(child).value());
    return Status::Ok();
  }

  size_t running() const override {
    return static_cast<size_t>(std::count_if(children_.begin(), children_.end(),
                                             [](const auto& c) { return c->running(); }));
  }

 private:
  void Purge() {
    std::erase_if(children_, [](const std::unique_ptr<Subprocess>& c) { return !c->running(); });
  }

  struct ev_loop* loop_;
  std::vector<std::unique_ptr<Subprocess>> children_;
};

}  // namespace

std::unique_ptr<CommandRunner> CommandRunner::Create(struct ev_loop* loop) {
  return std::make_unique<CommandRunnerImpl>(loop);
}

}  // namespace lbd
