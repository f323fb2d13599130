// The prediction log: a journal writer thread (group commit into append-only segment files) and
// a loader thread (the journal into the SQL store in large transactions, on the SQL seam shared
// with the registry, registry/sql_db.h). See the header for the design.
#include "churn/serving/prediction_log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <filesystem>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "registry/sql_db.h"
#include "serving/prediction_journal.h"

#include "churn/base/file.h"
#include "churn/base/logging.h"
#include "churn/base/status_macros.h"

namespace churn::serving {
namespace {

using internal::JournalEntry;
using internal::JournalSegment;
using registry::internal::Dialect;
using registry::internal::SqlDb;
using registry::internal::SqlRows;
using registry::internal::SqlValue;

constexpr size_t kRowsPerStatement = 64;
constexpr int kBusyTimeoutMs = 5000;
constexpr int kWriteAttempts = 3;
// Attempts of a load after Close before the loader leaves the rest in the journal.
constexpr int kLoadAttemptsWhenClosing = 3;
constexpr char kSegmentSuffix[] = ".journal";

std::string Schema(Dialect dialect) {
  const char* id = dialect == Dialect::kPostgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY";
  return absl::StrCat(
      "CREATE TABLE IF NOT EXISTS predictions (id ", id,
      ", request_id TEXT NOT NULL, time_us BIGINT NOT NULL, model_name TEXT NOT NULL, "
      "model_version BIGINT NOT NULL, source TEXT NOT NULL, customer_id TEXT NOT NULL, "
      "inputs TEXT NOT NULL, probability DOUBLE PRECISION NOT NULL, label INTEGER NOT NULL, "
      "latency_us BIGINT NOT NULL, source_key TEXT);"
      "CREATE INDEX IF NOT EXISTS predictions_request ON predictions (request_id);"
      "CREATE INDEX IF NOT EXISTS predictions_time ON predictions (time_us);"
      "CREATE INDEX IF NOT EXISTS predictions_customer ON predictions (customer_id, time_us);"
      "CREATE TABLE IF NOT EXISTS feedback (id ",
      id,
      ", request_id TEXT NOT NULL, customer_id TEXT NOT NULL, churned INTEGER NOT NULL, "
      "time_us BIGINT NOT NULL);"
      "CREATE INDEX IF NOT EXISTS feedback_request ON feedback (request_id);"
      "CREATE INDEX IF NOT EXISTS feedback_time ON feedback (time_us);"
      // How far each journal segment is loaded, committed with the rows it loaded.
      "CREATE TABLE IF NOT EXISTS prediction_journal (segment TEXT PRIMARY KEY, "
      "loaded_bytes BIGINT NOT NULL);");
}

// Stores made before source keys existed get the column; then the unique index that makes a
// replayed record a no-op (NULL keys, HTTP's, never conflict).
absl::Status AddSourceKey(SqlDb& db) {
  if (!db.Query("SELECT source_key FROM predictions LIMIT 0", {}).ok()) {
    CHURN_RETURN_IF_ERROR(db.ExecScript("ALTER TABLE predictions ADD COLUMN source_key TEXT"));
  }
  return db.ExecScript(
      "CREATE UNIQUE INDEX IF NOT EXISTS predictions_source_key ON predictions (source_key)");
}

std::string InsertSql(size_t rows) {
  std::string sql =
      "INSERT INTO predictions (request_id, time_us, model_name, model_version, source, "
      "customer_id, inputs, probability, label, latency_us, source_key) VALUES ";
  for (size_t r = 0; r < rows; ++r) {
    absl::StrAppend(&sql, r == 0 ? "" : ",", "(?,?,?,?,?,?,?,?,?,?,?)");
  }
  sql.append(" ON CONFLICT DO NOTHING");
  return sql;
}

void AppendParams(PredictionRecord&& p, std::vector<SqlValue>* params) {
  params->emplace_back(std::move(p.request_id));
  params->emplace_back(p.time_us);
  params->emplace_back(std::move(p.model_name));
  params->emplace_back(p.model_version);
  params->emplace_back(std::move(p.source));
  params->emplace_back(std::move(p.customer_id));
  params->emplace_back(std::move(p.inputs_json));
  params->emplace_back(p.probability);
  params->emplace_back(int64_t{p.label});
  params->emplace_back(p.latency_us);
  if (p.source_key.empty()) {
    params->emplace_back(std::monostate());
  } else {
    params->emplace_back(std::move(p.source_key));
  }
}

// Inserts `entries` (consuming them) inside the caller's transaction.
absl::Status InsertEntries(SqlDb& db, std::vector<JournalEntry>& entries) {
  std::vector<SqlValue> params;
  size_t rows = 0;
  const auto flush = [&]() -> absl::Status {
    if (rows == 0) {
      return absl::OkStatus();
    }
    absl::Status s = db.Query(InsertSql(rows), params).status();
    params.clear();
    rows = 0;
    return s;
  };
  for (JournalEntry& entry : entries) {
    if (auto* p = std::get_if<PredictionRecord>(&entry)) {
      AppendParams(std::move(*p), &params);
      if (++rows == kRowsPerStatement) {
        CHURN_RETURN_IF_ERROR(flush());
      }
      continue;
    }
    CHURN_RETURN_IF_ERROR(flush());
    auto& f = std::get<FeedbackRecord>(entry);
    CHURN_RETURN_IF_ERROR(
        db.Query("INSERT INTO feedback (request_id, customer_id, "
                 "churned, time_us) VALUES (?,?,?,?)",
                 {std::move(f.request_id), std::move(f.customer_id), int64_t{f.churned}, f.time_us})
            .status());
  }
  return flush();
}

// One Append or AddFeedback call.
struct Item {
  std::vector<PredictionRecord> records{};
  std::optional<FeedbackRecord> feedback{};
  LoggedCallback done{};
  int64_t seq = 0;
};

// One of this log's segments. `file` is appended by the writer thread only; the byte counts are
// guarded by the log's mutex.
struct Segment {
  std::unique_ptr<JournalSegment> file;
  uint64_t written = 0;  // bytes appended and acknowledged
  uint64_t loaded = 0;   // bytes loaded into the store
  bool sealed = false;   // the writer has moved on to a newer segment
};

// What a load of one range did: the offset up to which the store now has the segment, and
// DataLoss when the rest of the range could not be decoded (the range was loaded up to it).
struct LoadResult {
  uint64_t next = 0;
  int64_t records = 0;  // entries loaded
  absl::Status corrupt{};
};

class SqlPredictionLog final : public PredictionLog {
 public:
  SqlPredictionLog(std::unique_ptr<SqlDb> db, PredictionLogOptions options,
                   std::filesystem::path journal_dir)
      : db_(std::move(db)), options_(std::move(options)), journal_dir_(std::move(journal_dir)) {
    // Unique among the logs of this host, past and present: the process, the time, and a count
    // for several logs in one process.
    static std::atomic<int> logs_in_process{0};
    prefix_ = absl::StrFormat("%d-%x-%d", static_cast<int>(::getpid()),
                              absl::ToUnixNanos(absl::Now()), logs_in_process.fetch_add(1));
  }

  ~SqlPredictionLog() override { Close(); }

  SqlPredictionLog(const SqlPredictionLog&) = delete;
  SqlPredictionLog& operator=(const SqlPredictionLog&) = delete;

  // Loads what earlier logs left in the journal directory, opens this log's first segment and
  // starts the threads.
  absl::Status Start() {
    CHURN_RETURN_IF_ERROR(RecoverOrphans());
    CHURN_ASSIGN_OR_RETURN(std::unique_ptr<JournalSegment> first, NewSegmentFile());
    {
      absl::MutexLock lock(&mu_);
      segments_.push_back(std::make_shared<Segment>(Segment{.file = std::move(first)}));
    }
    writer_ = std::thread([this] { RunWriter(); });
    loader_ = std::thread([this] { RunLoader(); });
    return absl::OkStatus();
  }

  absl::Status Append(std::vector<PredictionRecord> records, LoggedCallback done) override {
    const size_t n = records.size();
    return Enqueue(Item{.records = std::move(records), .done = std::move(done)}, n);
  }

  absl::Status AddFeedback(FeedbackRecord feedback, LoggedCallback done) override {
    CHURN_RETURN_IF_ERROR(feedback.Validate());
    return Enqueue(Item{.feedback = std::move(feedback), .done = std::move(done)}, 1);
  }

  void Flush() override {
    absl::MutexLock lock(&mu_);
    const int64_t target = next_seq_ - 1;
    const auto written = [this, target]()
                             ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_seq_ >= target; };
    mu_.Await(absl::Condition(&written));
    const uint64_t journaled = journal_bytes_;
    const auto loaded = [this, journaled]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return loaded_bytes_ >= journaled || loader_gave_up_;
    };
    ++flushing_;  // the loader loads at once instead of gathering
    mu_.Await(absl::Condition(&loaded));
    --flushing_;
  }

  void Close() override {
    {
      absl::MutexLock lock(&mu_);
      if (closed_) {
        return;
      }
      closed_ = true;
    }
    if (writer_.joinable()) {
      writer_.join();
    }
    if (loader_.joinable()) {
      loader_.join();
    }
  }

  Stats GetStats() const override {
    absl::MutexLock lock(&mu_);
    return {.queue_depth = queued_records_,
            .written = written_,
            .loaded = loaded_,
            .failures = failures_,
            .journal_writes = journal_writes_,
            .commits = commits_,
            .backlog_bytes = journal_bytes_ - loaded_bytes_};
  }

  using PredictionLog::ReadPredictions;

  absl::StatusOr<std::vector<Row>> ReadPredictions(const Query& q) override {
    absl::MutexLock lock(&db_mu_);
    CHURN_ASSIGN_OR_RETURN(
        const SqlRows rows,
        db_->Query("SELECT id, request_id, time_us, model_name, model_version, source, "
                   "customer_id, inputs, probability, label, latency_us, "
                   "COALESCE(source_key, '') FROM predictions "
                   "WHERE id > ? AND time_us >= ? AND time_us < ? ORDER BY id LIMIT ?",
                   {q.after_id, q.since_us, q.until_us, static_cast<int64_t>(q.limit)}));
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
                                   .latency_us = rows.Int(r, 10),
                                   .source_key = rows.Text(r, 11)}});
    }
    return out;
  }

  absl::StatusOr<std::vector<FeedbackRow>> ReadFeedback(const FeedbackQuery& q) override {
    absl::MutexLock lock(&db_mu_);
    CHURN_ASSIGN_OR_RETURN(
        const SqlRows rows,
        db_->Query("SELECT id, request_id, customer_id, churned, time_us FROM feedback "
                   "WHERE id > ? AND time_us >= ? ORDER BY id LIMIT ?",
                   {q.after_id, q.since_us, static_cast<int64_t>(q.limit)}));
    std::vector<FeedbackRow> out;
    for (size_t r = 0; r < rows.size(); ++r) {
      out.push_back(FeedbackRow{.id = rows.Int(r, 0),
                                .record = {.request_id = rows.Text(r, 1),
                                           .customer_id = rows.Text(r, 2),
                                           .churned = static_cast<int>(rows.Int(r, 3)),
                                           .time_us = rows.Int(r, 4)}});
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

  absl::StatusOr<std::unique_ptr<JournalSegment>> NewSegmentFile() {
    return JournalSegment::Create(journal_dir_ /
                                  absl::StrCat(prefix_, "-", next_segment_++, kSegmentSuffix));
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
    if (journal_bytes_ - loaded_bytes_ > options_.max_backlog_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "prediction store is behind (", journal_bytes_ - loaded_bytes_,
          " journal bytes not loaded yet, limit ", options_.max_backlog_bytes, "): retry later"));
    }
    queued_records_ += records;
    item.seq = next_seq_++;
    queue_.push_back(std::move(item));
    return absl::OkStatus();
  }

  // ---- the writer: queue -> journal, then the callbacks

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

  // Appends `bytes` to the newest segment (a new one once it is over the segment size).
  absl::Status WriteJournal(absl::string_view bytes) {
    std::shared_ptr<Segment> active;
    {
      absl::MutexLock lock(&mu_);
      active = segments_.back();
    }
    if (active->written > 0 && active->written + bytes.size() > options_.segment_bytes) {
      CHURN_ASSIGN_OR_RETURN(std::unique_ptr<JournalSegment> file, NewSegmentFile());
      auto next = std::make_shared<Segment>(Segment{.file = std::move(file)});
      absl::MutexLock lock(&mu_);
      active->sealed = true;
      segments_.push_back(next);
      active = std::move(next);
    }
    CHURN_RETURN_IF_ERROR(active->file->Append(bytes, options_.durable_fsync));
    absl::MutexLock lock(&mu_);
    active->written += bytes.size();
    journal_bytes_ += bytes.size();
    return absl::OkStatus();
  }

  // Encodes the items' records into `buffer`; returns how many there are.
  static size_t Encode(const std::vector<Item>& items, std::string* buffer) {
    buffer->clear();
    size_t records = 0;
    for (const Item& item : items) {
      for (const PredictionRecord& p : item.records) {
        internal::AppendJournalEntry(p, buffer);
      }
      if (item.feedback) {
        internal::AppendJournalEntry(*item.feedback, buffer);
      }
      records += item.records.size() + (item.feedback ? 1 : 0);
    }
    return records;
  }

  absl::Status WriteWithRetries(absl::string_view bytes) {
    absl::Status status;
    for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
      status = WriteJournal(bytes);
      if (status.ok()) {
        break;
      }
      base::LogWarn(absl::StrCat("prediction log: journal write failed (attempt ", attempt + 1,
                                 " of ", kWriteAttempts, "): ", status.message()));
      absl::SleepFor(absl::Milliseconds(20 << (2 * attempt)));
    }
    return status;
  }

  void RunWriter() {
    std::string buffer;
    for (;;) {
      std::vector<Item> items = Take();
      if (items.empty()) {
        break;
      }
      const size_t records = Encode(items, &buffer);
      const absl::Status status = WriteWithRetries(buffer);
      {
        absl::MutexLock lock(&mu_);
        queued_records_ -= records;
        (status.ok() ? written_ : failures_) += static_cast<int64_t>(records);
        journal_writes_ += status.ok() ? 1 : 0;
      }
      for (Item& item : items) {
        if (item.done) {
          item.done(status);
        }
      }
      absl::MutexLock lock(&mu_);
      done_seq_ = items.back().seq;
    }
    absl::MutexLock lock(&mu_);
    writer_done_ = true;
  }

  // ---- the loader: journal -> SQL store

  // Loads the whole entries of [from, to) of `file` in one transaction that also records how far
  // the segment is loaded.
  absl::StatusOr<LoadResult> LoadRange(const JournalSegment& file, uint64_t from, uint64_t to) {
    size_t length = static_cast<size_t>(std::min<uint64_t>(to - from, kLoadChunkBytes));
    CHURN_ASSIGN_OR_RETURN(std::string bytes, file.ReadAt(from, length));
    std::vector<JournalEntry> entries;
    absl::StatusOr<size_t> used = internal::DecodeJournal(bytes, &entries);
    if (used.ok() && *used == 0 && length < to - from && bytes.size() >= 4) {
      // One entry longer than a chunk: read all of it (DecodeJournal bounds its length).
      uint32_t n = 0;
      std::memcpy(&n, bytes.data(), sizeof(n));
      length = static_cast<size_t>(std::min<uint64_t>(to - from, uint64_t{n} + 4));
      CHURN_ASSIGN_OR_RETURN(bytes, file.ReadAt(from, length));
      used = internal::DecodeJournal(bytes, &entries);
    }
    LoadResult result;
    if (!used.ok()) {
      result.corrupt = used.status();
    }
    const size_t consumed = used.ok() ? *used : 0;
    result.next = from + consumed;
    result.records = static_cast<int64_t>(entries.size());
    if (entries.empty() && consumed == 0) {
      return result;
    }
    absl::MutexLock lock(&db_mu_);
    CHURN_RETURN_IF_ERROR(db_->Begin());
    absl::Status status = InsertEntries(*db_, entries);
    if (status.ok()) {
      status = db_->Query(
                      "INSERT INTO prediction_journal (segment, loaded_bytes) VALUES (?, ?) "
                      "ON CONFLICT (segment) DO UPDATE SET loaded_bytes = excluded.loaded_bytes",
                      {file.Name(), static_cast<int64_t>(result.next)})
                   .status();
    }
    if (status.ok()) {
      status = db_->Commit();
    }
    if (!status.ok()) {
      db_->Rollback().IgnoreError();
      return status;
    }
    return result;
  }

  // Forgets a fully loaded segment: its file, then its row.
  absl::Status Retire(JournalSegment& file) {
    CHURN_RETURN_IF_ERROR(file.Remove());
    absl::MutexLock lock(&db_mu_);
    return db_->Query("DELETE FROM prediction_journal WHERE segment = ?", {file.Name()}).status();
  }

  // Waits for something to load; the segment to load from, or nullptr when the writer is done
  // and everything is loaded.
  std::shared_ptr<Segment> NextToLoad() {
    absl::MutexLock lock(&mu_);
    const auto any = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return journal_bytes_ > loaded_bytes_ || writer_done_ || segments_.front()->sealed;
    };
    mu_.Await(absl::Condition(&any));
    const auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return journal_bytes_ - loaded_bytes_ >= kLoadChunkBytes / 2 || writer_done_ ||
             segments_.front()->sealed || flushing_ > 0;
    };
    if (!ready()) {
      // Gather a while: one large transaction costs far less per record than many small ones.
      mu_.AwaitWithTimeout(absl::Condition(&ready), options_.load_delay);
    }
    if (journal_bytes_ == loaded_bytes_ && writer_done_ && !segments_.front()->sealed) {
      return nullptr;
    }
    return segments_.front();
  }

  // After a failed load: waits before the next attempt, or returns true when the loader should
  // give up (the log is closing and the store stays unreachable).
  bool LoadFailed(const absl::Status& status, int failures) {
    base::LogWarn(absl::StrCat("prediction log: loading the journal into ", db_->Describe(),
                               " failed (", failures, " in a row): ", status.message()));
    absl::MutexLock lock(&mu_);
    if (writer_done_ && failures >= kLoadAttemptsWhenClosing) {
      loader_gave_up_ = true;  // the journal keeps it for the next Open
      base::LogError(absl::StrCat("prediction log: ", journal_bytes_ - loaded_bytes_,
                                  " journal bytes left in ", journal_dir_.string(),
                                  " for the next start to load"));
      return true;
    }
    mu_.AwaitWithTimeout(absl::Condition(&closed_),
                         absl::Milliseconds(std::min(1000, 20 << std::min(failures, 6))));
    return false;
  }

  // Records a load of [from, to) of `segment`.
  void Loaded(Segment& segment, uint64_t from, uint64_t to, LoadResult& loaded) {
    uint64_t next = loaded.next;
    if (loaded.corrupt.ok() && next == from) {
      loaded.corrupt = absl::DataLossError("an entry longer than a load");
    }
    if (!loaded.corrupt.ok()) {
      // Cannot happen to a segment this process wrote and read back; never loop on it.
      base::LogError(absl::StrCat("prediction log: ", loaded.corrupt.message(), " in ",
                                  segment.file->Path().string(), "; skipping ", to - next,
                                  " bytes"));
      next = to;
    }
    absl::MutexLock lock(&mu_);
    loaded_bytes_ += next - from;
    loaded_ += loaded.records;
    commits_ += 1;
    segment.loaded = next;
  }

  void RunLoader() {
    int failures = 0;
    for (;;) {
      std::shared_ptr<Segment> segment = NextToLoad();
      if (segment == nullptr) {
        break;
      }
      uint64_t from = 0;
      uint64_t to = 0;
      bool sealed = false;
      {
        absl::MutexLock lock(&mu_);
        from = segment->loaded;
        to = segment->written;
        sealed = segment->sealed;
      }
      if (from < to) {
        absl::StatusOr<LoadResult> loaded = LoadRange(*segment->file, from, to);
        if (!loaded.ok()) {
          if (LoadFailed(loaded.status(), ++failures)) {
            return;
          }
          continue;
        }
        failures = 0;
        Loaded(*segment, from, to, *loaded);
      } else if (sealed) {
        if (absl::Status s = Retire(*segment->file); !s.ok()) {
          base::LogWarn(absl::StrCat("prediction log: ", s.message()));
        }
        absl::MutexLock lock(&mu_);
        segments_.pop_front();
      }
    }
    // Everything is loaded: the last segment goes too.
    std::shared_ptr<Segment> last;
    {
      absl::MutexLock lock(&mu_);
      last = segments_.front();
    }
    if (absl::Status s = Retire(*last->file); !s.ok()) {
      base::LogWarn(absl::StrCat("prediction log: ", s.message()));
    }
  }

  // Loads and removes the segments in the journal directory that nobody holds (left by a log
  // that was killed, or could not reach the store when it closed).
  absl::Status RecoverOrphans() {
    std::error_code ec;
    std::vector<std::filesystem::path> paths;
    for (const auto& entry : std::filesystem::directory_iterator(journal_dir_, ec)) {
      if (absl::EndsWith(entry.path().filename().string(), kSegmentSuffix)) {
        paths.push_back(entry.path());
      }
    }
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("prediction log: cannot list ", journal_dir_.string(), ": ", ec.message()));
    }
    std::sort(paths.begin(), paths.end());
    for (const auto& path : paths) {
      CHURN_RETURN_IF_ERROR(RecoverOrphan(path));
    }
    return absl::OkStatus();
  }

  absl::Status RecoverOrphan(const std::filesystem::path& path) {
    absl::StatusOr<std::unique_ptr<JournalSegment>> claimed = JournalSegment::Claim(path);
    if (absl::IsNotFound(claimed.status())) {
      return absl::OkStatus();  // another log recovered it meanwhile
    }
    CHURN_RETURN_IF_ERROR(claimed.status());
    if (*claimed == nullptr) {
      return absl::OkStatus();  // a live log owns it
    }
    JournalSegment& file = **claimed;
    uint64_t from = 0;
    {
      absl::MutexLock lock(&db_mu_);
      CHURN_ASSIGN_OR_RETURN(
          const SqlRows rows,
          db_->Query("SELECT loaded_bytes FROM prediction_journal WHERE segment = ?",
                     {file.Name()}));
      from = !rows.empty() ? static_cast<uint64_t>(rows.Int(0, 0)) : 0;
    }
    CHURN_ASSIGN_OR_RETURN(const uint64_t size, file.FileSize());
    while (from < size) {
      CHURN_ASSIGN_OR_RETURN(const LoadResult loaded, LoadRange(file, from, size));
      if (!loaded.corrupt.ok()) {
        base::LogError(absl::StrCat("prediction log: ", loaded.corrupt.message(), " in ",
                                    path.string(), ": ", size - loaded.next,
                                    " bytes not loaded; the file is kept as ", path.string(),
                                    ".corrupt"));
        std::error_code ec;
        std::filesystem::rename(path, path.string() + ".corrupt", ec);
        absl::MutexLock lock(&db_mu_);
        return db_->Query("DELETE FROM prediction_journal WHERE segment = ?", {file.Name()})
            .status();
      }
      if (loaded.next == from) {
        break;  // a cut-short entry at the end: never acknowledged
      }
      from = loaded.next;
    }
    base::LogInfo(absl::StrCat("prediction log: recovered ", path.filename().string(), " (", size,
                               " bytes) into ", db_->Describe()));
    return Retire(file);
  }

  static constexpr uint64_t kLoadChunkBytes = uint64_t{4} << 20;

  std::unique_ptr<SqlDb> db_;
  const PredictionLogOptions options_;
  const std::filesystem::path journal_dir_;
  std::string prefix_;
  int next_segment_ = 1;  // writer thread (and Start)
  absl::Mutex db_mu_;

  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);
  size_t queued_records_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t done_seq_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t loaded_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t journal_writes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t commits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t journal_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // appended by this log
  uint64_t loaded_bytes_ ABSL_GUARDED_BY(mu_) = 0;   // of those, loaded into the store
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool writer_done_ ABSL_GUARDED_BY(mu_) = false;
  int flushing_ ABSL_GUARDED_BY(mu_) = 0;  // Flush calls waiting
  bool loader_gave_up_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_;
  std::thread loader_;
};

}  // namespace

absl::Status FeedbackRecord::Validate() const {
  if (request_id.empty() == customer_id.empty()) {
    return absl::InvalidArgumentError("feedback: give exactly one of request_id and customer_id");
  }
  if (churned != 0 && churned != 1) {
    return absl::InvalidArgumentError("feedback: churned must be 0 or 1");
  }
  return absl::OkStatus();
}

std::string PredictionLog::DefaultJournalDir(absl::string_view sqlite_url) {
  return std::string(absl::StripPrefix(sqlite_url, "sqlite:")) + kSegmentSuffix;
}

absl::StatusOr<std::unique_ptr<PredictionLog>> PredictionLog::Open(
    const PredictionLogOptions& options) {
  if (options.max_queue == 0 || options.max_batch == 0 || options.segment_bytes == 0) {
    return absl::InvalidArgumentError(
        "prediction log: max_queue, max_batch and segment_bytes must be > 0");
  }
  CHURN_ASSIGN_OR_RETURN(
      std::unique_ptr<SqlDb> db,
      registry::internal::OpenSqlDb(options.url, kBusyTimeoutMs, "prediction store URL"));
  std::filesystem::path journal_dir = options.journal_dir;
  if (journal_dir.empty()) {
    if (db->GetDialect() != Dialect::kSqlite) {
      return absl::InvalidArgumentError(
          "prediction log: a journal directory is needed with a PostgreSQL store");
    }
    journal_dir = DefaultJournalDir(options.url);
  }
  CHURN_RETURN_IF_ERROR(base::MakeDirs(journal_dir));
  CHURN_RETURN_IF_ERROR(db->ExecScript(Schema(db->GetDialect())));
  CHURN_RETURN_IF_ERROR(AddSourceKey(*db));
  auto log = std::make_unique<SqlPredictionLog>(std::move(db), options, std::move(journal_dir));
  CHURN_RETURN_IF_ERROR(log->Start());
  return std::unique_ptr<PredictionLog>(std::move(log));
}

}  // namespace churn::serving
