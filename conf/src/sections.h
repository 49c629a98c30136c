// Internal header of lbd_conf (not installed).
//
// The schema walk, one function per section of the file. Each fills its part
// of Config from a Value, reporting every problem to the Value's Diagnostics
// and carrying on; the caller decides from Diagnostics whether the Config is
// usable.
#ifndef LBD_CONF_SRC_SECTIONS_H_
#define LBD_CONF_SRC_SECTIONS_H_

#include <vector>

#include "lbd/conf/config.h"
#include "yaml_reader.h"

namespace lbd::conf_internal {

// The whole file: global, virtual_services, vrrp (in that order of reading,
// whatever their order in the file, since vrrp refers to services).
Config ReadConfig(const Value& root);

// `addresses` holds every listening address seen so far (metrics, VIPs).
void ReadGlobal(const Value& value, UniqueSet* addresses, GlobalConfig* out);
// `global` is read first: its access_log is each service's default.
void ReadServices(const Value& value, const GlobalConfig& global, UniqueSet* addresses,
                  std::vector<VirtualServiceConfig>* out);
// A service's check (`base` = nullptr: `type` is required when any key is
// given), or a real server's override of `*base` (only the keys given change).
void ReadHealthCheck(const Value& value, const HealthCheckConfig* base, HealthCheckConfig* out);
void ReadVrrp(const Value& value, const std::vector<VirtualServiceConfig>& services,
              std::vector<VrrpInstanceConfig>* out);

}  // namespace lbd::conf_internal

#endif  // LBD_CONF_SRC_SECTIONS_H_
