// File: churn/http/server.h
//
// The HTTP/1.1 server every churn server runs on (the registry REST API, the model server): a
// Router that maps method + path to a synchronous Handler, and a Server that accepts connections
// on background threads and calls the handler for each request.
//
//   http::Router router;
//   router.Handle("GET", "/health", [](const http::Request&) {
//     return http::Response::Json(200, R"({"status": "ok"})");
//   });
//   CHURN_ASSIGN_OR_RETURN(auto server, http::Server::Start(
//       {.port = 8080}, [&router](const http::Request& r) { return router.Dispatch(r); }));
//   server->Wait();
//
// A handler either returns its Response (Handler) or answers later through a Responder
// (AsyncHandler), from any thread: the model server answers /predict once the prediction log has
// made the record durable, without holding an io thread while it waits.
//
//   router.HandleAsync("POST", "/predict", [&](http::Request request, http::Responder respond) {
//     queue.Push(std::move(request), std::move(respond));  // respond(response) later
//   });
//
// Connections are kept alive (HTTP/1.1) or closed after one response (HTTP/1.0, or
// "Connection: close"); pipelined requests are answered in order. The server answers bad input
// itself and keeps serving: 400 for a malformed request or percent-escape, 413 for a body over
// ServerOptions::max_body_bytes, 431 for oversized headers, 500 when a handler throws. Those
// error bodies are JSON: {"error": "<message>"}.
#ifndef CHURN_HTTP_SERVER_H_
#define CHURN_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace churn::http {

// One parsed request, as a handler sees it. A plain value; the server builds a new one for each
// request and it lives until the handler returns. (Every field has a default member initializer,
// here and in Response, so designated initializers compile cleanly under g++ 12 -Wextra.)
struct Request {
  // The method as sent ("GET", "POST", ...; HTTP methods are case-sensitive).
  std::string method{};
  // The raw request target, e.g. "/a%20b/c?x=1".
  std::string target{};
  // The percent-decoded path without the query, e.g. "/a b/c". Always starts with '/'.
  std::string path{};
  // Decoded query parameters in order of appearance ('+' decodes to a space); a parameter
  // without '=' has an empty value. Repeated names are all kept.
  std::vector<std::pair<std::string, std::string>> query{};
  // Header fields in order of appearance; names lower-cased, values as sent.
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
  // The peer's IP address ("127.0.0.1", "::1"), without the port.
  std::string remote_address{};

  // The value of the first query parameter called exactly `name`, or nullopt.
  std::optional<std::string> Query(absl::string_view name) const;
  // The value of the first header called `name` (compared case-insensitively), or nullopt.
  std::optional<std::string> Header(absl::string_view name) const;
};

// What a handler answers. The server adds Content-Length and Server; Content-Type is sent
// unless empty. For 204 and 304 no body is sent; for HEAD requests the body is not sent but
// Content-Length is its size. A status outside 200..599 is sent as 500.
struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body{};
  // Extra header fields, sent as given after the standard ones. A field whose name or value
  // holds CR, LF or NUL is dropped (no header injection).
  std::vector<std::pair<std::string, std::string>> headers{};

  // A response with content type "application/json".
  static Response Json(int status, std::string body);
  // A response with content type "text/plain; charset=utf-8".
  static Response Text(int status, std::string body);
  // The server's JSON error shape: {"error": "<message>"} (message JSON-escaped).
  static Response Error(int status, absl::string_view message);
};

// Answers one request. Runs on a server io thread, concurrently with other requests on other
// connections, so it must be thread-safe. It should not throw; if it does, the client gets 500.
using Handler = std::function<Response(const Request&)>;

// Sends the response to one request: call it once, from any thread (the response is written on
// the connection's io thread). Later calls do nothing. A Responder destroyed without having been
// called answers 500, so a request is never left without an answer. Move-only. Every Responder
// must be called or destroyed before its Server is destroyed (it refers to the connection's io
// thread): a component that keeps them (a queue) is drained before the server is stopped.
class Responder {
 public:
  using SendFn = std::function<void(Response)>;

  Responder() = default;

  explicit Responder(SendFn send) : send_(std::move(send)) {}

  Responder(Responder&& other) noexcept : send_(std::exchange(other.send_, nullptr)) {}

  Responder& operator=(Responder&& other) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  void operator()(Response response);

  // Whether the response is still to be sent.
  bool Pending() const { return static_cast<bool>(send_); }

 private:
  SendFn send_;
};

// Answers one request through `respond`, now or later (see Responder). Called on a server io
// thread like a Handler; it must not block for long. If it throws, the client gets 500.
using AsyncHandler = std::function<void(Request request, Responder respond)>;

// Maps method + path to a Handler. Routes are exact paths (Handle) or path prefixes
// (HandlePrefix, plain string prefixes: "/a" also matches "/ab"); paths are compared after
// percent-decoding. For a request, the candidate routes are the exact route of its path, then
// every prefix route matching it from the longest prefix to the shortest; the first candidate
// with a handler for the method answers (a HEAD request also accepts a GET handler). When
// candidates exist but none has the method, the answer is 405 with an Allow header listing
// their methods; when there is no candidate, 404. Both default to JSON error bodies.
//
// Thread-compatible while being set up; Dispatch is thread-safe once setup is done (no
// Handle/HandlePrefix/Set* calls after the server has started).
class Router {
 public:
  // Answers `method` requests for exactly `path` (e.g. "/api/2.0/mlflow/runs/get") with
  // `handler`, replacing any earlier handler for the same method and path.
  void Handle(absl::string_view method, absl::string_view path, Handler handler);

  // Answers `method` requests for every path starting with `prefix` with `handler`, replacing
  // any earlier handler for the same method and prefix.
  void HandlePrefix(absl::string_view method, absl::string_view prefix, Handler handler);

  // Answers `method` requests for exactly `path` with an asynchronous handler (which Dispatch
  // cannot call: use DispatchAsync).
  void HandleAsync(absl::string_view method, absl::string_view path, AsyncHandler handler);

  // Replaces the default 404 answer ({"error": "no route for <path>"}).
  void SetNotFound(Handler handler);

  // Replaces the default 405 answer. `allow` is the comma-separated method list ("GET, POST");
  // the Router adds the Allow header unless the handler's response already has one.
  void SetMethodNotAllowed(
      std::function<Response(const Request&, const std::string& allow)> handler);

  // The response for `request`, as described above. Thread-safe after setup; exceptions from
  // handlers propagate (the Server turns them into 500). A route added with HandleAsync answers
  // 500 here.
  Response Dispatch(const Request& request) const;

  // Answers `request` through `respond`, calling asynchronous routes as they are and the others
  // as Dispatch does. Thread-safe after setup.
  void DispatchAsync(Request request, Responder respond) const;

 private:
  struct Route {
    Handler sync{};
    AsyncHandler async{};
  };

  // method -> handler, for one path or prefix.
  using MethodMap = std::map<std::string, Route, std::less<>>;

  // The route answering `request`, or null with *fallback set to the 404 or 405 answer.
  const Route* Resolve(const Request& request, Response* fallback) const;

  std::map<std::string, MethodMap, std::less<>> exact_;
  std::map<std::string, MethodMap, std::less<>> prefixes_;
  Handler not_found_;
  std::function<Response(const Request&, const std::string&)> method_not_allowed_;
};

// How a Server listens and behaves. Use designated initializers: {.port = 8080, .threads = 4}.
struct ServerOptions {
  // Address to listen on: an IPv4 or IPv6 literal, or "localhost". Default loopback.
  std::string host = "127.0.0.1";
  // Port to listen on; 0 picks any free port (see Server::Port). Default 0.
  uint16_t port = 0;
  // Number of io threads, each with its own acceptor on the port (SO_REUSEPORT); 0 means one per
  // core (std::thread::hardware_concurrency). Default 0.
  int threads = 0;
  // Largest accepted request body; larger bodies get 413. Default 16 MiB.
  size_t max_body_bytes = 16 << 20;
  // Largest accepted request line + header block; larger get 431. Default 64 KiB.
  size_t max_header_bytes = 64 << 10;
  // A connection that stays idle (no complete request read, or no response written) longer than
  // this is closed. Default 60 s.
  absl::Duration idle_timeout = absl::Seconds(60);
  // Value of the Server header. Default "churn".
  std::string server_name = "churn";
  // When true, SIGINT and SIGTERM make Wait() stop the server and return (the process-wide
  // handlers for those signals are replaced while the server runs, so without a Wait() caller
  // the signals are swallowed). Default false.
  bool stop_on_signals = false;
  // How long Wait() lets requests in flight finish after a signal (see Server::Drain). Default
  // 0: it stops at once.
  absl::Duration drain_timeout = absl::ZeroDuration();
};

// A running HTTP server. Thread-safe: Port, Stop and Wait may be called from any thread.
class Server {
 public:
  // Binds `options.host`:`options.port` and starts serving with `handler` on
  // `options.threads` background threads. InvalidArgument for a host that is not an IP literal
  // or "localhost", or bad options (negative threads, zero max_body_bytes or max_header_bytes, an
  // empty handler); Unavailable when the address cannot be bound, also when another process
  // already listens there (the message names host:port and the system error).
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                                       Handler handler);
  // The same with an asynchronous handler.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                                       AsyncHandler handler);

  // Stop()s.
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (the one picked when options.port was 0).
  uint16_t Port() const;

  // Stops accepting, closes every connection (requests being handled finish first; their
  // responses may be lost), joins the io threads and releases the port. Idempotent. Called from
  // inside a handler it cannot join its own thread: it stops the io threads and makes Wait()
  // return; Wait(), a later Stop() from another thread or the destructor finishes the job.
  void Stop();

  // Graceful stop: closes the listening sockets (new connections are refused), answers from
  // then on with "Connection: close" (keep-alive clients cannot keep it busy), waits until no
  // request is being answered (a request counts from its last byte read to its response written)
  // or `timeout` has passed, then Stop()s. Returns the number of requests still unanswered then.
  // Not from a handler.
  int64_t Drain(absl::Duration timeout);

  // Requests read and not yet answered (their response not yet written), across connections.
  int64_t InFlight() const;

  // Blocks until Stop() has been called on another thread, or (with stop_on_signals) a SIGINT or
  // SIGTERM arrived, in which case it Drain()s the server (options.drain_timeout) before
  // returning.
  void Wait();

 private:
  class Impl;

  explicit Server(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace churn::http

#endif  // CHURN_HTTP_SERVER_H_
