#include "churn/http/server.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/http_client.h"
#include "testing/test_env.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace churn::http {
namespace {

using ::churn::testing::HttpConnection;
using ::churn::testing::HttpFetch;
using ::churn::testing::HttpResponse;
using ::churn::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;
using ::testing::StartsWith;

Handler Answer(std::string body) {
  return [body = std::move(body)](const Request&) { return Response::Text(200, body); };
}

Request MakeRequest(std::string method, std::string path) {
  Request request;
  request.method = std::move(method);
  request.target = path;
  request.path = std::move(path);
  return request;
}

// The fields of a request, one per line, for the tests to look into.
Response Describe(const Request& request) {
  std::string out = absl::StrCat("method=", request.method, "\npath=", request.path, "\n");
  for (const auto& [name, value] : request.query) {
    absl::StrAppend(&out, "query:", name, "=", value, "\n");
  }
  for (const auto& [name, value] : request.headers) {
    absl::StrAppend(&out, "header:", name, "=", value, "\n");
  }
  absl::StrAppend(&out, "remote=", request.remote_address, "\nbody=", request.body);
  return Response::Text(200, out);
}

TEST(Router, ExactRouteAnswersItsMethod) {
  Router router;
  router.Handle("GET", "/a", Answer("get a"));
  router.Handle("POST", "/a", Answer("post a"));
  EXPECT_EQ(router.Dispatch(MakeRequest("GET", "/a")).body, "get a");
  EXPECT_EQ(router.Dispatch(MakeRequest("POST", "/a")).body, "post a");
}

TEST(Router, LongestPrefixWins) {
  Router router;
  router.HandlePrefix("GET", "/api/", Answer("api"));
  router.HandlePrefix("GET", "/api/models/", Answer("models"));
  router.HandlePrefix("GET", "/", Answer("root"));
  EXPECT_EQ(router.Dispatch(MakeRequest("GET", "/api/models/x")).body, "models");
  EXPECT_EQ(router.Dispatch(MakeRequest("GET", "/api/runs")).body, "api");
  EXPECT_EQ(router.Dispatch(MakeRequest("GET", "/other")).body, "root");
}

TEST(Router, ExactRouteBeatsPrefix) {
  Router router;
  router.HandlePrefix("GET", "/a", Answer("prefix"));
  router.Handle("GET", "/a/b", Answer("exact"));
  EXPECT_EQ(router.Dispatch(MakeRequest("GET", "/a/b")).body, "exact");
  EXPECT_EQ(router.Dispatch(MakeRequest("GET", "/a/bc")).body, "prefix");
}

TEST(Router, FallsThroughToAPrefixWithTheMethod) {
  Router router;
  router.Handle("GET", "/a/b", Answer("exact get"));
  router.HandlePrefix("POST", "/a/", Answer("prefix post"));
  EXPECT_EQ(router.Dispatch(MakeRequest("POST", "/a/b")).body, "prefix post");
}

TEST(Router, UnknownPathIs404WithJsonError) {
  Router router;
  router.Handle("GET", "/a", Answer("a"));
  const Response response = router.Dispatch(MakeRequest("GET", "/nope"));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, R"({"error": "no route for /nope"})");
}

TEST(Router, OtherMethodIs405WithAllowHeader) {
  Router router;
  router.Handle("GET", "/a", Answer("a"));
  router.Handle("POST", "/a", Answer("a"));
  const Response response = router.Dispatch(MakeRequest("DELETE", "/a"));
  EXPECT_EQ(response.status, 405);
  EXPECT_THAT(response.body, HasSubstr("DELETE not allowed"));
  EXPECT_THAT(response.headers,
              ::testing::Contains(std::pair<std::string, std::string>("Allow", "GET, HEAD, POST")));
}

TEST(Router, HeadUsesTheGetHandler) {
  Router router;
  router.Handle("GET", "/a", Answer("a"));
  EXPECT_EQ(router.Dispatch(MakeRequest("HEAD", "/a")).body, "a");
}

TEST(Router, CustomNotFoundAndMethodNotAllowed) {
  Router router;
  router.Handle("GET", "/a", Answer("a"));
  router.SetNotFound([](const Request&) { return Response::Json(404, R"({"error_code": 1})"); });
  router.SetMethodNotAllowed([](const Request&, const std::string& allow) {
    return Response::Json(405, absl::StrCat(R"({"allow": ")", allow, R"("})"));
  });
  EXPECT_EQ(router.Dispatch(MakeRequest("GET", "/b")).body, R"({"error_code": 1})");
  const Response response = router.Dispatch(MakeRequest("PUT", "/a"));
  EXPECT_EQ(response.body, R"({"allow": "GET, HEAD"})");
  EXPECT_THAT(response.headers,
              ::testing::Contains(std::pair<std::string, std::string>("Allow", "GET, HEAD")));
}

TEST(Response, ErrorEscapesTheMessage) {
  EXPECT_EQ(Response::Error(400, "bad \"x\"\n").body, R"({"error": "bad \"x\"\n"})");
}

TEST(Request, LooksUpFirstQueryAndHeaderValue) {
  Request request;
  request.query = {{"a", "1"}, {"a", "2"}};
  request.headers = {{"x-key", "v1"}, {"x-key", "v2"}};
  EXPECT_THAT(request.Query("a"), Optional(std::string("1")));
  EXPECT_EQ(request.Query("b"), std::nullopt);
  EXPECT_THAT(request.Header("X-Key"), Optional(std::string("v1")));
  EXPECT_EQ(request.Header("x-other"), std::nullopt);
}

// A blocking loopback TCP client for bytes the curl client would not send.
class RawSocket {
 public:
  explicit RawSocket(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    const timeval timeout{.tv_sec = 30, .tv_usec = 0};  // A broken server fails, not hangs.
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<const sockaddr*>(&address),  // NOLINT: POSIX API
                         sizeof(address)) == 0;
  }

  ~RawSocket() { close(fd_); }

  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool Connected() const { return connected_; }

  bool Send(absl::string_view bytes) const {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  // Reads until `marker` has arrived (returns everything read so far) or the peer closed.
  std::string ReadUntil(absl::string_view marker) {
    while (absl::string_view(received_).find(marker) == absl::string_view::npos && ReadSome()) {
    }
    return received_;
  }

  // Reads until the peer closes the connection (or 30 s pass).
  std::string ReadToEnd() {
    while (ReadSome()) {
    }
    return received_;
  }

 private:
  bool ReadSome() {
    char buffer[4096];
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      return false;
    }
    received_.append(buffer, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  bool connected_ = false;
  std::string received_;
};

int CountOf(absl::string_view text, absl::string_view needle) {
  int count = 0;
  for (size_t pos = text.find(needle); pos != absl::string_view::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++count;
  }
  return count;
}

class ServerTest : public ::testing::Test {
 protected:
  static constexpr size_t kMaxBody = 1024;

  void SetUp() override {
    router_.Handle("GET", "/hello", Answer("hello"));
    router_.Handle("POST", "/echo", [](const Request& request) {
      Response response = Response::Text(200, request.body);
      response.headers.emplace_back("X-Echo-Length", absl::StrCat(request.body.size()));
      response.headers.emplace_back("X-Bad", "a\r\nInjected: yes");
      return response;
    });
    router_.HandlePrefix("GET", "/describe/", Describe);
    router_.HandlePrefix("POST", "/describe/", Describe);
    router_.HandlePrefix("GET", "/files/", Answer("files"));
    router_.Handle("GET", "/throw",
                   [](const Request&) -> Response { throw std::runtime_error("boom"); });
    CHURN_ASSERT_OK_AND_ASSIGN(server_, Server::Start({.threads = 2, .max_body_bytes = kMaxBody},
                                                      [this](const Request& request) {
                                                        return router_.Dispatch(request);
                                                      }));
  }

  void TearDown() override { server_->Stop(); }

  std::string Url(absl::string_view target) const {
    return absl::StrCat("http://127.0.0.1:", server_->Port(), target);
  }

  Router router_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, RoutesExactAndPrefixPaths) {
  const HttpResponse hello = HttpFetch("GET", Url("/hello"));
  EXPECT_EQ(hello.status, 200);
  EXPECT_EQ(hello.body, "hello");
  EXPECT_THAT(hello.Header("content-type"), Optional(std::string("text/plain; charset=utf-8")));
  EXPECT_THAT(hello.Header("content-length"), Optional(std::string("5")));
  EXPECT_THAT(hello.Header("server"), Optional(std::string("churn")));
  EXPECT_EQ(HttpFetch("GET", Url("/files/a/b.txt")).body, "files");
}

TEST_F(ServerTest, UnknownPathGets404AndOtherMethod405WithAllow) {
  const HttpResponse missing = HttpFetch("GET", Url("/missing"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, R"({"error": "no route for /missing"})");
  EXPECT_THAT(missing.Header("content-type"), Optional(std::string("application/json")));
  const HttpResponse wrong = HttpFetch("DELETE", Url("/hello"));
  EXPECT_EQ(wrong.status, 405);
  EXPECT_THAT(wrong.Header("allow"), Optional(std::string("GET, HEAD")));
  EXPECT_THAT(wrong.body, HasSubstr(R"({"error": "method DELETE not allowed for /hello)"));
}

TEST_F(ServerTest, DecodesPathQueryAndHeaders) {
  const HttpResponse response =
      HttpFetch("GET", Url("/describe/a%20b%2Fc+d?x=1&q=hello+world%21&empty=&flag&x=2&&k%3D=v"),
                "", {"X-Custom-Thing: Some Value"});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_THAT(response.body, HasSubstr("method=GET\npath=/describe/a b/c+d\n"));
  EXPECT_THAT(response.body, HasSubstr("query:x=1\nquery:q=hello world!\nquery:empty=\n"
                                       "query:flag=\nquery:x=2\nquery:k==v\n"));
  EXPECT_THAT(response.body, HasSubstr("header:x-custom-thing=Some Value\n"));
  EXPECT_THAT(response.body, HasSubstr("header:host=127.0.0.1:"));
  EXPECT_THAT(response.body, HasSubstr("remote=127.0.0.1\n"));
}

TEST_F(ServerTest, MalformedPercentEscapeGets400) {
  for (const char* target :
       {"/describe/%zz", "/describe/a%2", "/describe/?a=%4", "/describe/%00"}) {
    const HttpResponse response = HttpFetch("GET", Url(target));
    EXPECT_EQ(response.status, 400) << target;
    EXPECT_THAT(response.body, HasSubstr("malformed percent-escape")) << target;
  }
  EXPECT_EQ(HttpFetch("GET", Url("/hello")).status, 200);
}

TEST_F(ServerTest, EchoesPostBodyAndDropsUnsafeHeaders) {
  std::string body(kMaxBody, 'x');
  body[0] = '\0';
  const HttpResponse response = HttpFetch("POST", Url("/echo"), body);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, body);
  EXPECT_THAT(response.Header("x-echo-length"), Optional(absl::StrCat(kMaxBody)));
  EXPECT_EQ(response.Header("x-bad"), std::nullopt);
  EXPECT_EQ(response.Header("injected"), std::nullopt);
}

TEST_F(ServerTest, HeadSendsContentLengthWithoutBody) {
  const HttpResponse response = HttpFetch("HEAD", Url("/hello"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "");
  EXPECT_THAT(response.Header("content-length"), Optional(std::string("5")));
}

TEST_F(ServerTest, OversizedBodyGets413AndServerKeepsServing) {
  const HttpResponse response = HttpFetch("POST", Url("/echo"), std::string(kMaxBody + 1, 'x'));
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(response.body, R"({"error": "request body exceeds the limit of 1024 bytes"})");
  EXPECT_THAT(response.Header("connection"), Optional(std::string("close")));
  EXPECT_EQ(HttpFetch("GET", Url("/hello")).status, 200);
}

TEST_F(ServerTest, OversizedBodyIsRefusedBeforeItIsSent) {
  RawSocket client(server_->Port());
  ASSERT_TRUE(client.Connected());
  ASSERT_TRUE(client.Send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n"));
  const std::string reply = client.ReadToEnd();
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 413 Payload Too Large\r\n"));
  EXPECT_THAT(reply, Not(HasSubstr("100 Continue")));
}

TEST_F(ServerTest, AnswersExpectContinue) {
  RawSocket client(server_->Port());
  ASSERT_TRUE(client.Connected());
  ASSERT_TRUE(client.Send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n"));
  EXPECT_EQ(client.ReadUntil("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(client.Send("hello"));
  const std::string reply = client.ReadUntil("\r\n\r\nhello");
  EXPECT_THAT(reply, HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(reply, HasSubstr("Content-Length: 5\r\n"));
}

TEST_F(ServerTest, MalformedRequestsGet400AndServerKeepsServing) {
  for (const char* bytes : {"GARBAGE\r\n\r\n", "GET /hello HTTP/1.1\r\nNo colon here\r\n\r\n",
                            "POST /echo HTTP/1.1\r\nContent-Length: zz\r\n\r\n",
                            "GET hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"}) {
    RawSocket client(server_->Port());
    ASSERT_TRUE(client.Connected());
    ASSERT_TRUE(client.Send(bytes));
    const std::string reply = client.ReadToEnd();
    EXPECT_THAT(reply, StartsWith("HTTP/1.1 400 Bad Request\r\n")) << bytes;
    EXPECT_THAT(reply, HasSubstr(R"({"error": ")")) << bytes;
  }
  EXPECT_EQ(HttpFetch("GET", Url("/hello")).status, 200);
}

TEST_F(ServerTest, OversizedHeaderGets431) {
  RawSocket client(server_->Port());
  ASSERT_TRUE(client.Connected());
  ASSERT_TRUE(client.Send(
      absl::StrCat("GET /hello HTTP/1.1\r\nX-Big: ", std::string(70000, 'a'), "\r\n\r\n")));
  EXPECT_THAT(client.ReadToEnd(), StartsWith("HTTP/1.1 431 "));
}

TEST_F(ServerTest, AnswersPipelinedRequestsInOrder) {
  RawSocket client(server_->Port());
  ASSERT_TRUE(client.Connected());
  ASSERT_TRUE(
      client.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                  "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecond"
                  "GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string reply = client.ReadToEnd();
  const size_t first = reply.find("\r\n\r\nhello");
  const size_t second = reply.find("\r\n\r\nsecond");
  const size_t third = reply.find("404 Not Found");
  ASSERT_NE(first, std::string::npos) << reply;
  ASSERT_NE(second, std::string::npos) << reply;
  ASSERT_NE(third, std::string::npos) << reply;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_EQ(CountOf(reply, "HTTP/1.1 "), 3);
}

TEST_F(ServerTest, Http10ConnectionIsClosedAfterOneResponse) {
  RawSocket client(server_->Port());
  ASSERT_TRUE(client.Connected());
  ASSERT_TRUE(client.Send("GET /hello HTTP/1.0\r\n\r\n"));
  const std::string reply = client.ReadToEnd();  // Returns only because the server closes.
  EXPECT_THAT(reply, StartsWith("HTTP/1.0 200 OK\r\n"));
  EXPECT_THAT(reply, HasSubstr("\r\n\r\nhello"));
}

TEST_F(ServerTest, KeepsOneConnectionAliveFor100Requests) {
  HttpConnection client;
  for (int i = 0; i < 100; ++i) {
    const HttpResponse response = client.Fetch("POST", Url("/echo"), absl::StrCat("request ", i));
    ASSERT_EQ(response.status, 200) << response.body;
    ASSERT_EQ(response.body, absl::StrCat("request ", i));
  }
  EXPECT_EQ(client.ConnectionsOpened(), 1);
}

TEST_F(ServerTest, ServesConcurrentClients) {
  constexpr int kThreads = 8;
  constexpr int kRequests = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Even threads keep one connection, odd ones open one per request.
      HttpConnection connection;
      for (int i = 0; i < kRequests; ++i) {
        const std::string body = absl::StrCat(t, "/", i);
        const HttpResponse response = t % 2 == 0 ? connection.Fetch("POST", Url("/echo"), body)
                                                 : HttpFetch("POST", Url("/echo"), body);
        if (response.status == 200 && response.body == body) {
          ok.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(ok.load(), kThreads * kRequests);
}

TEST_F(ServerTest, ThrowingHandlerGets500AndServerKeepsServing) {
  const HttpResponse response = HttpFetch("GET", Url("/throw"));
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body, R"({"error": "internal error: boom"})");
  EXPECT_EQ(HttpFetch("GET", Url("/hello")).status, 200);
}

TEST_F(ServerTest, StopIsIdempotentAndReleasesThePort) {
  const uint16_t port = server_->Port();
  HttpConnection idle;  // An open keep-alive connection must not keep Stop() waiting.
  ASSERT_EQ(idle.Fetch("GET", Url("/hello")).status, 200);
  server_->Stop();
  server_->Stop();
  EXPECT_EQ(HttpFetch("GET", absl::StrCat("http://127.0.0.1:", port, "/hello")).status, -1);
  CHURN_ASSERT_OK_AND_ASSIGN(auto again, Server::Start({.port = port, .threads = 1}, Answer("x")));
  EXPECT_EQ(again->Port(), port);
  EXPECT_EQ(HttpFetch("GET", absl::StrCat("http://127.0.0.1:", port, "/")).body, "x");
}

TEST_F(ServerTest, StartFailsWhenThePortIsTaken) {
  EXPECT_THAT(
      Server::Start({.port = server_->Port()}, Answer("x")),
      StatusIs(absl::StatusCode::kUnavailable, absl::StrCat("127.0.0.1:", server_->Port())));
}

TEST_F(ServerTest, StartRejectsABadHost) {
  EXPECT_THAT(Server::Start({.host = "not an address"}, Answer("x")),
              StatusIs(absl::StatusCode::kInvalidArgument, "not an address"));
}

TEST_F(ServerTest, WaitReturnsOnceStopIsCalled) {
  std::thread waiter([this] { server_->Wait(); });
  server_->Stop();
  waiter.join();
  server_->Wait();  // Already stopped: returns at once.
}

TEST_F(ServerTest, StopFromAHandlerMakesWaitReturn) {
  std::atomic<Server*> server{nullptr};
  CHURN_ASSERT_OK_AND_ASSIGN(auto own, Server::Start({.threads = 1}, [&server](const Request&) {
                               server.load()->Stop();
                               return Response::Text(200, "stopping");
                             }));
  server = own.get();
  std::thread client(
      [port = own->Port()] { HttpFetch("GET", absl::StrCat("http://127.0.0.1:", port, "/")); });
  own->Wait();
  client.join();
  EXPECT_EQ(HttpFetch("GET", absl::StrCat("http://127.0.0.1:", own->Port(), "/")).status, -1);
}

TEST_F(ServerTest, SignalMakesWaitStopTheServer) {
  CHURN_ASSERT_OK_AND_ASSIGN(auto server,
                             Server::Start({.threads = 1, .stop_on_signals = true}, Answer("x")));
  ASSERT_EQ(std::raise(SIGTERM), 0);  // Caught by the server's handler, not fatal.
  server->Wait();
  EXPECT_EQ(HttpFetch("GET", absl::StrCat("http://127.0.0.1:", server->Port(), "/")).status, -1);
}

TEST_F(ServerTest, ClosesIdleConnections) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      auto server,
      Server::Start({.threads = 1, .idle_timeout = absl::Milliseconds(100)}, Answer("x")));
  RawSocket client(server->Port());
  ASSERT_TRUE(client.Connected());
  EXPECT_EQ(client.ReadToEnd(), "");  // Returns when the server closes the idle connection.
}

TEST_F(ServerTest, BadStatusBecomes500) {
  CHURN_ASSERT_OK_AND_ASSIGN(auto server, Server::Start({.threads = 1}, [](const Request&) {
                               return Response::Text(1000, "x");
                             }));
  EXPECT_EQ(HttpFetch("GET", absl::StrCat("http://127.0.0.1:", server->Port(), "/")).status, 500);
}

// An asynchronous handler answers from another thread; the answer still arrives, in order with
// the connection's other requests.
TEST_F(ServerTest, AsyncHandlerAnswersFromAnotherThread) {
  std::vector<std::thread> workers;
  absl::Mutex mu;
  CHURN_ASSERT_OK_AND_ASSIGN(
      auto server, Server::Start({.threads = 1}, [&](Request request, Responder respond) {
        absl::MutexLock lock(&mu);
        workers.emplace_back(
            [request = std::move(request), respond = std::move(respond)]() mutable {
              std::this_thread::sleep_for(std::chrono::milliseconds(20));
              respond(Response::Text(200, absl::StrCat("later ", request.path)));
            });
      }));
  HttpConnection connection;
  const std::string base = absl::StrCat("http://127.0.0.1:", server->Port());
  EXPECT_EQ(connection.Fetch("GET", base + "/a").body, "later /a");
  EXPECT_EQ(connection.Fetch("GET", base + "/b").body, "later /b");
  EXPECT_EQ(connection.ConnectionsOpened(), 1);
  absl::MutexLock lock(&mu);
  for (auto& w : workers) {
    w.join();
  }
}

// A Responder dropped without an answer answers 500: no request is left hanging.
TEST_F(ServerTest, DroppedResponderAnswers500) {
  CHURN_ASSERT_OK_AND_ASSIGN(auto server,
                             Server::Start({.threads = 1}, [](const Request&, Responder) {}));
  const HttpResponse r = HttpFetch("GET", absl::StrCat("http://127.0.0.1:", server->Port(), "/"));
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, HasSubstr("dropped unanswered"));
}

// Drain lets a request in flight finish (its client gets the answer), tells keep-alive clients
// to go, and releases the port.
TEST_F(ServerTest, DrainFinishesRequestsInFlight) {
  std::atomic<bool> started{false};
  std::thread worker;
  CHURN_ASSERT_OK_AND_ASSIGN(auto server,
                             Server::Start({.threads = 1}, [&](const Request&, Responder respond) {
                               started = true;
                               worker = std::thread([respond = std::move(respond)]() mutable {
                                 std::this_thread::sleep_for(std::chrono::milliseconds(300));
                                 respond(Response::Text(200, "finished"));
                               });
                             }));
  const std::string url = absl::StrCat("http://127.0.0.1:", server->Port(), "/");
  HttpResponse answer;
  std::thread client([&] { answer = HttpFetch("GET", url); });
  while (!started) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(server->InFlight(), 1);
  EXPECT_EQ(server->Drain(absl::Seconds(10)), 0);
  client.join();
  worker.join();
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, "finished");
  EXPECT_EQ(answer.Header("connection").value_or(""), "close");
  EXPECT_EQ(HttpFetch("GET", url).status, -1);
}

}  // namespace
}  // namespace churn::http
