#include "lbd/daemon/service_table.h"

#include <unistd.h>

#include "lbd/sys/socket.h"

namespace lbd {

Result<std::shared_ptr<const ListenerSet>> ListenerSet::Open(Endpoint listen, int count) {
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    auto fd = OpenTcpListener(listen, /*reuse_port=*/true);
    if (!fd.ok()) {
      for (int f : fds) close(f);
      return fd.status();
    }
    fds.push_back(*fd);
  }
  return std::shared_ptr<const ListenerSet>(new ListenerSet(listen, std::move(fds)));
}

ListenerSet::~ListenerSet() {
  for (int f : fds_) close(f);
}

}  // namespace lbd
