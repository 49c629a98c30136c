// libFuzzer target: the YAML configuration loader (LoadConfigString) and
// ParseDuration. Contract under test (lbd/conf/loader.h): any text yields a
// config or a list of errors, never a crash or an exception, and a config
// exactly when there are no errors.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lbd/conf/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  lbd::LoadResult result = lbd::LoadConfigString(text, "fuzz.yaml");
  if (result.config.has_value() == !result.errors.empty()) std::abort();
  for (const lbd::ConfigError& e : result.errors) (void)e.ToString();
  if (size < 64) (void)lbd::ParseDuration(text);
  return 0;
}
