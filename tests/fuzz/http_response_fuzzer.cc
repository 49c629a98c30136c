// libFuzzer target: the health check's HTTP response parser
// (healthcheck/src/http_parser.h). Input: one byte of options (bit 0:
// want_body, bits 1-2: the body cap), one byte giving the size of the pieces
// the response is fed in, then the response bytes. Properties: no crash; the
// outcome does not depend on how the bytes were split (a whole Feed() versus
// pieces, then FeedEof()), except that the line-length limits may trip on a
// partial line; a body never exceeds the cap.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http_parser.h"

namespace {

using State = lbd::HttpResponseParser::State;

State Finish(lbd::HttpResponseParser& p) {
  return p.state() == State::kNeedMore ? p.FeedEof() : p.state();
}

// Errors that only the buffering decides (a limit reached while a line is
// still incomplete).
bool LimitError(const lbd::HttpResponseParser& p) {
  return p.state() == State::kError &&
         (p.error() == "response headers too large" || p.error() == "chunk size line too long");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool want_body = (data[0] & 1) != 0;
  static constexpr size_t kCaps[] = {0, 16, 1000, lbd::HttpResponseParser::kDefaultMaxBody};
  const size_t cap = kCaps[(data[0] >> 1) & 3];
  const size_t piece = std::max<size_t>(1, data[1]);
  const std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);

  lbd::HttpResponseParser whole(want_body, cap);
  whole.Feed(text);
  const State a = Finish(whole);

  lbd::HttpResponseParser split(want_body, cap);
  for (size_t i = 0; i < text.size() && split.state() == State::kNeedMore; i += piece) {
    split.Feed(text.substr(i, piece));
  }
  const State b = Finish(split);

  if (a == State::kNeedMore || b == State::kNeedMore) std::abort();  // EOF decides
  if (whole.body().size() > cap || split.body().size() > cap) std::abort();
  if (LimitError(whole) || LimitError(split)) return 0;
  if (a != b) std::abort();
  if (a == State::kDone && (whole.status() != split.status() || whole.body() != split.body() ||
                            whole.version_minor() != split.version_minor())) {
    std::abort();
  }
  if (a == State::kError && whole.error() != split.error()) std::abort();
  return 0;
}
