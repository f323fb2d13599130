// The Redis online store: one hash per entity, "churn:features:<dataset>:<entity>", with a field
// per feature value plus "_snapshot" and "_updated_at". Writes are pipelined in MULTI/EXEC blocks
// of kBlock entities (DEL then HSET, so a value that became missing disappears): a reader sees an
// entity wholly before or wholly after a block. hiredis 0.14 is synchronous; one connection,
// guarded by a mutex.
#include <charconv>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include <hiredis/hiredis.h>

#include "churn/base/status_macros.h"
#include "churn/features/online_store.h"

namespace churn::features {
namespace {

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};

using Context = std::unique_ptr<redisContext, ContextFree>;
using Reply = std::unique_ptr<redisReply, ReplyFree>;

constexpr size_t kBlock = 512;

struct RedisUrl {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
};

absl::StatusOr<RedisUrl> ParseRedisUrl(absl::string_view url) {
  if (!absl::ConsumePrefix(&url, "redis://")) {
    return absl::InvalidArgumentError(absl::StrCat("not a redis:// URL: ", url));
  }
  RedisUrl out;
  const size_t slash = url.find('/');
  absl::string_view hostport = url.substr(0, slash);
  if (slash != absl::string_view::npos) {
    const absl::string_view db = url.substr(slash + 1);
    if (!db.empty() &&
        std::from_chars(db.data(), db.data() + db.size(), out.db).ptr != db.data() + db.size()) {
      return absl::InvalidArgumentError(absl::StrCat("bad Redis database number in ", url));
    }
  }
  const size_t colon = hostport.rfind(':');
  if (colon != absl::string_view::npos) {
    const absl::string_view port = hostport.substr(colon + 1);
    if (std::from_chars(port.data(), port.data() + port.size(), out.port).ptr !=
        port.data() + port.size()) {
      return absl::InvalidArgumentError(absl::StrCat("bad Redis port in ", url));
    }
    hostport = hostport.substr(0, colon);
  }
  if (!hostport.empty()) {
    out.host = std::string(hostport);
  }
  return out;
}

class RedisOnlineStore : public OnlineStore {
 public:
  RedisOnlineStore(Context ctx, std::string url) : ctx_(std::move(ctx)), url_(std::move(url)) {}

  absl::StatusOr<std::optional<OnlineRecord>> Get(absl::string_view dataset,
                                                  absl::string_view entity) override {
    absl::MutexLock lock(&mu_);
    const std::string key = Key(dataset, entity);
    const char* argv[] = {"HGETALL", key.c_str()};
    const size_t lens[] = {7, key.size()};
    Reply reply(static_cast<redisReply*>(redisCommandArgv(ctx_.get(), 2, argv, lens)));
    CHURN_RETURN_IF_ERROR(Check(reply.get()));
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
      return std::nullopt;
    }
    OnlineRecord record;
    record.entity = std::string(entity);
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
      std::string name(reply->element[i]->str, reply->element[i]->len);
      std::string value(reply->element[i + 1]->str, reply->element[i + 1]->len);
      if (name == "_snapshot") {
        record.snapshot_id = std::move(value);
      } else if (name == "_updated_at") {
        record.updated_at = std::move(value);
      } else {
        record.values.emplace_back(std::move(name), std::move(value));
      }
    }
    return record;
  }

  std::string Describe() const override { return url_; }

 protected:
  absl::Status Write(const MaterializeBatch& batch) override {
    absl::MutexLock lock(&mu_);
    for (size_t start = 0; start < batch.rows.size(); start += kBlock) {
      const size_t end = std::min(batch.rows.size(), start + kBlock);
      size_t pending = 0;
      Append({"MULTI"}, &pending);
      for (size_t i = start; i < end; ++i) {
        AppendEntity(batch, batch.rows[i], &pending);
      }
      Append({"EXEC"}, &pending);
      for (; pending > 0; --pending) {
        void* raw = nullptr;
        if (redisGetReply(ctx_.get(), &raw) != REDIS_OK) {
          return absl::UnavailableError(absl::StrCat("online store ", url_, ": ", ctx_->errstr));
        }
        Reply reply(static_cast<redisReply*>(raw));
        CHURN_RETURN_IF_ERROR(Check(reply.get()));
      }
    }
    return absl::OkStatus();
  }

 private:
  static std::string Key(absl::string_view dataset, absl::string_view entity) {
    return absl::StrCat("churn:features:", dataset, ":", entity);
  }

  void Append(const std::vector<std::string>& args, size_t* pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(), lens.data());
    ++*pending;
  }

  void AppendEntity(const MaterializeBatch& batch, size_t row, size_t* pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string key = Key(batch.dataset, batch.key->AsText(row));
    Append({"DEL", key}, pending);
    std::vector<std::string> args = {"HSET",        key,
                                     "_snapshot",   std::string(batch.snapshot_id),
                                     "_updated_at", std::string(batch.updated_at)};
    for (const data::Column* column : batch.columns) {
      if (!column->IsMissing(row)) {
        args.push_back(column->spec.name);
        args.push_back(column->AsText(row));
      }
    }
    Append(args, pending);
  }

  absl::Status Check(const redisReply* reply) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reply == nullptr) {
      return absl::UnavailableError(absl::StrCat("online store ", url_, ": ", ctx_->errstr));
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      return absl::InternalError(
          absl::StrCat("online store ", url_, ": ", absl::string_view(reply->str, reply->len)));
    }
    return absl::OkStatus();
  }

  absl::Mutex mu_;
  Context ctx_ ABSL_GUARDED_BY(mu_);
  std::string url_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<OnlineStore>> OpenRedisOnlineStore(absl::string_view url) {
  CHURN_ASSIGN_OR_RETURN(const RedisUrl parsed, ParseRedisUrl(url));
  const timeval timeout = {5, 0};
  Context ctx(redisConnectWithTimeout(parsed.host.c_str(), parsed.port, timeout));
  if (ctx == nullptr || ctx->err != 0) {
    return absl::UnavailableError(absl::StrCat("cannot connect to Redis at ", url, ": ",
                                               ctx == nullptr ? "no memory" : ctx->errstr));
  }
  redisSetTimeout(ctx.get(), timeout);
  if (parsed.db != 0) {
    Reply reply(static_cast<redisReply*>(redisCommand(ctx.get(), "SELECT %d", parsed.db)));
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
      return absl::UnavailableError(absl::StrCat("cannot select Redis database in ", url));
    }
  }
  return std::make_unique<RedisOnlineStore>(std::move(ctx), std::string(url));
}

}  // namespace churn::features
