// HttpResponseParser: framing by Content-Length, chunked and close; interim
// responses; errors and caps; every input also fed one byte at a time.
#include "http_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace lbd {
namespace {

using State = HttpResponseParser::State;

struct Parsed {
  State state;
  int status;
  std::string body;
  std::string error;
};

// Feeds `input` in pieces of `step` bytes (0 = all at once), then EOF if `eof`.
Parsed Parse(const std::string& input, size_t step, bool eof, bool want_body = true,
             size_t max_body = HttpResponseParser::kDefaultMaxBody) {
  HttpResponseParser p(want_body, max_body);
  State s = State::kNeedMore;
  if (step == 0) step = input.size() + 1;
  for (size_t i = 0; i < input.size() && s == State::kNeedMore; i += step) {
    s = p.Feed(std::string_view(input).substr(i, step));
  }
  if (eof) s = p.FeedEof();
  return {s, p.status(), p.body(), s == State::kError ? p.error() : ""};
}

// Both whole and byte by byte must agree.
void ExpectDone(const std::string& input, bool eof, int status, const std::string& body) {
  for (size_t step : {size_t{0}, size_t{1}, size_t{7}}) {
    Parsed r = Parse(input, step, eof);
    EXPECT_EQ(r.state, State::kDone) << "step " << step << ": " << r.error;
    EXPECT_EQ(r.status, status) << "step " << step;
    EXPECT_EQ(r.body, body) << "step " << step;
  }
}

void ExpectError(const std::string& input, bool eof) {
  for (size_t step : {size_t{0}, size_t{1}}) {
    EXPECT_EQ(Parse(input, step, eof).state, State::kError) << "step " << step;
  }
}

TEST(HttpParser, ContentLength) {
  ExpectDone("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello", false, 200, "hello");
  // Bytes after the body are not part of it.
  ExpectDone("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello", false, 200, "he");
  ExpectDone("HTTP/1.1 204 No Content\r\n\r\n", false, 204, "");
  ExpectDone("HTTP/1.1 200 OK\r\ncontent-length:0\r\n\r\n", false, 200, "");
}

TEST(HttpParser, StatusLineVariants) {
  ExpectDone("HTTP/1.0 500 Internal Server Error\r\nContent-Length: 1\r\n\r\nx", false, 500, "x");
  ExpectDone("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", false, 404, "");   // no reason
  ExpectDone("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false, 200, "ok");  // bare LF
}

TEST(HttpParser, ReadUntilClose) {
  // HTTP/1.0 without a length: the body ends with the connection.
  ExpectDone("HTTP/1.0 200 OK\r\nServer: x\r\n\r\nline1\nline2\n", true, 200, "line1\nline2\n");
  Parsed r = Parse("HTTP/1.0 200 OK\r\n\r\nabc", 0, false);
  EXPECT_EQ(r.state, State::kNeedMore);
  // A transfer coding other than chunked last: also until close.
  ExpectDone("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz", true, 200, "zz");
}

TEST(HttpParser, Chunked) {
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n"
      "1;ext=1\r\n,\r\n"
      "A\r\n 012345678\r\n"  // 10 bytes
      "0\r\nX-Trailer: t\r\n\r\n";
  ExpectDone(chunked, false, 200, "hello, 012345678");
  // Chunked wins over Content-Length (RFC 9112 §6.3).
  ExpectDone(
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
      "2\r\nok\r\n0\r\n\r\n",
      false, 200, "ok");
}

TEST(HttpParser, SkipsInterimResponses) {
  ExpectDone("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false,
             200, "ok");
}

TEST(HttpParser, HeadersOnlyWhenBodyNotWanted) {
  Parsed r = Parse("HTTP/1.1 503 Busy\r\nContent-Length: 100\r\n\r\n", 0, false,
                   /*want_body=*/false);
  EXPECT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.status, 503);
}

TEST(HttpParser, Errors) {
  ExpectError("", true);                                                  // closed, nothing sent
  ExpectError("SSH-2.0-OpenSSH\r\n", false);                              // not HTTP
  ExpectError("HTTP/1.1 2x0 OK\r\n\r\n", false);                          // bad code
  ExpectError("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true);  // short body
  ExpectError("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false);
  ExpectError("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false);
  ExpectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false);
  ExpectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n", false);
  ExpectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n", true);
  ExpectError("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", false);
  ExpectError("HTTP/1.1 101 Switching Protocols\r\n\r\n", false);
}

TEST(HttpParser, CapsBodyAndHeaders) {
  const std::string big(2000, 'b');
  EXPECT_EQ(
      Parse("HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + big, 0, false, true, 1000).state,
      State::kError);
  EXPECT_EQ(Parse("HTTP/1.1 200 OK\r\n\r\n" + big, 1, true, true, 1000).state, State::kError);
  EXPECT_EQ(
      Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7D0\r\n" + big + "\r\n0\r\n\r\n",
            0, false, true, 1000)
          .state,
      State::kError);
  // Exactly at the cap is fine.
  Parsed ok = Parse("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + big.substr(0, 1000), 0,
                    false, true, 1000);
  EXPECT_EQ(ok.state, State::kDone);
  // Endless headers.
  std::string headers = "HTTP/1.1 200 OK\r\n";
  while (headers.size() < HttpResponseParser::kMaxHeaderBytes + 10)
    headers += "X-Pad: 0123456789\r\n";
  EXPECT_EQ(Parse(headers, 0, false).state, State::kError);
  EXPECT_EQ(Parse(std::string(HttpResponseParser::kMaxHeaderBytes + 10, 'a'), 0, false).state,
            State::kError);
}

}  // namespace
}  // namespace lbd
