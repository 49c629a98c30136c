#include "server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "json.h"

namespace lbd::shop {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// A keep-alive connection may sit idle this long between requests; a slow client gets this
// long to send a request or to take a response.
constexpr std::chrono::seconds kIoTimeout{60};
// How often a draining server checks whether its connections are gone.
constexpr std::chrono::milliseconds kDrainPoll{20};

class Server;

// One client connection: read a request, (optionally) wait --slow, answer, repeat while
// keep-alive. Every member is used on the connection's strand only.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Server& server);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Start();
  // Called when the server starts draining: closes the connection now if it is waiting for a
  // request that has not begun to arrive; otherwise the current request is answered with
  // Connection: close.
  void Drain();

 private:
  void ReadRequest();
  void OnRead(beast::error_code ec, size_t bytes);
  void Process(http::request<http::string_body> request);
  void Answer(unsigned version, bool keep_alive, const Response& response);
  void OnWrite(bool close, beast::error_code ec, size_t bytes);
  void Close();

  Server& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  net::steady_timer slow_timer_;
  bool reading_ = false;
};

// Owns the io_context, listener, signals and the registry of live connections.
class Server {
 public:
  Server(const ServerOptions& options, Shop& shop)
      : options_(options),
        shop_(shop),
        control_(net::make_strand(io_)),
        acceptor_(control_),
        signals_(control_),
        drain_timer_(control_) {}

  int Run();

  const ServerOptions& options() const { return options_; }
  Shop& shop() { return shop_; }
  bool draining() const { return shop_.draining(); }

  // Connections register themselves so that a drain can reach them. Thread-safe.
  void Add(const std::shared_ptr<Connection>& c) {
    std::lock_guard<std::mutex> lock(mu_);
    connections_.emplace(c.get(), c);
  }
  void Remove(Connection* c) {
    std::lock_guard<std::mutex> lock(mu_);
    connections_.erase(c);
  }

  // True for a --fail-rate share of calls.
  bool InjectFailure() {
    if (options_.fail_rate <= 0) return false;
    // Per-thread generators: no locking; the sequence need not be reproducible.
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0, 1)(rng) < options_.fail_rate;
  }

 private:
  void RunLoop();
  void Accept();
  void OnSignal(beast::error_code ec, int signal);
  void CheckDrained();
  size_t ConnectionCount() {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_.size();
  }

  const ServerOptions options_;
  Shop& shop_;
  // Declared before io_: connections still queued in io_ unregister while it is destroyed.
  std::mutex mu_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_;  // guarded by mu_
  net::io_context io_;
  // Acceptor, signals and drain timer share one strand: closing the acceptor from the signal
  // handler never races with an accept completion.
  net::strand<net::io_context::executor_type> control_;
  tcp::acceptor acceptor_;
  net::signal_set signals_;
  net::steady_timer drain_timer_;
  std::chrono::steady_clock::time_point drain_deadline_;
};

Connection::Connection(tcp::socket socket, Server& server)
    : server_(server), stream_(std::move(socket)), slow_timer_(stream_.get_executor()) {}

Connection::~Connection() { server_.Remove(this); }

void Connection::Start() {
  net::dispatch(stream_.get_executor(),
                beast::bind_front_handler(&Connection::ReadRequest, shared_from_this()));
}

void Connection::Drain() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    if (self->reading_ && self->parser_ && !self->parser_->got_some()) self->Close();
  });
}

void Connection::ReadRequest() {
  if (server_.draining() && buffer_.size() == 0) return Close();
  parser_.emplace();
  parser_->body_limit(kMaxBodyBytes);
  reading_ = true;
  stream_.expires_after(kIoTimeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&Connection::OnRead, shared_from_this()));
}

void Connection::OnRead(beast::error_code ec, size_t /*bytes*/) {
  reading_ = false;
  if (!ec) return Process(parser_->release());
  // Malformed or oversized requests get an answer; transport errors, timeouts and clean
  // closes just end the connection.
  if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    Response r;
    if (ec == http::error::body_limit) {
      r.status = 413;
      r.body = JsonError("request body larger than 64 KiB");
    } else if (ec == http::error::header_limit) {
      r.status = 431;
      r.body = JsonError("request header too large");
    } else {
      r.status = 400;
      r.body = JsonError("malformed HTTP request: " + ec.message());
    }
    return Answer(11, false, r);
  }
  Close();
}

void Connection::Process(http::request<http::string_body> request) {
  auto shop_request = std::make_shared<Request>();
  shop_request->method = std::string(request.method_string());
  shop_request->target = std::string(request.target());
  shop_request->body = std::move(request.body());
  if (auto it = request.find(http::field::cookie); it != request.end()) {
    shop_request->cookie = std::string(it->value());
  }
  if (auto it = request.find("Idempotency-Key"); it != request.end()) {
    shop_request->idempotency_key = std::string(it->value());
  }
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  auto handle = [this, self = shared_from_this(), shop_request, version, keep_alive] {
    std::string_view path = shop_request->target;
    path = path.substr(0, path.find('?'));
    Response r;
    if (path != "/health" && server_.InjectFailure()) {
      r.status = 500;
      r.body = JsonError("injected failure (--fail-rate)");
    } else {
      r = server_.shop().Handle(*shop_request);
    }
    Answer(version, keep_alive, r);
  };
  if (server_.options().slow.count() == 0) return handle();
  // --slow waits on a timer, not in a sleeping thread, so slow requests do not queue others.
  slow_timer_.expires_after(server_.options().slow);
  slow_timer_.async_wait([handle = std::move(handle)](beast::error_code ec) {
    if (!ec) handle();
  });
}

void Connection::Answer(unsigned version, bool keep_alive, const Response& r) {
  response_ = {};
  response_.version(version);
  response_.result(static_cast<http::status>(r.status));
  response_.set(http::field::content_type, "application/json");
  response_.set("X-Served-By", server_.options().name);
  for (const auto& [name, value] : r.headers) response_.insert(name, value);
  response_.body() = r.body;
  response_.keep_alive(keep_alive && !server_.draining());
  response_.prepare_payload();
  const bool close = !response_.keep_alive();
  stream_.expires_after(kIoTimeout);
  http::async_write(stream_, response_,
                    beast::bind_front_handler(&Connection::OnWrite, shared_from_this(), close));
}

void Connection::OnWrite(bool close, beast::error_code ec, size_t /*bytes*/) {
  if (ec || close) return Close();
  ReadRequest();
}

void Connection::Close() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
  slow_timer_.cancel();
}

int Server::Run() {
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(options_.host, ec);
  if (ec) {
    std::fprintf(stderr, "shopd: bad listen address '%s'\n", options_.host.c_str());
    return 1;
  }
  tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "shopd: cannot listen on %s:%u: %s\n", options_.host.c_str(),
                 options_.port, ec.message().c_str());
    return 1;
  }
  tcp::endpoint bound = acceptor_.local_endpoint();
  std::string shown = bound.address().to_string();
  if (bound.address().is_v6()) shown = "[" + shown + "]";
  std::printf("listening on %s:%u\n", shown.c_str(), bound.port());
  std::fflush(stdout);

  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  signals_.async_wait(beast::bind_front_handler(&Server::OnSignal, this));
  net::dispatch(control_, [this] { Accept(); });

  std::vector<std::thread> threads;
  for (int i = 1; i < options_.threads; ++i) threads.emplace_back([this] { RunLoop(); });
  RunLoop();
  for (std::thread& t : threads) t.join();
  return 0;
}

void Server::RunLoop() {
  // Handlers do not throw (the shop catches at its boundary); should one do so anyway, the
  // connection it belonged to is lost but the server keeps serving the others.
  while (true) {
    try {
      io_.run();
      return;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shopd %s: unexpected exception: %s\n", options_.name.c_str(), e.what());
    }
  }
}

void Server::Accept() {
  acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      auto connection = std::make_shared<Connection>(std::move(socket), *this);
      Add(connection);
      connection->Start();
    } else {
      // EMFILE and friends: keep serving the connections we have and try again.
      std::fprintf(stderr, "shopd: accept: %s\n", ec.message().c_str());
    }
    Accept();
  });
}

void Server::OnSignal(beast::error_code ec, int signal) {
  if (ec) return;
  if (shop_.draining()) {
    // A second signal: the operator does not want to wait for the drain.
    std::fprintf(stderr, "shopd %s: signal %d again, exiting now\n", options_.name.c_str(), signal);
    io_.stop();
    return;
  }
  std::fprintf(stderr, "shopd %s: signal %d, draining\n", options_.name.c_str(), signal);
  signals_.async_wait(beast::bind_front_handler(&Server::OnSignal, this));
  shop_.StartDraining();
  beast::error_code ignored;
  acceptor_.close(ignored);
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [raw, weak] : connections_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) c->Drain();
  live.clear();
  drain_deadline_ = std::chrono::steady_clock::now() + options_.drain_timeout;
  CheckDrained();
}

void Server::CheckDrained() {
  size_t left = ConnectionCount();
  if (left == 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
    if (left > 0) {
      std::fprintf(stderr, "shopd %s: drain timeout, dropping %zu connections\n",
                   options_.name.c_str(), left);
    }
    io_.stop();
    return;
  }
  drain_timer_.expires_after(kDrainPoll);
  drain_timer_.async_wait([this](beast::error_code ec) {
    if (!ec) CheckDrained();
  });
}

}  // namespace

int RunServer(const ServerOptions& options, Shop& shop) {
  Server server(options, shop);
  return server.Run();
}

}  // namespace lbd::shop
