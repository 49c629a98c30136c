// Header of lbd_sys (internal to lbd: not installed).
//
// Logging to stderr: one line per event, "2026-01-02T03:04:05.678Z LEVEL message".
//
// Thread-safety: Log() may be called from any thread; each line is written with
// one write(2), so lines from different threads never interleave.
#ifndef LBD_SYS_LOG_H_
#define LBD_SYS_LOG_H_

#include <string_view>

namespace lbd {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Messages below `level` are dropped. Default: kInfo.
void SetLogLevel(LogLevel level);
// "debug" "info" "warning" "error"; anything else leaves the level unchanged and returns false.
bool SetLogLevel(std::string_view name);
bool LogEnabled(LogLevel level);

void Log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace lbd

#define LBD_LOG(level, ...)                            \
  do {                                                 \
    if (::lbd::LogEnabled(::lbd::LogLevel::level)) {   \
      ::lbd::Log(::lbd::LogLevel::level, __VA_ARGS__); \
    }                                                  \
  } while (0)

#endif  // LBD_SYS_LOG_H_
