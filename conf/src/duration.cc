// ParseDuration: "<integer><unit>", unit one of ms s m h.
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>

#include "lbd/conf/loader.h"

namespace lbd {

Result<Duration> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return Status::Error("bad duration '" + std::string(text) +
                         "' (expected an integer and a unit: ms, s, m or h, as in 500ms, 2s, 5m)");
  };
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  uint64_t count = 0;
  auto [unit_begin, ec] = std::from_chars(begin, end, count);
  if (ec == std::errc::result_out_of_range) {
    return Status::Error("duration '" + std::string(text) + "' is too large");
  }
  if (ec != std::errc() || unit_begin == begin) return bad();
  std::string_view unit(unit_begin, static_cast<size_t>(end - unit_begin));
  uint64_t ms_per_unit = 0;
  if (unit == "ms") {
    ms_per_unit = 1;
  } else if (unit == "s") {
    ms_per_unit = 1000;
  } else if (unit == "m") {
    ms_per_unit = 60 * 1000;
  } else if (unit == "h") {
    ms_per_unit = 60 * 60 * 1000;
  } else {
    return bad();
  }
  // Durations are int64 milliseconds; refuse what would not fit.
  constexpr uint64_t kMaxMs = static_cast<uint64_t>(std::numeric_limits<Duration::rep>::max());
  if (count > kMaxMs / ms_per_unit) {
    return Status::Error("duration '" + std::string(text) + "' is too large");
  }
  return Duration(static_cast<Duration::rep>(count * ms_per_unit));
}

}  // namespace lbd
