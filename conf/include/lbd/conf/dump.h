// Public header of lbd_conf.
//
// DumpConfig(): a Config back as YAML that LoadConfigString() accepts and
// turns into the same Config (source marks and `file` aside): every key is
// written, defaults included, so the text is a complete record of what runs
// (`lbctl dump`). The output is canonical: dumping the reloaded Config gives
// the same text.
//
// Thread-safety: pure functions.
#ifndef LBD_CONF_DUMP_H_
#define LBD_CONF_DUMP_H_

#include <functional>
#include <string>

#include "lbd/conf/config.h"

namespace lbd {

// A comment for a real server's line (without '#'; empty: none), e.g. the
// daemon's "disabled (lbctl disable)". Newlines in it are replaced.
using ServerComment = std::function<std::string(const std::string& service, Endpoint server)>;

std::string DumpConfig(const Config& config, const ServerComment& comment = nullptr);

// A duration the way the file writes it, in the largest exact unit: "1h",
// "5m", "2s", "500ms", "0s".
std::string FormatDuration(Duration d);

}  // namespace lbd

#endif  // LBD_CONF_DUMP_H_
