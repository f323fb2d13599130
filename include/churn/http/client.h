// File: churn/http/client.h
//
// A small synchronous HTTP/1.1 client on one keep-alive connection (Boost.Beast), for churn's own
// tools that talk to churn's servers: the HTTP simulator. Reconnects once when the server closed
// the connection. Not thread-safe: one Client per thread.
//
//   CHURN_ASSIGN_OR_RETURN(auto url, http::ParseUrl("http://127.0.0.1:9696/predict"));
//   http::Client client(url);
//   CHURN_ASSIGN_OR_RETURN(http::ClientResponse r, client.Post(url.target, body));
#ifndef CHURN_HTTP_CLIENT_H_
#define CHURN_HTTP_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace churn::http {

struct Url {
  std::string host{};
  uint16_t port = 80;
  std::string target = "/";  // path and query
};

// "http://host[:port][/path?query]". InvalidArgument naming the text otherwise (https is not
// supported: churn's servers sit behind a TLS-terminating proxy when they need TLS).
absl::StatusOr<Url> ParseUrl(absl::string_view text);

struct ClientResponse {
  int status = 0;
  std::string body{};
};

class Client {
 public:
  explicit Client(Url url, absl::Duration timeout = absl::Seconds(30));
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Unavailable when the server cannot be reached or the connection fails (after one
  // reconnection), DeadlineExceeded after the timeout.
  absl::StatusOr<ClientResponse> Post(absl::string_view target, absl::string_view body,
                                      absl::string_view content_type = "application/json");
  absl::StatusOr<ClientResponse> Get(absl::string_view target);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace churn::http

#endif  // CHURN_HTTP_CLIENT_H_
