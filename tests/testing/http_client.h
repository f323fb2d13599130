// Test-only HTTP client on libcurl: one-shot requests (HttpFetch) and several requests on one
// keep-alive connection (HttpConnection). For tests against servers on loopback; every request
// times out after 30 s so that a broken server fails a test instead of hanging it.
//
//   HttpResponse r = HttpFetch("POST", absl::StrCat("http://127.0.0.1:", port, "/echo"), "hi",
//                              {"Content-Type: text/plain"});
//   EXPECT_EQ(r.status, 200);
#ifndef CHURN_TESTING_HTTP_CLIENT_H_
#define CHURN_TESTING_HTTP_CLIENT_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace churn::testing {

struct HttpResponse {
  // The HTTP status code, or -1 when no response arrived (connection refused, reset, timeout).
  int status = -1;
  // The response body; on failure (status -1) the error text, as in `error`.
  std::string body{};
  // Response header fields in order; names lower-cased, values without surrounding whitespace.
  std::vector<std::pair<std::string, std::string>> headers{};
  // curl's error text when status is -1, else empty.
  std::string error{};

  // The value of the first header called `name` (compared case-insensitively), or nullopt.
  std::optional<std::string> Header(absl::string_view name) const;
};

// Sends one request on a new connection. `method` is any method ("HEAD" asks for no body);
// `body` is sent when non-empty, and always for POST and PUT (Content-Length: 0 if empty);
// `headers` are whole lines without CRLF ("Content-Type: text/plain"). "Expect: 100-continue"
// is never sent unless given in `headers`. Thread-safe.
HttpResponse HttpFetch(absl::string_view method, const std::string& url,
                       absl::string_view body = "", const std::vector<std::string>& headers = {});

// A client that reuses one keep-alive connection for successive requests (reconnecting only if
// the server closed it). Thread-compatible: use one per thread.
class HttpConnection {
 public:
  HttpConnection();
  ~HttpConnection();

  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // As HttpFetch, on this object's connection.
  HttpResponse Fetch(absl::string_view method, const std::string& url, absl::string_view body = "",
                     const std::vector<std::string>& headers = {});

  // How many TCP connections the Fetch calls so far have opened (1 when all reused the first).
  int ConnectionsOpened() const { return connections_opened_; }

 private:
  struct Handle;

  std::unique_ptr<Handle> handle_;
  int connections_opened_ = 0;
};

}  // namespace churn::testing

#endif  // CHURN_TESTING_HTTP_CLIENT_H_
