// Helpers shared by the lbd_conf tests.
#ifndef LBD_TESTS_CONF_CONF_TEST_UTIL_H_
#define LBD_TESTS_CONF_CONF_TEST_UTIL_H_

#include <string>
#include <string_view>
#include <vector>

#include "lbd/conf/loader.h"

namespace lbd::testing {

// Loads `yaml` as the file "t.yaml". A leading newline is dropped, so that a
// raw string literal's first line is line 1.
inline LoadResult Load(std::string_view yaml) {
  if (!yaml.empty() && yaml.front() == '\n') yaml.remove_prefix(1);
  return LoadConfigString(yaml, "t.yaml");
}

// The errors of Load(yaml) as "t.yaml:LINE:COL: message".
inline std::vector<std::string> Errors(std::string_view yaml) {
  std::vector<std::string> out;
  for (const ConfigError& e : Load(yaml).errors) out.push_back(e.ToString());
  return out;
}

}  // namespace lbd::testing

#endif  // LBD_TESTS_CONF_CONF_TEST_UTIL_H_
