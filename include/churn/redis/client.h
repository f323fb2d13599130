// File: churn/redis/client.h
//
// The one Redis client of churn, on hiredis (synchronous, Debian's libhiredis 0.14): URL
// parsing, a connection with timeouts, commands from argument vectors (binary-safe, no format
// strings) and pipelines. Redis errors ("-ERR ...", "-NOGROUP ...") are FailedPrecondition with
// Redis' text; a broken or timed-out connection is Unavailable, after which the connection is
// unusable (IsBroken) and the caller reconnects. Thread-compatible: one connection per thread.
//
//   CHURN_ASSIGN_OR_RETURN(RedisUrl url, ParseRedisUrl("redis://127.0.0.1:6379/0"));
//   CHURN_ASSIGN_OR_RETURN(std::unique_ptr<RedisConnection> c, RedisConnection::Open(url));
//   CHURN_ASSIGN_OR_RETURN(RedisReply r, c->Command({"XADD", "s", "*", "data", "{}"}));
#ifndef CHURN_REDIS_CLIENT_H_
#define CHURN_REDIS_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

struct redisContext;
struct redisReply;

namespace churn::redis {

// redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
struct RedisUrl {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user{};      // ACL user; empty: the default user
  std::string password{};  // empty: no AUTH

  // The URL without the password.
  std::string ToString() const;
};

// InvalidArgument naming the text when it is not a redis:// URL or its port or db is not a
// number.
absl::StatusOr<RedisUrl> ParseRedisUrl(absl::string_view url);

// A reply, owned. Nested elements of an array are views into the same reply.
class RedisReply {
 public:
  RedisReply() = default;
  explicit RedisReply(redisReply* reply);

  bool IsNil() const;
  bool IsArray() const;
  bool IsString() const;  // a bulk string or a status
  bool IsInteger() const;

  absl::string_view Str() const;  // empty unless IsString
  int64_t Integer() const;        // 0 unless IsInteger
  size_t Size() const;            // elements of an array, else 0
  // Element `i` of an array (a view; valid while this reply lives).
  RedisReply At(size_t i) const;

 private:
  struct Free {
    void operator()(redisReply* r) const;
  };

  RedisReply(std::shared_ptr<redisReply> owner, const redisReply* node)
      : owner_(std::move(owner)), node_(node) {}

  std::shared_ptr<redisReply> owner_{};
  const redisReply* node_ = nullptr;
};

struct RedisOptions {
  absl::Duration connect_timeout = absl::Seconds(2);
  // How long a command may wait for its reply (a blocking command needs its block time more).
  absl::Duration command_timeout = absl::Seconds(5);
};

class RedisConnection {
 public:
  // Connects, authenticates and selects the database. Unavailable naming the address when
  // Redis cannot be reached; FailedPrecondition when AUTH or SELECT is refused.
  static absl::StatusOr<std::unique_ptr<RedisConnection>> Open(const RedisUrl& url,
                                                               const RedisOptions& options = {});

  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // One command and its reply.
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& args);
  // Several commands sent at once; their replies in order. The first error reply fails the
  // whole call (the other commands still ran).
  absl::StatusOr<std::vector<RedisReply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands);

  // Commands are sent, replies are read later (a pipeline longer than one call).
  void Append(const std::vector<std::string>& args);
  absl::StatusOr<RedisReply> ReadReply();

  // After an Unavailable error: the connection cannot be used again.
  bool IsBroken() const { return broken_; }

  const RedisUrl& Url() const { return url_; }

 private:
  RedisConnection(redisContext* context, RedisUrl url) : context_(context), url_(std::move(url)) {}

  absl::Status Broken(absl::string_view what);

  redisContext* context_;
  RedisUrl url_;
  bool broken_ = false;
};

// Whether a FailedPrecondition from Command is Redis' error `code` ("NOGROUP", "BUSYGROUP",
// "NOSCRIPT"): Redis' text (which starts with the code) is the message's end.
bool IsRedisError(const absl::Status& status, absl::string_view code);

}  // namespace churn::redis

#endif  // CHURN_REDIS_CLIENT_H_
