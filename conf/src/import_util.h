// Internal to lbd_conf: what the keepalived and ipvsadm converters share.
//
// Thread-safety: plain values and pure functions.
#ifndef LBD_CONF_SRC_IMPORT_UTIL_H_
#define LBD_CONF_SRC_IMPORT_UTIL_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "lbd/conf/import.h"

namespace lbd::import {

// Past this many errors a converter stops: the input is not a config file.
inline constexpr size_t kMaxErrors = 50;

inline bool Same(const Endpoint& a, const Endpoint& b) { return a.ip == b.ip && a.port == b.port; }

inline std::string At(const std::string& file, int line) {
  return file + ":" + std::to_string(line);
}

// The first line holding a NUL or another control character than tab, CR or
// LF (text configs have none), or 0.
inline int FirstBinaryLine(std::string_view text) {
  int line = 1;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      ++line;
    } else if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
      return line;
    }
  }
  return 0;
}

// A name lbd accepts (1..64 of letters, digits, '_', '-', '.'): others
// become '_'.
inline std::string SafeName(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 64)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    out += ok ? c : '_';
  }
  return out.empty() ? "_" : out;
}

// A decimal integer in [low, high], the whole of `text`.
inline bool ParseInt(std::string_view text, long long low, long long high, long long& out) {
  if (text.empty() || text.size() > 18) return false;
  long long v = 0;
  size_t i = 0;
  bool negative = false;
  if (text[0] == '-') {
    negative = true;
    i = 1;
    if (text.size() == 1) return false;
  }
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    v = v * 10 + (text[i] - '0');
  }
  if (negative) v = -v;
  if (v < low || v > high) return false;
  out = v;
  return true;
}

}  // namespace lbd::import

#endif  // LBD_CONF_SRC_IMPORT_UTIL_H_
