// Header of lbd_sys (internal to lbd: not installed).
//
// Logging: one line per event, to one of three sinks (global.log):
// - stderr: "2026-01-02T03:04:05.678Z LEVEL message" (the default);
// - journal: stderr read by journald: "<N>message" with N the syslog priority
//   (sd-daemon(3)), no timestamp of our own, so `journalctl -p warning` filters;
// - syslog: syslog(3), facility daemon, ident "lbd".
// Priorities: debug LOG_DEBUG, info LOG_INFO, warning LOG_WARNING, error LOG_ERR.
//
// Thread-safety: Log() may be called from any thread; each line is written with
// one write(2), so lines from different threads never interleave.
#ifndef LBD_SYS_LOG_H_
#define LBD_SYS_LOG_H_

#include <optional>
#include <string_view>

namespace lbd {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogSink { kStderr = 0, kJournal = 1, kSyslog = 2 };

// Where lines go from now on. Default: kStderr. Call before threads log.
void SetLogSink(LogSink sink);
// "stderr" "journal" "syslog"; anything else: nullopt.
std::optional<LogSink> ParseLogSink(std::string_view name);

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
