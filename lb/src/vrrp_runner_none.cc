// The VRRP seam when lbd is built without lbd_vrrp.
#include "lbd/lb/vrrp_runner.h"

namespace lbd {

Result<std::unique_ptr<VrrpRunner>> NewVrrpRunner(struct ev_loop*,
                                                  const std::vector<VrrpInstanceConfig>&) {
  return Status::Error("this lbd was built without VRRP (lb/vrrp)");
}

}  // namespace lbd
