// Internal header of lbd_healthcheck.
//
// HttpResponseParser: an incremental parser for the one response to a health
// check's GET (RFC 9112): status line, headers, then the body framed by
// Transfer-Encoding: chunked, Content-Length, or the end of the connection
// (§6.3). Interim 1xx responses are skipped; 204, 304 have no body. The body
// is kept (up to a cap) for the digest.
//
// Thread-safety: plain value.
#ifndef LBD_HEALTHCHECK_HTTP_PARSER_H_
#define LBD_HEALTHCHECK_HTTP_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lbd {

class HttpResponseParser {
 public:
  enum class State { kNeedMore, kDone, kError };

  static constexpr size_t kMaxHeaderBytes = 64 * 1024;
  static constexpr size_t kDefaultMaxBody = 1024 * 1024;

  // want_body = false: done as soon as the headers of the final response are
  // in (the status is all that is wanted). A body longer than max_body is an
  // error.
  explicit HttpResponseParser(bool want_body = true, size_t max_body = kDefaultMaxBody);

  // Feeds the next bytes received. Once kDone or kError, further input is
  // ignored and the state stays.
  State Feed(std::string_view data);
  // The peer closed the connection.
  State FeedEof();

  State state() const { return state_; }
  // Valid once the status line is parsed.
  int status() const { return status_; }
  int version_minor() const { return version_minor_; }  // HTTP/1.x
  const std::string& body() const { return body_; }
  // REQUIRES: state() == kError.
  const std::string& error() const { return error_; }

 private:
  enum class Phase {
    kStatusLine,
    kHeaders,
    kBodyLength,
    kBodyUntilClose,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kFinished,
  };

  State Fail(std::string message);
  State Run();
  // Takes one line (without CRLF or LF) from buf_; false if none complete.
  bool TakeLine(std::string* line);
  bool ParseStatusLine(const std::string& line);
  bool ParseHeader(const std::string& line);
  State EndOfHeaders();
  bool AppendBody(std::string_view data);

  bool want_body_;
  size_t max_body_;
  State state_ = State::kNeedMore;
  Phase phase_ = Phase::kStatusLine;
  std::string buf_;  // received, not yet consumed
  size_t header_bytes_ = 0;
  int status_ = 0;
  int version_minor_ = 1;
  bool chunked_ = false;
  bool has_te_ = false;
  bool has_length_ = false;
  uint64_t content_length_ = 0;
  uint64_t remaining_ = 0;  // of the body (kBodyLength) or the chunk (kChunkData)
  std::string body_;
  std::string error_;
};

}  // namespace lbd

#endif  // LBD_HEALTHCHECK_HTTP_PARSER_H_
