// The http check: keepalived's HTTP_GET (check_http.c) without TLS.
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "http_parser.h"
#include "md5.h"
#include "socket_probe.h"

namespace lbd {
namespace {

bool StatusExpected(const std::vector<HttpStatusRange>& ranges, int status) {
  for (const HttpStatusRange& r : ranges) {
    if (status >= r.low && status <= r.high) return true;
  }
  return false;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (std::tolower(x) != std::tolower(y)) return false;
  }
  return true;
}

class HttpProbe final : public SocketProbe {
 public:
  HttpProbe(struct ev_loop* loop, Endpoint address, const CheckOptions& cfg)
      : SocketProbe(loop, address),
        expect_status_(cfg.expect_status.empty() ? std::vector<HttpStatusRange>{{200, 299}}
                                                 : cfg.expect_status),
        expect_md5_(cfg.expect_md5),
        parser_(/*want_body=*/!cfg.expect_md5.empty()) {
    std::string host = cfg.host;
    if (host.empty()) {
      host = Ipv4ToString(address.ip);
      if (address.port != 80) host += ":" + std::to_string(address.port);
    }
    request_ = "GET " + cfg.path + " HTTP/1.1\r\nHost: " + host +
               "\r\nUser-Agent: lbd-healthcheck\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  }

 private:
  void OnConnected() override { SendSome(); }

  void OnReady(int events) override {
    if (sent_ < request_.size()) {
      if (events & EV_WRITE) SendSome();
      return;
    }
    if (events & EV_READ) ReadSome();
  }

  void SendSome() {
    while (sent_ < request_.size()) {
      const ssize_t n = send(fd(), request_.data() + sent_, request_.size() - sent_, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return Watch(EV_WRITE);
        return FinishErrno("send", errno);
      }
      sent_ += static_cast<size_t>(n);
    }
    Watch(EV_READ);
  }

  void ReadSome() {
    char buf[16 * 1024];
    // A bounded number of reads per wakeup keeps one fast server from
    // starving the rest of the loop.
    for (int i = 0; i < 16; ++i) {
      const ssize_t n = recv(fd(), buf, sizeof(buf), 0);
      HttpResponseParser::State state;
      if (n > 0) {
        state = parser_.Feed(std::string_view(buf, static_cast<size_t>(n)));
      } else if (n == 0) {
        state = parser_.FeedEof();
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      } else {
        return FinishErrno("recv", errno);
      }
      if (state == HttpResponseParser::State::kError) return Finish(false, parser_.error());
      if (state == HttpResponseParser::State::kDone) return Judge();
    }
  }

  void Judge() {
    const std::string status = "status " + std::to_string(parser_.status());
    if (!StatusExpected(expect_status_, parser_.status())) return Finish(false, status);
    if (!expect_md5_.empty()) {
      const std::string digest = Md5::HexDigest(parser_.body());
      if (!EqualsIgnoreCase(digest, expect_md5_)) {
        return Finish(false, status + ", body digest " + digest + " != " + expect_md5_);
      }
      return Finish(true, status + ", digest ok");
    }
    Finish(true, status);
  }

  std::vector<HttpStatusRange> expect_status_;
  std::string expect_md5_;
  HttpResponseParser parser_;
  std::string request_;
  size_t sent_ = 0;
};

}  // namespace

std::unique_ptr<Probe> NewHttpProbe(struct ev_loop* loop, Endpoint address,
                                    const CheckOptions& cfg) {
  return std::make_unique<HttpProbe>(loop, address, cfg);
}

}  // namespace lbd
