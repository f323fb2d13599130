// The Redis online store: one hash per entity, "churn:features:<dataset>:<entity>", with a field
// per feature value plus "_snapshot" and "_updated_at". Writes are pipelined in MULTI/EXEC blocks
// of kBlock entities (DEL then HSET, so a value that became missing disappears): a reader sees an
// entity wholly before or wholly after a block. hiredis 0.14 is synchronous; one connection,
// guarded by a mutex.
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

#include "churn/base/status_macros.h"
#include "churn/features/online_store.h"
#include "churn/redis/client.h"

namespace churn::features {
namespace {

using redis::RedisConnection;
using redis::RedisReply;

constexpr size_t kBlock = 512;

class RedisOnlineStore : public OnlineStore {
 public:
  RedisOnlineStore(std::unique_ptr<RedisConnection> redis, std::string url)
      : redis_(std::move(redis)), url_(std::move(url)) {}

  absl::StatusOr<std::optional<OnlineRecord>> Get(absl::string_view dataset,
                                                  absl::string_view entity) override {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<RedisReply> reply = redis_->Command({"HGETALL", Key(dataset, entity)});
    if (!reply.ok()) {
      return Annotate(reply.status());
    }
    if (!reply->IsArray() || reply->Size() == 0) {
      return std::nullopt;
    }
    OnlineRecord record;
    record.entity = std::string(entity);
    for (size_t i = 0; i + 1 < reply->Size(); i += 2) {
      std::string name(reply->At(i).Str());
      std::string value(reply->At(i + 1).Str());
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
      absl::Status first;
      for (; pending > 0; --pending) {
        absl::StatusOr<RedisReply> reply = redis_->ReadReply();
        if (!reply.ok() && absl::IsUnavailable(reply.status())) {
          return Annotate(reply.status());
        }
        first.Update(reply.status());
      }
      CHURN_RETURN_IF_ERROR(Annotate(first));
    }
    return absl::OkStatus();
  }

 private:
  static std::string Key(absl::string_view dataset, absl::string_view entity) {
    return absl::StrCat("churn:features:", dataset, ":", entity);
  }

  void Append(const std::vector<std::string>& args, size_t* pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    redis_->Append(args);
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

  absl::Status Annotate(const absl::Status& status) const {
    if (status.ok()) {
      return status;
    }
    return {absl::IsUnavailable(status) ? status.code() : absl::StatusCode::kInternal,
            absl::StrCat("online store ", url_, ": ", status.message())};
  }

  absl::Mutex mu_;
  std::unique_ptr<RedisConnection> redis_ ABSL_GUARDED_BY(mu_);
  std::string url_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<OnlineStore>> OpenRedisOnlineStore(absl::string_view url) {
  CHURN_ASSIGN_OR_RETURN(const redis::RedisUrl parsed, redis::ParseRedisUrl(url));
  absl::StatusOr<std::unique_ptr<RedisConnection>> connection = RedisConnection::Open(parsed);
  if (!connection.ok()) {
    return absl::Status(
        connection.status().code(),
        absl::StrCat("cannot connect to Redis at ", url, ": ", connection.status().message()));
  }
  return std::make_unique<RedisOnlineStore>(*std::move(connection), std::string(url));
}

}  // namespace churn::features
