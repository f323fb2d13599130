#include "churn/redis/client.h"

#include <charconv>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include "churn/base/status_macros.h"

namespace churn::redis {
namespace {

timeval Timeval(absl::Duration d) {
  return absl::ToTimeval(d < absl::Milliseconds(1) ? absl::Milliseconds(1) : d);
}

bool ParseInt(absl::string_view text, int* out) {
  return !text.empty() && std::from_chars(text.data(), text.data() + text.size(), *out).ptr ==
                              text.data() + text.size();
}

}  // namespace

std::string RedisUrl::ToString() const {
  return absl::StrCat("redis://", host, ":", port, "/", db);
}

absl::StatusOr<RedisUrl> ParseRedisUrl(absl::string_view url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "redis://")) {
    return absl::InvalidArgumentError(absl::StrCat("not a redis:// URL: '", url, "'"));
  }
  RedisUrl out;
  if (const size_t at = rest.rfind('@'); at != absl::string_view::npos) {
    const absl::string_view credentials = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    const size_t colon = credentials.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("Redis URL credentials must be [USER]:PASSWORD in '", url, "'"));
    }
    out.user = std::string(credentials.substr(0, colon));
    out.password = std::string(credentials.substr(colon + 1));
  }
  const size_t slash = rest.find('/');
  absl::string_view hostport = rest.substr(0, slash);
  if (slash != absl::string_view::npos) {
    const absl::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !ParseInt(db, &out.db)) {
      return absl::InvalidArgumentError(absl::StrCat("bad Redis database number in '", url, "'"));
    }
  }
  if (const size_t colon = hostport.rfind(':'); colon != absl::string_view::npos) {
    if (!ParseInt(hostport.substr(colon + 1), &out.port) || out.port <= 0 || out.port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad Redis port in '", url, "'"));
    }
    hostport = hostport.substr(0, colon);
  }
  if (!hostport.empty()) {
    out.host = std::string(hostport);
  }
  return out;
}

void RedisReply::Free::operator()(redisReply* r) const {
  freeReplyObject(r);
}

RedisReply::RedisReply(redisReply* reply) : owner_(reply, Free()), node_(reply) {}

bool RedisReply::IsNil() const {
  return node_ == nullptr || node_->type == REDIS_REPLY_NIL;
}

bool RedisReply::IsArray() const {
  return node_ != nullptr && node_->type == REDIS_REPLY_ARRAY;
}

bool RedisReply::IsString() const {
  return node_ != nullptr &&
         (node_->type == REDIS_REPLY_STRING || node_->type == REDIS_REPLY_STATUS);
}

bool RedisReply::IsInteger() const {
  return node_ != nullptr && node_->type == REDIS_REPLY_INTEGER;
}

absl::string_view RedisReply::Str() const {
  return IsString() ? absl::string_view(node_->str, node_->len) : absl::string_view();
}

int64_t RedisReply::Integer() const {
  return IsInteger() ? node_->integer : 0;
}

size_t RedisReply::Size() const {
  return IsArray() ? node_->elements : 0;
}

RedisReply RedisReply::At(size_t i) const {
  return i < Size() ? RedisReply(owner_, node_->element[i]) : RedisReply();
}

absl::StatusOr<std::unique_ptr<RedisConnection>> RedisConnection::Open(
    const RedisUrl& url, const RedisOptions& options) {
  redisContext* context =
      redisConnectWithTimeout(url.host.c_str(), url.port, Timeval(options.connect_timeout));
  if (context == nullptr) {
    return absl::ResourceExhaustedError("redis: cannot allocate a connection");
  }
  std::unique_ptr<RedisConnection> c(new RedisConnection(context, url));
  if (context->err != 0) {
    return absl::UnavailableError(
        absl::StrCat("redis ", url.ToString(), " unreachable: ", context->errstr));
  }
  if (redisSetTimeout(context, Timeval(options.command_timeout)) != REDIS_OK) {
    return absl::UnavailableError(absl::StrCat("redis ", url.ToString(), ": ", context->errstr));
  }
  if (!url.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!url.user.empty()) {
      auth.push_back(url.user);
    }
    auth.push_back(url.password);
    CHURN_RETURN_IF_ERROR(c->Command(auth).status());
  }
  if (url.db != 0) {
    CHURN_RETURN_IF_ERROR(c->Command({"SELECT", absl::StrCat(url.db)}).status());
  }
  return c;
}

RedisConnection::~RedisConnection() {
  redisFree(context_);
}

absl::Status RedisConnection::Broken(absl::string_view what) {
  broken_ = true;
  return absl::UnavailableError(absl::StrCat("redis ", url_.ToString(), ": ", what, ": ",
                                             context_->err != 0 ? context_->errstr : "no reply"));
}

void RedisConnection::Append(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lens.data());
}

absl::StatusOr<RedisReply> RedisConnection::ReadReply() {
  if (broken_) {
    return absl::UnavailableError(absl::StrCat("redis ", url_.ToString(), ": connection broken"));
  }
  void* raw = nullptr;
  if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
    return Broken("reading a reply");
  }
  RedisReply reply(static_cast<redisReply*>(raw));
  const auto* r = static_cast<const redisReply*>(raw);
  if (r->type == REDIS_REPLY_ERROR) {
    return absl::FailedPreconditionError(
        absl::StrCat("redis: ", absl::string_view(r->str, r->len)));
  }
  return reply;
}

absl::StatusOr<RedisReply> RedisConnection::Command(const std::vector<std::string>& args) {
  Append(args);
  return ReadReply();
}

absl::StatusOr<std::vector<RedisReply>> RedisConnection::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  for (const auto& args : commands) {
    Append(args);
  }
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  absl::Status first_error;
  for (size_t i = 0; i < commands.size(); ++i) {
    absl::StatusOr<RedisReply> reply = ReadReply();
    if (!reply.ok()) {
      if (absl::IsUnavailable(reply.status())) {
        return reply.status();
      }
      first_error.Update(reply.status());
      replies.emplace_back();
      continue;
    }
    replies.push_back(*std::move(reply));
  }
  if (!first_error.ok()) {
    return first_error;
  }
  return replies;
}

bool IsRedisError(const absl::Status& status, absl::string_view code) {
  return absl::IsFailedPrecondition(status) &&
         absl::StrContains(status.message(), absl::StrCat("redis: ", code));
}

}  // namespace churn::redis
