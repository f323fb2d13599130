// The prediction log on the SQL seam shared with the registry (registry/sql_db.h): one writer
// thread, group commit, multi-row INSERTs (one statement per 64 records, the same SQL on SQLite
// and PostgreSQL).
#include "churn/serving/prediction_log.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "registry/sql_db.h"

#include "churn/base/logging.h"
#include "churn/base/status_macros.h"

namespace churn::serving {
namespace {

using registry::internal::Dialect;
using registry::internal::SqlDb;
using registry::internal::SqlRows;
using registry::internal::SqlValue;

constexpr size_t kRowsPerStatement = 64;
constexpr int kBusyTimeoutMs = 5000;
constexpr int kAttempts = 3;

std::string Schema(Dialect dialect) {
  const char* id = dialect == Dialect::kPostgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY";
  return absl::StrCat(
      "CREATE TABLE IF NOT EXISTS predictions (id ", id,
      ", request_id TEXT NOT NULL, time_us BIGINT NOT NULL, model_name TEXT NOT NULL, "
      "model_version BIGINT NOT NULL, source TEXT NOT NULL, customer_id TEXT NOT NULL, "
      "inputs TEXT NOT NULL, probability DOUBLE PRECISION NOT NULL, label INTEGER NOT NULL, "
      "latency_us BIGINT NOT NULL);"
      "CREATE INDEX IF NOT EXISTS predictions_request ON predictions (request_id);"
      "CREATE INDEX IF NOT EXISTS predictions_time ON predictions (time_us);"
      "CREATE INDEX IF NOT EXISTS predictions_customer ON predictions (customer_id, time_us);"
      "CREATE TABLE IF NOT EXISTS feedback (id ",
      id,
      ", request_id TEXT NOT NULL, customer_id TEXT NOT NULL, churned INTEGER NOT NULL, "
      "time_us BIGINT NOT NULL);"
      "CREATE INDEX IF NOT EXISTS feedback_request ON feedback (request_id);");
}

std::string InsertSql(size_t rows) {
  std::string sql =
      "INSERT INTO predictions (request_id, time_us, model_name, model_version, source, "
      "customer_id, inputs, probability, label, latency_us) VALUES ";
  for (size_t r = 0; r < rows; ++r) {
    absl::StrAppend(&sql, r == 0 ? "" : ",", "(?,?,?,?,?,?,?,?,?,?)");
  }
  return sql;
}

void AppendParams(const PredictionRecord& p, std::vector<SqlValue>* params) {
  params->emplace_back(p.request_id);
  params->emplace_back(p.time_us);
  params->emplace_back(p.model_name);
  params->emplace_back(p.model_version);
  params->emplace_back(p.source);
  params->emplace_back(p.customer_id);
  params->emplace_back(p.inputs_json);
  params->emplace_back(p.probability);
  params->emplace_back(int64_t{p.label});
  params->emplace_back(p.latency_us);
}

// One Append or AddFeedback call.
struct Item {
  std::vector<PredictionRecord> records{};
  std::optional<FeedbackRecord> feedback{};
  LoggedCallback done{};
  int64_t seq = 0;
};

class SqlPredictionLog final : public PredictionLog {
 public:
  SqlPredictionLog(std::unique_ptr<SqlDb> db, PredictionLogOptions options)
      : db_(std::move(db)), options_(std::move(options)) {
    writer_ = std::thread([this] { Run(); });
  }

  ~SqlPredictionLog() override { Close(); }

  SqlPredictionLog(const SqlPredictionLog&) = delete;
  SqlPredictionLog& operator=(const SqlPredictionLog&) = delete;

  absl::Status Append(std::vector<PredictionRecord> records, LoggedCallback done) override {
    const size_t n = records.size();
    return Enqueue(Item{.records = std::move(records), .done = std::move(done)}, n);
  }

  absl::Status AddFeedback(FeedbackRecord feedback, LoggedCallback done) override {
    if (feedback.request_id.empty() == feedback.customer_id.empty()) {
      return absl::InvalidArgumentError("feedback: give exactly one of request_id and customer_id");
    }
    if (feedback.churned != 0 && feedback.churned != 1) {
      return absl::InvalidArgumentError("feedback: churned must be 0 or 1");
    }
    return Enqueue(Item{.feedback = std::move(feedback), .done = std::move(done)}, 1);
  }

  void Flush() override {
    absl::MutexLock lock(&mu_);
    const int64_t target = next_seq_ - 1;
    while (done_seq_ < target) {
      flushed_.Wait(&mu_);
    }
  }

  void Close() override {
    {
      absl::MutexLock lock(&mu_);
      if (closed_) {
        return;
      }
      closed_ = true;
    }
    writer_.join();
  }

  Stats GetStats() const override {
    absl::MutexLock lock(&mu_);
    return {.queue_depth = queued_records_,
            .written = written_,
            .failures = failures_,
            .commits = commits_};
  }

  absl::StatusOr<std::vector<Row>> ReadPredictions(int64_t after_id, size_t limit) override {
    absl::MutexLock lock(&db_mu_);
    CHURN_ASSIGN_OR_RETURN(
        const SqlRows rows,
        db_->Query("SELECT id, request_id, time_us, model_name, model_version, source, "
                   "customer_id, inputs, probability, label, latency_us FROM predictions "
                   "WHERE id > ? ORDER BY id LIMIT ?",
                   {after_id, static_cast<int64_t>(limit)}));
    std::vector<Row> out;
    for (size_t r = 0; r < rows.size(); ++r) {
      out.push_back(Row{.id = rows.Int(r, 0),
                        .record = {.request_id = rows.Text(r, 1),
                                   .time_us = rows.Int(r, 2),
                                   .model_name = rows.Text(r, 3),
                                   .model_version = rows.Int(r, 4),
                                   .source = rows.Text(r, 5),
                                   .customer_id = rows.Text(r, 6),
                                   .inputs_json = rows.Text(r, 7),
                                   .probability = rows.Double(r, 8),
                                   .label = static_cast<int>(rows.Int(r, 9)),
                                   .latency_us = rows.Int(r, 10)}});
    }
    return out;
  }

  absl::StatusOr<int64_t> CountPredictions() override { return Count("predictions"); }

  absl::StatusOr<int64_t> CountFeedback() override { return Count("feedback"); }

  std::string Describe() const override { return db_->Describe(); }

 private:
  absl::StatusOr<int64_t> Count(const char* table) {
    absl::MutexLock lock(&db_mu_);
    CHURN_ASSIGN_OR_RETURN(const SqlRows rows,
                           db_->Query(absl::StrCat("SELECT COUNT(*) FROM ", table), {}));
    return rows.Int(0, 0);
  }

  absl::Status Enqueue(Item item, size_t records) {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      return absl::FailedPreconditionError("prediction log is closed");
    }
    if (queued_records_ + records > options_.max_queue) {
      return absl::ResourceExhaustedError(absl::StrCat("prediction log queue is full (",
                                                       queued_records_, " records waiting, limit ",
                                                       options_.max_queue, "): retry later"));
    }
    queued_records_ += records;
    item.seq = next_seq_++;
    queue_.push_back(std::move(item));
    return absl::OkStatus();
  }

  // Takes queued items (at least one, at most about max_batch records); empty when closed and
  // drained.
  std::vector<Item> Take() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](SqlPredictionLog* self)
             ABSL_NO_THREAD_SAFETY_ANALYSIS { return !self->queue_.empty() || self->closed_; },
        this));
    std::vector<Item> items;
    size_t records = 0;
    while (!queue_.empty() && (items.empty() || records < options_.max_batch)) {
      records += std::max<size_t>(queue_.front().records.size(), 1);
      items.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return items;
  }

  absl::Status Write(const std::vector<Item>& items) {
    absl::MutexLock lock(&db_mu_);
    CHURN_RETURN_IF_ERROR(db_->Begin());
    absl::Status status = Insert(items);
    if (status.ok()) {
      status = db_->Commit();
    }
    if (!status.ok()) {
      db_->Rollback().IgnoreError();
    }
    return status;
  }

  absl::Status Insert(const std::vector<Item>& items) ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_) {
    std::vector<const PredictionRecord*> pending;
    std::vector<SqlValue> params;
    const auto flush = [&]() -> absl::Status {
      if (pending.empty()) {
        return absl::OkStatus();
      }
      params.clear();
      for (const PredictionRecord* p : pending) {
        AppendParams(*p, &params);
      }
      absl::Status s = db_->Query(InsertSql(pending.size()), params).status();
      pending.clear();
      return s;
    };
    for (const Item& item : items) {
      for (const PredictionRecord& p : item.records) {
        pending.push_back(&p);
        if (pending.size() == kRowsPerStatement) {
          CHURN_RETURN_IF_ERROR(flush());
        }
      }
      if (item.feedback) {
        const FeedbackRecord& f = *item.feedback;
        CHURN_RETURN_IF_ERROR(
            db_->Query("INSERT INTO feedback (request_id, customer_id, "
                       "churned, time_us) VALUES (?,?,?,?)",
                       {f.request_id, f.customer_id, int64_t{f.churned}, f.time_us})
                .status());
      }
    }
    return flush();
  }

  void Run() {
    for (;;) {
      std::vector<Item> items = Take();
      if (items.empty()) {
        return;
      }
      absl::Status status;
      for (int attempt = 0; attempt < kAttempts; ++attempt) {
        status = Write(items);
        if (status.ok()) {
          break;
        }
        base::LogWarn(absl::StrCat("prediction log: write failed (attempt ", attempt + 1, " of ",
                                   kAttempts, "): ", status.message()));
        absl::SleepFor(absl::Milliseconds(20 << (2 * attempt)));
      }
      size_t records = 0;
      for (const Item& item : items) {
        records += item.records.size() + (item.feedback ? 1 : 0);
      }
      {
        absl::MutexLock lock(&mu_);
        queued_records_ -= records;
        (status.ok() ? written_ : failures_) += static_cast<int64_t>(records);
        commits_ += status.ok() ? 1 : 0;
      }
      for (Item& item : items) {
        if (item.done) {
          item.done(status);
        }
      }
      absl::MutexLock lock(&mu_);
      done_seq_ = items.back().seq;
      flushed_.SignalAll();
    }
  }

  std::unique_ptr<SqlDb> db_;
  const PredictionLogOptions options_;
  absl::Mutex db_mu_;

  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_records_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t done_seq_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t commits_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar flushed_;  // signalled when done_seq_ moves
  std::thread writer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PredictionLog>> PredictionLog::Open(
    const PredictionLogOptions& options) {
  if (options.max_queue == 0 || options.max_batch == 0) {
    return absl::InvalidArgumentError("prediction log: max_queue and max_batch must be > 0");
  }
  CHURN_ASSIGN_OR_RETURN(
      std::unique_ptr<SqlDb> db,
      registry::internal::OpenSqlDb(options.url, kBusyTimeoutMs, "prediction store URL"));
  if (db->GetDialect() == Dialect::kSqlite && options.durable_fsync) {
    CHURN_RETURN_IF_ERROR(db->ExecScript("PRAGMA synchronous=FULL;"));
  }
  CHURN_RETURN_IF_ERROR(db->ExecScript(Schema(db->GetDialect())));
  return std::unique_ptr<PredictionLog>(new SqlPredictionLog(std::move(db), options));
}

}  // namespace churn::serving
