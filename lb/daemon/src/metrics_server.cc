#include "lbd/daemon/metrics_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "lbd/sys/socket.h"

namespace lbd {
namespace {

constexpr size_t kMaxRequest = 8192;
constexpr size_t kMaxClients = 64;
constexpr double kRequestTimeout = 1.0;   // to send the whole request head
constexpr double kResponseTimeout = 5.0;  // to read the response

std::string HttpResponse(int code, const char* reason, const char* type, std::string_view body) {
  std::string out = "HTTP/1.1 " + std::to_string(code) + " " + reason + "\r\n";
  out += std::string("Content-Type: ") + type + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  out.append(body);
  return out;
}

}  // namespace

std::string MetricsHttpResponse(std::string_view head, const std::string& metrics_body) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      line.substr(sp2 + 1, 5) != "HTTP/") {
    return HttpResponse(400, "Bad Request", "text/plain", "bad request\n");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (method != "GET" && method != "HEAD") {
    return HttpResponse(405, "Method Not Allowed", "text/plain", "method not allowed\n");
  }
  if (path != "/metrics") return HttpResponse(404, "Not Found", "text/plain", "not found\n");
  std::string r = HttpResponse(200, "OK", "text/plain; version=0.0.4; charset=utf-8", metrics_body);
  if (method == "HEAD") r.resize(r.size() - metrics_body.size());
  return r;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::Create(struct ev_loop* loop, Endpoint listen,
                                                             Handler handler) {
  auto fd = OpenTcpListener(listen, /*reuse_port=*/false, 64);
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<MetricsServer>(new MetricsServer(loop, listen, *fd, std::move(handler)));
}

MetricsServer::MetricsServer(struct ev_loop* loop, Endpoint listen, int fd, Handler handler)
    : loop_(loop),
      listen_(listen),
      fd_(fd),
      handler_(std::move(handler)),
      acceptor_(loop, fd, [this](int client_fd) { Accepted(client_fd); }) {}

MetricsServer::~MetricsServer() {
  while (!clients_.empty()) CloseClient(&clients_.front());
  acceptor_.Stop();
  close(fd_);
}

void MetricsServer::Accepted(int fd) {
  if (clients_.size() >= kMaxClients) {
    // The slot of the oldest client still silent (front of the list: clients
    // are appended in accept order) goes to the new one.
    Client* oldest = nullptr;
    for (Client& c : clients_) {
      if (!c.responded) {
        oldest = &c;
        break;
      }
    }
    if (oldest == nullptr) {
      close(fd);
      return;
    }
    CloseClient(oldest);
  }
  Client& c = clients_.emplace_back();
  c.server = this;
  c.fd = fd;
  ev_io_init(&c.io, OnClient, fd, EV_READ);
  c.io.data = &c;
  ev_io_start(loop_, &c.io);
  ev_timer_init(&c.timer, OnTimeout, kRequestTimeout, 0.);
  c.timer.data = &c;
  ev_timer_start(loop_, &c.timer);
}

void MetricsServer::OnTimeout(struct ev_loop*, ev_timer* w, int) {
  auto* c = static_cast<Client*>(w->data);
  c->server->CloseClient(c);
}

void MetricsServer::OnClient(struct ev_loop*, ev_io* w, int revents) {
  auto* c = static_cast<Client*>(w->data);
  MetricsServer* self = c->server;
  if ((revents & EV_READ) && !c->responded) {
    char buf[2048];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      self->CloseClient(c);
      return;
    }
    if (n > 0) c->in.append(buf, static_cast<size_t>(n));
    if (c->in.find("\r\n\r\n") != std::string::npos || c->in.find("\n\n") != std::string::npos) {
      self->Respond(*c);
    } else if (c->in.size() > kMaxRequest) {
      c->out =
          "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
          "Connection: close\r\n\r\n";
      c->responded = true;
    }
  }
  if (c->responded) {
    while (!c->out.empty()) {
      ssize_t n = send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        self->CloseClient(c);
        return;
      }
      c->out.erase(0, static_cast<size_t>(n));
    }
    if (c->out.empty()) {
      self->CloseClient(c);
      return;
    }
    ev_io_stop(self->loop_, &c->io);
    ev_io_set(&c->io, c->fd, EV_WRITE);
    ev_io_start(self->loop_, &c->io);
  }
}

void MetricsServer::Respond(Client& c) {
  c.out = handler_(c.in);
  c.responded = true;
  // From now on the client has the response's time to read it.
  ev_timer_stop(loop_, &c.timer);
  ev_timer_set(&c.timer, kResponseTimeout, 0.);
  ev_timer_start(loop_, &c.timer);
}

void MetricsServer::CloseClient(Client* c) {
  ev_io_stop(loop_, &c->io);
  ev_timer_stop(loop_, &c->timer);
  shutdown(c->fd, SHUT_WR);
  close(c->fd);
  for (auto it = clients_.begin(); it != clients_.end(); ++it) {
    if (&*it == c) {
      clients_.erase(it);
      return;
    }
  }
}

}  // namespace lbd
