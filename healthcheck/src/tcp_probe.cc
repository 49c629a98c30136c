// The tcp check: keepalived's TCP_CHECK (success = the connect completes).
#include <memory>

#include "socket_probe.h"

namespace lbd {

namespace {

class TcpProbe final : public SocketProbe {
 public:
  using SocketProbe::SocketProbe;

 private:
  void OnConnected() override { Finish(true, "connected"); }
  void OnReady(int /*events*/) override {}
};

}  // namespace

std::unique_ptr<Probe> NewTcpProbe(struct ev_loop* loop, Endpoint address) {
  return std::make_unique<TcpProbe>(loop, address);
}

}  // namespace lbd
