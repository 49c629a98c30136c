#include "lbd/sys/log.h"

#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace lbd {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_sink{static_cast<int>(LogSink::kStderr)};

// syslog(3) priorities; the journal reads the same numbers from a "<N>" prefix
// (sd-daemon(3)).
int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return LOG_DEBUG;
    case LogLevel::kInfo:
      return LOG_INFO;
    case LogLevel::kWarning:
      return LOG_WARNING;
    case LogLevel::kError:
      return LOG_ERR;
  }
  return LOG_NOTICE;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}

}  // namespace

void SetLogSink(LogSink sink) {
  if (sink == LogSink::kSyslog) openlog("lbd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
  g_sink.store(static_cast<int>(sink));
}

std::optional<LogSink> ParseLogSink(std::string_view name) {
  if (name == "stderr") return LogSink::kStderr;
  if (name == "syslog") return LogSink::kSyslog;
  if (name == "journal") return LogSink::kJournal;
  return std::nullopt;
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool SetLogLevel(std::string_view name) {
  if (name == "debug") {
    SetLogLevel(LogLevel::kDebug);
  } else if (name == "info") {
    SetLogLevel(LogLevel::kInfo);
  } else if (name == "warning") {
    SetLogLevel(LogLevel::kWarning);
  } else if (name == "error") {
    SetLogLevel(LogLevel::kError);
  } else {
    return false;
  }
  return true;
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void Log(LogLevel level, const char* format, ...) {
  char line[2048];
  size_t n = 0;
  const auto sink = static_cast<LogSink>(g_sink.load(std::memory_order_relaxed));
  if (sink == LogSink::kSyslog) {
    va_list args;
    va_start(args, format);
    vsyslog(SyslogPriority(level), format, args);
    va_end(args);
    return;
  }
  if (sink == LogSink::kJournal) {
    // The journal stamps the time itself; "<N>" carries the priority.
    n = static_cast<size_t>(snprintf(line, sizeof(line), "<%d>", SyslogPriority(level)));
  } else {
    timeval tv;
    gettimeofday(&tv, nullptr);
    tm utc;
    gmtime_r(&tv.tv_sec, &utc);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &utc);
    int m = snprintf(line + n, sizeof(line) - n, ".%03dZ %s ", static_cast<int>(tv.tv_usec / 1000),
                     LevelName(level));
    if (m > 0) n += static_cast<size_t>(m);
  }
  va_list args;
  va_start(args, format);
  int k = vsnprintf(line + n, sizeof(line) - n - 1, format, args);
  va_end(args);
  if (k > 0) n += std::min(static_cast<size_t>(k), sizeof(line) - n - 2);
  line[n++] = '\n';
  ssize_t ignored = write(STDERR_FILENO, line, n);
  (void)ignored;
}

}  // namespace lbd
