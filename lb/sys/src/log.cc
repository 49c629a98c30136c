#include "lbd/sys/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace lbd {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

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
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm utc;
  gmtime_r(&tv.tv_sec, &utc);
  size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &utc);
  int m = snprintf(line + n, sizeof(line) - n, ".%03dZ %s ", static_cast<int>(tv.tv_usec / 1000),
                   LevelName(level));
  if (m > 0) n += static_cast<size_t>(m);
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
