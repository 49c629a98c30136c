// Public header of lbd_conf.
//
// Loading and validating the YAML configuration. Every problem found is
// reported (not only the first), each with the place it was found, formatted
// "FILE:LINE:COL: message" by ConfigError::ToString(); unknown keys are
// errors. yaml-cpp exceptions never leave this library.
//
// Thread-safety: the functions are reentrant.
#ifndef LBD_CONF_LOADER_H_
#define LBD_CONF_LOADER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lbd/conf/config.h"
#include "lbsched/status.h"

namespace lbd {

struct ConfigError {
  std::string file;
  int line = 0;    // 1-based; 0 when the file could not be read at all
  int column = 0;  // 1-based
  std::string message;

  std::string ToString() const;  // "file:line:col: message"
};

struct LoadResult {
  std::optional<Config> config;     // set exactly when errors is empty
  std::vector<ConfigError> errors;  // in file order
};

LoadResult LoadConfigFile(const std::string& path);
// `file_name` is used in messages and stored in Config::file.
LoadResult LoadConfigString(std::string_view yaml, const std::string& file_name);

// "500ms", "2s", "5m", "1h", "0s"; a bare number is an error.
Result<Duration> ParseDuration(std::string_view text);

}  // namespace lbd

#endif  // LBD_CONF_LOADER_H_
