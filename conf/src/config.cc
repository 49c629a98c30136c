// ToString() for the enums of config.h and ConfigError.
#include "lbd/conf/config.h"

#include "lbd/conf/loader.h"

namespace lbd {

const char* ToString(Forwarding f) {
  switch (f) {
    case Forwarding::kProxy:
      return "proxy";
    case Forwarding::kNat:
      return "nat";
    case Forwarding::kDr:
      return "dr";
    case Forwarding::kTun:
      return "tun";
  }
  return "?";
}

const char* ToString(HealthCheckType t) {
  switch (t) {
    case HealthCheckType::kNone:
      return "none";
    case HealthCheckType::kTcp:
      return "tcp";
    case HealthCheckType::kHttp:
      return "http";
    case HealthCheckType::kExec:
      return "exec";
  }
  return "?";
}

std::string ConfigError::ToString() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

}  // namespace lbd
