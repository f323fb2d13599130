// Design: N io threads, each running its own io_context with its own acceptor on the same port
// (SO_REUSEPORT, so the kernel spreads connections across them); a connection lives on the
// thread that accepted it, so nothing here needs a strand or a lock on the request path. A
// Connection reads one request (header first, to answer "Expect: 100-continue" and to reject
// an oversized Content-Length before any body arrives), calls the handler, writes the response
// and reads the next one; bytes of pipelined requests stay in its buffer, so they are answered
// in order. Errors that end a connection (400, 413, 431, Connection: close) shut down the
// sending side and then drain the input for a short while before closing: closing a socket
// with unread input makes the kernel send RST, which can discard the response at the client.
//
// Stop() stops every io_context and joins the threads; the io_contexts' destructors then
// destroy the pending handlers, which own the Connections (and so close their sockets).
#include "churn/http/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <exception>
#include <limits>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sys/socket.h>

#include "churn/base/json_text.h"
#include "churn/base/logging.h"

namespace churn::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Tcp = boost::asio::ip::tcp;
using ReusePort = boost::asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// How long and how much a closing connection reads and discards (see the design note).
constexpr absl::Duration kDrainTimeout = absl::Seconds(2);
constexpr size_t kDrainLimitBytes = size_t{4} << 20;

absl::string_view View(beast::string_view text) {
  return {text.data(), text.size()};
}

// The Shared of the server whose io thread this is, so that Stop() knows when it runs in a
// handler; null on other threads.
thread_local const void* tls_server = nullptr;

// The handler's response; a 500 naming the exception when it throws (logged).
Response CallHandler(const Handler& handler, const Request& request) {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    base::LogError(absl::StrCat("http: handler for ", request.target, " threw: ", e.what()));
    return Response::Error(500, absl::StrCat("internal error: ", e.what()));
  } catch (...) {
    base::LogError(absl::StrCat("http: handler for ", request.target, " threw"));
    return Response::Error(500, "internal error");
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Decodes %XX escapes (and '+' as a space when `plus_as_space`). InvalidArgument for a
// truncated or non-hex escape, or an escaped NUL.
absl::StatusOr<std::string> PercentDecode(absl::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+' && plus_as_space) {
      out += ' ';
    } else if (c != '%') {
      out += c;
    } else {
      const int hi = i + 2 < in.size() ? HexValue(in[i + 1]) : -1;
      const int lo = hi >= 0 ? HexValue(in[i + 2]) : -1;
      if (lo < 0 || (hi == 0 && lo == 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat("malformed percent-escape in \"", in.substr(i, 3), "\""));
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return out;
}

// Fills request->path and request->query from request->target. InvalidArgument for a target
// that is neither origin-form ("/p?q") nor absolute-form ("http://h/p?q"), or a bad escape.
absl::Status ParseTarget(Request* request) {
  absl::string_view target = request->target;
  for (const absl::string_view scheme : {"http://", "https://"}) {
    if (absl::StartsWithIgnoreCase(target, scheme)) {
      target.remove_prefix(scheme.size());
      const size_t slash = target.find_first_of("/?");
      target = slash == absl::string_view::npos ? "/" : target.substr(slash);
    }
  }
  if (target.empty() || target.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat("bad request target \"", target, "\""));
  }
  const size_t question = target.find('?');
  absl::StatusOr<std::string> path = PercentDecode(target.substr(0, question), false);
  if (!path.ok()) {
    return path.status();
  }
  request->path = *std::move(path);
  if (question == absl::string_view::npos) {
    return absl::OkStatus();
  }
  for (const absl::string_view part :
       absl::StrSplit(target.substr(question + 1), '&', absl::SkipEmpty())) {
    const std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, '=');
    absl::StatusOr<std::string> name = PercentDecode(kv.first, true);
    absl::StatusOr<std::string> value = PercentDecode(kv.second, true);
    if (!name.ok() || !value.ok()) {
      return name.ok() ? value.status() : name.status();
    }
    request->query.emplace_back(*std::move(name), *std::move(value));
  }
  return absl::OkStatus();
}

bool IsSafeHeaderText(absl::string_view text) {
  return text.find_first_of(absl::string_view("\r\n\0", 3)) == absl::string_view::npos;
}

// What every connection of one server shares; owned jointly so that a Connection destroyed
// late (in an io_context destructor) can still read it.
struct Shared {
  Shared(ServerOptions o, AsyncHandler h) : options(std::move(o)), handler(std::move(h)) {}

  ServerOptions options;
  AsyncHandler handler;
  // Requests read and not yet answered (Server::InFlight).
  mutable std::atomic<int64_t> in_flight{0};
  // Set by Server::Drain: every answer from then on closes its connection, so that keep-alive
  // clients cannot keep a draining server busy.
  mutable std::atomic<bool> draining{false};
};

// Answers handed to one io thread from other threads (an async handler answering from a worker
// thread: the prediction log's writer answers a whole group commit at once). The first answer
// into an empty mailbox posts one drain to the io_context; the ones arriving before it runs
// join it. One wake-up of the io thread per batch instead of one per answer: the wake-ups
// (an eventfd write and an epoll_ctl each) were a third of the writer thread's time.
class Mailbox : public std::enable_shared_from_this<Mailbox> {
 public:
  explicit Mailbox(net::io_context& context) : context_(context) {}

  // Whether the caller runs on this mailbox's io thread.
  bool OnItsThread() const { return tls_mailbox == this; }

  // Marks the calling thread as this mailbox's io thread.
  void Adopt() const { tls_mailbox = this; }

  // Runs `fn` on the io thread, after the functions delivered before it. Thread-safe.
  void Deliver(absl::AnyInvocable<void() &&> fn) {
    bool wake = false;
    {
      absl::MutexLock lock(&mu_);
      wake = pending_.empty();
      pending_.push_back(std::move(fn));
    }
    if (wake) {
      net::post(context_, [self = shared_from_this()] { self->Drain(); });
    }
  }

 private:
  void Drain() {
    std::vector<absl::AnyInvocable<void() &&>> batch;
    {
      absl::MutexLock lock(&mu_);
      batch.swap(pending_);
    }
    for (auto& fn : batch) {
      std::move(fn)();
    }
  }

  static thread_local const Mailbox* tls_mailbox;

  net::io_context& context_;
  absl::Mutex mu_;
  std::vector<absl::AnyInvocable<void() &&>> pending_ ABSL_GUARDED_BY(mu_);
};

thread_local const Mailbox* Mailbox::tls_mailbox = nullptr;

// One client connection; owned by the pending asynchronous operation's handler.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Tcp::socket socket, std::shared_ptr<const Shared> shared,
             std::weak_ptr<Mailbox> mailbox)
      : stream_(std::move(socket)), shared_(std::move(shared)), mailbox_(std::move(mailbox)) {
    boost::system::error_code ec;
    const Tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      remote_address_ = peer.address().to_string();
    }
  }

  void Start() { ReadHeader(); }

 private:
  using Parser = bhttp::request_parser<bhttp::string_body>;

  const ServerOptions& Options() const { return shared_->options; }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(Options().max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(std::uint64_t{Options().max_body_bytes});
    stream_.expires_after(absl::ToChronoNanoseconds(Options().idle_timeout));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Connection::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t /*bytes*/) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    if (!parser_->is_done() &&
        absl::EqualsIgnoreCase(View(parser_->get()[bhttp::field::expect]), "100-continue")) {
      static constexpr absl::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(
          stream_, net::buffer(kContinue.data(), kContinue.size()),
          beast::bind_front_handler(&Connection::OnContinueWritten, shared_from_this()));
      return;
    }
    ReadBody();
  }

  void OnContinueWritten(beast::error_code ec, size_t /*bytes*/) {
    if (ec) {
      Close();
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) {
      OnBody({}, 0);
      return;
    }
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Connection::OnBody, shared_from_this()));
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      Send(Response::Error(413, absl::StrCat("request body exceeds the limit of ",
                                             Options().max_body_bytes, " bytes")),
           /*keep_alive=*/false, /*is_head=*/false, 11);
    } else if (ec == bhttp::error::header_limit) {
      Send(Response::Error(431, absl::StrCat("request header exceeds the limit of ",
                                             Options().max_header_bytes, " bytes")),
           false, false, 11);
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
               ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      Send(Response::Error(400, absl::StrCat("malformed request: ", ec.message())), false, false,
           11);
    } else {
      Close();  // The peer closed or reset the connection, or it timed out.
    }
  }

  void OnBody(beast::error_code ec, size_t /*bytes*/) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    bhttp::request<bhttp::string_body> message = parser_->release();
    const bool keep_alive = message.version() >= 11 && message.keep_alive();
    const bool is_head = message.method() == bhttp::verb::head;
    const unsigned version = message.version();
    shared_->in_flight.fetch_add(1, std::memory_order_relaxed);
    answering_ = true;
    // The handler may answer on another thread; the write always happens on this one. The
    // connection goes to the io thread with the answer: a thread that answers keeps no reference
    // to it, so the connection (whose socket belongs to the io_context) is never destroyed there
    // after the server has stopped.
    Responder respond(
        [self = shared_from_this(), keep_alive, is_head, version](Response r) mutable {
          const std::shared_ptr<Mailbox> mailbox = self->mailbox_.lock();
          if (mailbox == nullptr) {
            return;  // The server is gone (a Responder outlived it, which its contract forbids).
          }
          if (mailbox->OnItsThread()) {
            self->Send(std::move(r), keep_alive, is_head, version);
            return;
          }
          mailbox->Deliver(
              [self = std::move(self), r = std::move(r), keep_alive, is_head, version]() mutable {
                self->Send(std::move(r), keep_alive, is_head, version);
              });
        });
    Answer(std::move(message), std::move(respond));
  }

  // Converts the message and runs the handler; never throws. A handler that throws answers 500
  // (through the Responder it owns, or here when it threw before taking it).
  void Answer(bhttp::request<bhttp::string_body> message, Responder respond) {
    const std::string target(View(message.target()));
    try {
      Request request;
      request.method = std::string(View(message.method_string()));
      request.target = target;
      if (absl::Status status = ParseTarget(&request); !status.ok()) {
        respond(Response::Error(400, status.message()));
        return;
      }
      for (const auto& field : message) {
        request.headers.emplace_back(absl::AsciiStrToLower(View(field.name_string())),
                                     std::string(View(field.value())));
      }
      request.body = std::move(message.body());
      request.remote_address = remote_address_;
      shared_->handler(std::move(request), std::move(respond));
    } catch (const std::exception& e) {
      base::LogError(absl::StrCat("http: handler for ", target, " threw: ", e.what()));
      respond(Response::Error(500, absl::StrCat("internal error: ", e.what())));
    } catch (...) {
      base::LogError(absl::StrCat("http: handler for ", target, " threw"));
      respond(Response::Error(500, "internal error"));
    }
  }

  void Send(Response response, bool keep_alive, bool is_head, unsigned version) {
    keep_alive = keep_alive && !shared_->draining.load(std::memory_order_relaxed);
    // 1xx would leave the client waiting for a final response.
    const int status = response.status >= 200 && response.status <= 599 ? response.status : 500;
    response_ = {};
    response_.result(static_cast<unsigned>(status));
    response_.version(version);
    response_.set(bhttp::field::server, shared_->options.server_name);
    if (!response.content_type.empty() && IsSafeHeaderText(response.content_type)) {
      response_.set(bhttp::field::content_type, response.content_type);
    }
    for (const auto& [name, value] : response.headers) {
      if (!name.empty() && IsSafeHeaderText(name) && IsSafeHeaderText(value)) {
        response_.insert(name, value);
      }
    }
    if (status != 204 && status != 304) {
      response_.content_length(response.body.size());
      if (!is_head) {
        response_.body() = std::move(response.body);
      }
    }
    response_.keep_alive(keep_alive);
    stream_.expires_after(absl::ToChronoNanoseconds(Options().idle_timeout));
    bhttp::async_write(
        stream_, response_,
        beast::bind_front_handler(&Connection::OnWrite, shared_from_this(), keep_alive));
  }

  void OnWrite(bool keep_alive, beast::error_code ec, size_t /*bytes*/) {
    if (answering_) {
      answering_ = false;
      shared_->in_flight.fetch_sub(1, std::memory_order_relaxed);
    }
    if (ec) {
      Close();
    } else if (keep_alive) {
      ReadHeader();
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(Tcp::socket::shutdown_send, ignored);
      stream_.expires_after(absl::ToChronoNanoseconds(kDrainTimeout));
      Drain({}, 0);
    }
  }

  void Drain(beast::error_code ec, size_t bytes) {
    drained_ += bytes;
    if (ec || drained_ > kDrainLimitBytes) {
      Close();
      return;
    }
    stream_.async_read_some(net::buffer(drain_buffer_),
                            beast::bind_front_handler(&Connection::Drain, shared_from_this()));
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  std::shared_ptr<const Shared> shared_;
  // Weak: a Mailbox holds answers that hold connections; and an answer given after the server
  // is gone (its io threads joined) has nowhere to go.
  std::weak_ptr<Mailbox> mailbox_;
  std::string remote_address_;
  beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  bhttp::response<bhttp::string_body> response_;
  std::array<char, 4096> drain_buffer_{};
  size_t drained_ = 0;
  // Whether the response being written answers a request counted in Shared::in_flight.
  bool answering_ = false;
};

// One io thread's io_context and acceptor.
class Worker {
 public:
  explicit Worker(std::shared_ptr<const Shared> shared)
      : shared_(std::move(shared)), acceptor_(context_), retry_timer_(context_) {}

  // Opens, binds and listens. Unavailable on failure.
  absl::Status Listen(const Tcp::endpoint& endpoint, const std::string& where) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) {
      acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
      acceptor_.set_option(ReusePort(true), ec);
    }
    if (!ec) {
      acceptor_.bind(endpoint, ec);
    }
    if (!ec) {
      acceptor_.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", where, ": ", ec.message()));
    }
    return absl::OkStatus();
  }

  uint16_t BoundPort() const {
    beast::error_code ec;
    return acceptor_.local_endpoint(ec).port();
  }

  net::io_context& Context() { return context_; }

  void StartThread() {
    Accept();
    thread_ = std::thread([this] { Run(); });
  }

  void StopContext() { context_.stop(); }

  // Stops accepting: closes the listening socket on the io thread.
  void CloseAcceptor() {
    net::post(context_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
  }

  void Join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }

 private:
  void Run() {
    tls_server = shared_.get();
    mailbox_->Adopt();
    for (;;) {
      try {
        context_.run();
        return;
      } catch (const std::exception& e) {  // Our handlers do not throw; just in case.
        base::LogError(absl::StrCat("http: io thread caught: ", e.what()));
      }
    }
  }

  void Accept() {
    acceptor_.async_accept(context_, [this](beast::error_code ec, Tcp::socket socket) {
      if (ec == net::error::operation_aborted) {
        return;
      }
      if (ec) {
        // Out of descriptors, for instance: retry a little later instead of spinning.
        base::LogWarn(absl::StrCat("http: accept failed: ", ec.message()));
        retry_timer_.expires_after(std::chrono::milliseconds(100));
        retry_timer_.async_wait([this](beast::error_code) { Accept(); });
        return;
      }
      std::make_shared<Connection>(std::move(socket), shared_, mailbox_)->Start();
      Accept();
    });
  }

  std::shared_ptr<const Shared> shared_;
  net::io_context context_{1};
  std::shared_ptr<Mailbox> mailbox_ = std::make_shared<Mailbox>(context_);
  net::executor_work_guard<net::io_context::executor_type> work_ = net::make_work_guard(context_);
  Tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  std::thread thread_;
};

// A plain SO_REUSEPORT bind would silently share a port with another process of ours already
// listening there; a probe bind without it fails in that case (and picks the port for port 0).
absl::StatusOr<uint16_t> ProbePort(const Tcp::endpoint& endpoint, const std::string& where) {
  net::io_context context;
  Tcp::acceptor probe(context);
  beast::error_code ec;
  probe.open(endpoint.protocol(), ec);
  if (!ec) {
    probe.set_option(net::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    probe.bind(endpoint, ec);
  }
  const uint16_t port = ec ? 0 : probe.local_endpoint(ec).port();
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", where, ": ", ec.message()));
  }
  return port;
}

}  // namespace

std::optional<std::string> Request::Query(absl::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) {
      return value;
    }
  }
  return std::nullopt;
}

std::optional<std::string> Request::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) {
      return value;
    }
  }
  return std::nullopt;
}

Response Response::Json(int status, std::string body) {
  return {.status = status, .content_type = "application/json", .body = std::move(body)};
}

Response Response::Text(int status, std::string body) {
  return {.status = status, .content_type = "text/plain; charset=utf-8", .body = std::move(body)};
}

Response Response::Error(int status, absl::string_view message) {
  return Json(status, absl::StrCat(R"({"error": ")", base::JsonEscape(message), R"("})"));
}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    if (send_) {
      (*this)(Response::Error(500, "internal error: the request was dropped unanswered"));
    }
    send_ = std::exchange(other.send_, nullptr);
  }
  return *this;
}

Responder::~Responder() {
  if (send_) {
    (*this)(Response::Error(500, "internal error: the request was dropped unanswered"));
  }
}

void Responder::operator()(Response response) {
  if (SendFn send = std::exchange(send_, nullptr)) {
    send(std::move(response));
  }
}

void Router::Handle(absl::string_view method, absl::string_view path, Handler handler) {
  exact_[std::string(path)][std::string(method)] = Route{.sync = std::move(handler)};
}

void Router::HandlePrefix(absl::string_view method, absl::string_view prefix, Handler handler) {
  prefixes_[std::string(prefix)][std::string(method)] = Route{.sync = std::move(handler)};
}

void Router::HandleAsync(absl::string_view method, absl::string_view path, AsyncHandler handler) {
  exact_[std::string(path)][std::string(method)] = Route{.async = std::move(handler)};
}

void Router::SetNotFound(Handler handler) {
  not_found_ = std::move(handler);
}

void Router::SetMethodNotAllowed(
    std::function<Response(const Request&, const std::string& allow)> handler) {
  method_not_allowed_ = std::move(handler);
}

Response Router::Dispatch(const Request& request) const {
  Response fallback;
  const Route* route = Resolve(request, &fallback);
  if (route == nullptr) {
    return fallback;
  }
  if (!route->sync) {
    return Response::Error(
        500, absl::StrCat("internal error: ", request.path, " has an asynchronous handler"));
  }
  return route->sync(request);
}

void Router::DispatchAsync(Request request, Responder respond) const {
  Response fallback;
  const Route* route = Resolve(request, &fallback);
  if (route == nullptr) {
    respond(std::move(fallback));
  } else if (route->async) {
    route->async(std::move(request), std::move(respond));
  } else {
    respond(CallHandler(route->sync, request));
  }
}

const Router::Route* Router::Resolve(const Request& request, Response* fallback) const {
  std::vector<const MethodMap*> candidates;
  if (const auto it = exact_.find(request.path); it != exact_.end()) {
    candidates.push_back(&it->second);
  }
  // The prefixes matching one path are prefixes of each other, so in key order the shortest
  // comes first; the candidates want the longest first.
  std::vector<const MethodMap*> matching;
  for (const auto& [prefix, methods] : prefixes_) {
    if (absl::StartsWith(request.path, prefix)) {
      matching.push_back(&methods);
    }
  }
  candidates.insert(candidates.end(), matching.rbegin(), matching.rend());
  std::set<std::string> allowed;
  for (const MethodMap* methods : candidates) {
    auto it = methods->find(request.method);
    if (it == methods->end() && request.method == "HEAD") {
      it = methods->find("GET");
    }
    if (it != methods->end()) {
      return &it->second;
    }
    for (const auto& entry : *methods) {
      allowed.insert(entry.first);
      if (entry.first == "GET") {
        allowed.insert("HEAD");
      }
    }
  }
  if (candidates.empty()) {
    *fallback = not_found_ ? not_found_(request)
                           : Response::Error(404, absl::StrCat("no route for ", request.path));
    return nullptr;
  }
  const std::string allow = absl::StrJoin(allowed, ", ");
  Response response =
      method_not_allowed_
          ? method_not_allowed_(request, allow)
          : Response::Error(405, absl::StrCat("method ", request.method, " not allowed for ",
                                              request.path, "; allowed: ", allow));
  const bool has_allow =
      std::any_of(response.headers.begin(), response.headers.end(),
                  [](const auto& header) { return absl::EqualsIgnoreCase(header.first, "allow"); });
  if (!has_allow) {
    response.headers.emplace_back("Allow", allow);
  }
  *fallback = std::move(response);
  return nullptr;
}

class Server::Impl {
 public:
  std::shared_ptr<const Shared> shared;
  std::vector<std::unique_ptr<Worker>> workers;  // Cleared (under stop_mu) by the joining Stop.
  std::unique_ptr<net::signal_set> signals;
  uint16_t port = 0;

  // Serialises the joining Stop() calls (those not on an io thread).
  absl::Mutex stop_mu;
  absl::Mutex mu;
  // Set by Stop() and by a signal; Wait() returns once it is.
  bool stop_requested ABSL_GUARDED_BY(mu) = false;
  bool stopped ABSL_GUARDED_BY(mu) = false;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  Stop();
}

uint16_t Server::Port() const {
  return impl_->port;
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                                      Handler handler) {
  if (!handler) {
    return Start(options, AsyncHandler());
  }
  return Start(options, [handler = std::move(handler)](const Request& request, Responder respond) {
    respond(CallHandler(handler, request));
  });
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                                      AsyncHandler handler) {
  if (options.threads < 0 || options.max_body_bytes == 0 || options.max_header_bytes == 0 ||
      !handler) {
    return absl::InvalidArgumentError(
        "http server options: threads must be >= 0, max_body_bytes and max_header_bytes > 0, and "
        "a handler is required");
  }
  beast::error_code ec;
  const net::ip::address address = options.host == "localhost"
                                       ? net::ip::address(net::ip::address_v4::loopback())
                                       : net::ip::make_address(options.host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("http server host \"", options.host, "\" is not an IP address"));
  }
  const auto where = [&](uint16_t port) {
    return address.is_v6() ? absl::StrCat("[", options.host, "]:", port)
                           : absl::StrCat(options.host, ":", port);
  };
  absl::StatusOr<uint16_t> port =
      ProbePort(Tcp::endpoint(address, options.port), where(options.port));
  if (!port.ok()) {
    return port.status();
  }
  auto impl = std::make_unique<Impl>();
  impl->shared = std::make_shared<const Shared>(options, std::move(handler));
  impl->port = *port;
  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  try {
    for (int i = 0; i < threads; ++i) {
      auto worker = std::make_unique<Worker>(impl->shared);
      if (absl::Status status =
              worker->Listen(Tcp::endpoint(address, impl->port), where(impl->port));
          !status.ok()) {
        return status;
      }
      impl->workers.push_back(std::move(worker));
    }
    if (options.stop_on_signals) {
      impl->signals =
          std::make_unique<net::signal_set>(impl->workers.front()->Context(), SIGINT, SIGTERM);
      impl->signals->async_wait([raw = impl.get()](beast::error_code error, int /*signal*/) {
        if (!error) {
          absl::MutexLock lock(&raw->mu);
          raw->stop_requested = true;
        }
      });
    }
    for (const auto& worker : impl->workers) {
      worker->StartThread();
    }
  } catch (const std::exception& e) {  // Asio or std::thread failed; join what started.
    for (const auto& worker : impl->workers) {
      worker->StopContext();
      worker->Join();
    }
    return absl::UnavailableError(
        absl::StrCat("cannot start http server on ", where(impl->port), ": ", e.what()));
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::Stop() {
  Impl& impl = *impl_;
  if (tls_server == impl.shared.get()) {
    // From a handler: the workers outlive this thread (a joining Stop joins it before clearing
    // them), but it cannot join itself; Wait(), a later Stop() or the destructor will.
    for (const auto& worker : impl.workers) {
      worker->StopContext();
    }
    absl::MutexLock lock(&impl.mu);
    impl.stop_requested = true;
    return;
  }
  absl::MutexLock stop_lock(&impl.stop_mu);
  for (const auto& worker : impl.workers) {
    worker->StopContext();
  }
  for (const auto& worker : impl.workers) {
    worker->Join();
  }
  impl.signals.reset();
  impl.workers.clear();  // Closes the acceptors and every connection.
  absl::MutexLock lock(&impl.mu);
  impl.stop_requested = true;
  impl.stopped = true;
}

int64_t Server::InFlight() const {
  return impl_->shared->in_flight.load(std::memory_order_relaxed);
}

int64_t Server::Drain(absl::Duration timeout) {
  impl_->shared->draining.store(true, std::memory_order_relaxed);
  {
    absl::MutexLock stop_lock(&impl_->stop_mu);
    for (const auto& worker : impl_->workers) {
      worker->CloseAcceptor();
    }
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (InFlight() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  const int64_t left = InFlight();
  Stop();
  return left;
}

void Server::Wait() {
  Impl& impl = *impl_;
  bool stop = false;
  {
    absl::MutexLock lock(&impl.mu);
    impl.mu.Await(absl::Condition(&impl.stop_requested));
    stop = !impl.stopped;
  }
  if (stop) {
    Drain(impl.shared->options.drain_timeout);
  }
}

}  // namespace churn::http
