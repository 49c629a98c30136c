#include "http_parser.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace lbd {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal without sign; false on empty, junk or overflow.
bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

HttpResponseParser::HttpResponseParser(bool want_body, size_t max_body)
    : want_body_(want_body), max_body_(max_body) {}

HttpResponseParser::State HttpResponseParser::Fail(std::string message) {
  error_ = std::move(message);
  state_ = State::kError;
  buf_.clear();
  return state_;
}

HttpResponseParser::State HttpResponseParser::Feed(std::string_view data) {
  if (state_ != State::kNeedMore) return state_;
  if (phase_ == Phase::kBodyUntilClose) {  // the common bulk case: no copy through buf_
    if (!AppendBody(data)) return state_;
    return state_;
  }
  buf_.append(data);
  return Run();
}

HttpResponseParser::State HttpResponseParser::FeedEof() {
  if (state_ != State::kNeedMore) return state_;
  if (phase_ == Phase::kBodyUntilClose) {
    phase_ = Phase::kFinished;
    return state_ = State::kDone;
  }
  if (phase_ == Phase::kStatusLine && buf_.empty() && header_bytes_ == 0) {
    return Fail("connection closed without a response");
  }
  return Fail("connection closed before the response was complete");
}

bool HttpResponseParser::TakeLine(std::string* line) {
  const size_t nl = buf_.find('\n');
  if (nl == std::string::npos) {
    if (phase_ == Phase::kStatusLine || phase_ == Phase::kHeaders || phase_ == Phase::kTrailers) {
      if (header_bytes_ + buf_.size() > kMaxHeaderBytes) Fail("response headers too large");
    } else if (buf_.size() > 1024) {
      Fail("chunk size line too long");
    }
    return false;
  }
  size_t end = nl;
  if (end > 0 && buf_[end - 1] == '\r') --end;
  line->assign(buf_, 0, end);
  buf_.erase(0, nl + 1);
  if (phase_ == Phase::kStatusLine || phase_ == Phase::kHeaders || phase_ == Phase::kTrailers) {
    header_bytes_ += nl + 1;
    if (header_bytes_ > kMaxHeaderBytes) {
      Fail("response headers too large");
      return false;
    }
  }
  return true;
}

bool HttpResponseParser::ParseStatusLine(const std::string& line) {
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (line.size() < 12 || line.compare(0, 7, "HTTP/1.") != 0 ||
      !std::isdigit(static_cast<unsigned char>(line[7])) || line[8] != ' ') {
    Fail("bad status line");
    return false;
  }
  version_minor_ = line[7] - '0';
  int status = 0;
  for (int i = 9; i < 12; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) {
      Fail("bad status code");
      return false;
    }
    status = status * 10 + (line[i] - '0');
  }
  if (line.size() > 12 && line[12] != ' ') {
    Fail("bad status code");
    return false;
  }
  status_ = status;
  chunked_ = has_te_ = has_length_ = false;
  content_length_ = 0;
  return true;
}

bool HttpResponseParser::ParseHeader(const std::string& line) {
  const size_t colon = line.find(':');
  if (colon == std::string::npos || colon == 0 || line[0] == ' ' || line[0] == '\t') {
    // Obsolete line folding (RFC 9112 §5.2) is not accepted either.
    Fail("bad header line");
    return false;
  }
  const std::string name = Lower(Trim(std::string_view(line).substr(0, colon)));
  const std::string_view value = Trim(std::string_view(line).substr(colon + 1));
  if (name == "content-length") {
    uint64_t n = 0;
    if (!ParseDecimal(value, &n)) {
      Fail("bad Content-Length");
      return false;
    }
    if (has_length_ && n != content_length_) {
      Fail("conflicting Content-Length");
      return false;
    }
    has_length_ = true;
    content_length_ = n;
  } else if (name == "transfer-encoding") {
    // Chunked only when it is the last coding applied (§6.3 rule 4).
    has_te_ = true;
    const std::string codings = Lower(value);
    const size_t comma = codings.rfind(',');
    const std::string_view last =
        Trim(comma == std::string::npos ? std::string_view(codings)
                                        : std::string_view(codings).substr(comma + 1));
    chunked_ = last == "chunked";
  }
  return true;
}

HttpResponseParser::State HttpResponseParser::EndOfHeaders() {
  if (status_ >= 100 && status_ < 200) {
    if (status_ == 101) return Fail("unexpected 101 Switching Protocols");
    phase_ = Phase::kStatusLine;  // interim response: the real one follows
    return State::kNeedMore;
  }
  if (!want_body_ || status_ == 204 || status_ == 304) {
    phase_ = Phase::kFinished;
    return state_ = State::kDone;
  }
  if (has_te_) {
    // §6.3: Transfer-Encoding overrides Content-Length; a final coding other
    // than chunked means the body runs until the close.
    phase_ = chunked_ ? Phase::kChunkSize : Phase::kBodyUntilClose;
  } else if (has_length_) {
    if (content_length_ > max_body_) return Fail("body larger than the cap");
    remaining_ = content_length_;
    phase_ = Phase::kBodyLength;
    if (remaining_ == 0) {
      phase_ = Phase::kFinished;
      return state_ = State::kDone;
    }
  } else {
    phase_ = Phase::kBodyUntilClose;
  }
  if (phase_ == Phase::kBodyUntilClose && !buf_.empty()) {
    std::string rest;
    rest.swap(buf_);
    AppendBody(rest);
  }
  return state_;
}

bool HttpResponseParser::AppendBody(std::string_view data) {
  if (body_.size() + data.size() > max_body_) {
    Fail("body larger than the cap");
    return false;
  }
  body_.append(data);
  return true;
}

HttpResponseParser::State HttpResponseParser::Run() {
  std::string line;
  while (state_ == State::kNeedMore) {
    switch (phase_) {
      case Phase::kStatusLine:
        if (!TakeLine(&line)) return state_;
        if (line.empty()) continue;  // tolerate a stray CRLF before the status line
        if (!ParseStatusLine(line)) return state_;
        phase_ = Phase::kHeaders;
        break;
      case Phase::kHeaders:
        if (!TakeLine(&line)) return state_;
        if (line.empty()) {
          EndOfHeaders();
        } else if (!ParseHeader(line)) {
          return state_;
        }
        break;
      case Phase::kBodyLength: {
        if (buf_.empty()) return state_;
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, buf_.size()));
        if (!AppendBody(std::string_view(buf_).substr(0, take))) return state_;
        buf_.erase(0, take);
        remaining_ -= take;
        if (remaining_ == 0) {
          phase_ = Phase::kFinished;
          state_ = State::kDone;
        }
        break;
      }
      case Phase::kBodyUntilClose:
        if (!buf_.empty()) {
          std::string rest;
          rest.swap(buf_);
          if (!AppendBody(rest)) return state_;
        }
        return state_;
      case Phase::kChunkSize: {
        if (!TakeLine(&line)) return state_;
        // chunk-size [; ext] (RFC 9112 §7.1)
        std::string_view size = Trim(std::string_view(line).substr(0, line.find(';')));
        if (size.empty() || size.size() > 15) return Fail("bad chunk size");
        uint64_t n = 0;
        for (char c : size) {
          const int digit = std::isdigit(static_cast<unsigned char>(c))
                                ? c - '0'
                                : (std::isxdigit(static_cast<unsigned char>(c))
                                       ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                                       : -1);
          if (digit < 0) return Fail("bad chunk size");
          n = n * 16 + static_cast<uint64_t>(digit);
        }
        if (n == 0) {
          phase_ = Phase::kTrailers;
        } else {
          if (body_.size() + n > max_body_) return Fail("body larger than the cap");
          remaining_ = n;
          phase_ = Phase::kChunkData;
        }
        break;
      }
      case Phase::kChunkData: {
        if (buf_.empty()) return state_;
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, buf_.size()));
        if (!AppendBody(std::string_view(buf_).substr(0, take))) return state_;
        buf_.erase(0, take);
        remaining_ -= take;
        if (remaining_ == 0) phase_ = Phase::kChunkDataEnd;
        break;
      }
      case Phase::kChunkDataEnd:
        if (!TakeLine(&line)) return state_;
        if (!line.empty()) return Fail("missing CRLF after chunk data");
        phase_ = Phase::kChunkSize;
        break;
      case Phase::kTrailers:
        if (!TakeLine(&line)) return state_;
        if (line.empty()) {
          phase_ = Phase::kFinished;
          state_ = State::kDone;
        }
        break;
      case Phase::kFinished:
        state_ = State::kDone;
        break;
    }
  }
  return state_;
}

}  // namespace lbd
