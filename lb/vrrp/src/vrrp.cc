#include "lbd/vrrp/vrrp.h"

#include <sys/time.h>

#include <cstdio>
#include <ctime>

#include "instance.h"

namespace lbd::vrrp {
namespace {

void LogToStderr(const std::string& line) {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm parts{};
  gmtime_r(&tv.tv_sec, &parts);
  char stamp[32];
  strftime(stamp, sizeof(stamp), "%H:%M:%S", &parts);
  std::fprintf(stderr, "%s.%03ld %s\n", stamp, static_cast<long>(tv.tv_usec / 1000), line.c_str());
}

class VrrpImpl : public Vrrp {
 public:
  VrrpImpl(const Options& options, std::unique_ptr<CommandRunner> runner)
      : options_(options), runner_(std::move(runner)) {
    if (!options_.log) options_.log = LogToStderr;
  }

  Status Add(struct ev_loop* loop, const InstanceOptions& config) {
    auto instance = internal::Instance::Create(loop, config, options_, runner_.get());
    if (!instance.ok()) return instance.status();
    instances_.push_back(std::move(*instance));
    return Status::Ok();
  }

  void Start() override {
    for (auto& i : instances_) i->Start();
  }
  void Stop() override {
    for (auto& i : instances_) i->Stop();
  }
  std::vector<InstanceStatus> Snapshot() const override {
    std::vector<InstanceStatus> out;
    for (const auto& i : instances_) out.push_back(i->Snapshot());
    return out;
  }
  void SetServiceUp(std::string_view service, bool up) override {
    for (auto& i : instances_) i->SetServiceUp(service, up);
  }

 private:
  Options options_;  // before instances_: they keep a reference
  std::unique_ptr<CommandRunner> runner_;
  std::vector<std::unique_ptr<internal::Instance>> instances_;
};

}  // namespace

Result<std::unique_ptr<Vrrp>> Vrrp::Create(struct ev_loop* loop,
                                           const std::vector<InstanceOptions>& instances,
                                           const Options& options) {
  auto impl = std::make_unique<VrrpImpl>(options, CommandRunner::Create(loop));
  for (const InstanceOptions& instance : instances) {
    Status s = impl->Add(loop, instance);
    if (!s.ok()) return s;
  }
  return std::unique_ptr<Vrrp>(std::move(impl));
}

}  // namespace lbd::vrrp
