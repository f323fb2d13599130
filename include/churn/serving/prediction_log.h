// File: churn/serving/prediction_log.h
//
// The prediction store: every scored record (request id, time, model version, inputs,
// probability, label, latency) and the late ground truth that arrives for them (feedback), in a
// database of their own, apart from the registry, so serving writes never contend with registry
// reads: SQLite (WAL) by default, PostgreSQL by URL.
//
// A record takes two steps, both off the request path:
// 1. The journal (durability). One writer thread takes everything queued and appends it to a
//    segment file of the log's journal directory with one write (group commit), then calls each
//    record's callback. The model server answers a request from that callback, so a prediction
//    whose answer was sent is in the journal: it survives a SIGKILL of the server (the kernel
//    has the bytes); with `durable_fsync` (an fdatasync per group) also a power cut.
// 2. The store (queries). A loader thread reads the journal and inserts it into the SQL store in
//    large transactions (about 4 MiB of records, or what `load_delay` gathered), recording in
//    the same transaction how far each segment is loaded; a loaded segment is deleted. Records
//    are queryable within about `load_delay`, and at once after Flush.
// Why not insert on the request path: an answer must wait for its record, so a transaction can
// only hold the requests in flight (64 for 64 connections), and small SQLite transactions cost
// ~15 µs of writer CPU a record, as much as the whole rest of the request; a journal write costs
// one system call per group, and large transactions a fraction per record (ADR 0006).
//
// Recovery: each log holds an exclusive lock on its own segment files. Open loads, before it
// returns, every segment in the directory that nobody holds (a killed server's, or one whose
// store was down at Close) from where the store says it stopped, so after Open everything ever
// acknowledged is in the store. An entry cut short by a kill was never acknowledged and is
// dropped.
//
// Push-back, never loss: when the writer falls behind, the queue fills to `max_queue` records;
// when the store falls behind (or is down), the journal backlog grows to `max_backlog_bytes`;
// past either, Append refuses (ResourceExhausted: the server answers 503 with Retry-After). A
// failed journal write is retried, then its callbacks get the error (503) and it is counted. A
// failed load is retried with back-off while the journal keeps the records. Close (and the
// destructor) writes what is queued and loads the journal; if the store stays unreachable, the
// journal is left for the next Open. Thread-safe.
#ifndef CHURN_SERVING_PREDICTION_LOG_H_
#define CHURN_SERVING_PREDICTION_LOG_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace churn::serving {

struct PredictionRecord {
  std::string request_id{};
  int64_t time_us = 0;  // microseconds since the epoch
  std::string model_name{};
  int64_t model_version = 0;
  std::string source = "http";  // http, http-batch, v2, stream
  std::string customer_id{};    // the entity key when the request carried it
  std::string inputs_json{};    // the accepted fields
  double probability = 0;
  int label = 0;
  int64_t latency_us = 0;  // receiving the request to scoring it
  // Where the record came from when a replay may deliver it again ("churn:requests/1700-0": a
  // stream and an entry id); unique in the store, so a replayed record is stored once. Empty:
  // not deduplicated (HTTP).
  std::string source_key{};
};

struct FeedbackRecord {
  // One of the two identifies the prediction(s): a request id, or a customer id (the
  // customer's predictions up to `time_us`).
  std::string request_id{};
  std::string customer_id{};
  int churned = 0;
  int64_t time_us = 0;  // when the outcome was observed

  // InvalidArgument unless exactly one of request_id and customer_id is set and churned is 0 or
  // 1 (what PredictionLog::AddFeedback accepts).
  absl::Status Validate() const;
};

struct PredictionLogOptions {
  // "sqlite:PATH", a plain path (SQLite), or "postgresql://..." (libpq URI).
  std::string url{};
  // Records waiting at most; beyond, Append refuses.
  size_t max_queue = 100000;
  // Records per journal write at most.
  size_t max_batch = 8192;
  // fdatasync the journal after every write: a record acknowledged survives a power cut, not
  // only a crash of the process.
  bool durable_fsync = false;
  // Where the journal's segment files live. Empty: beside a SQLite store ("<path>.journal");
  // required with PostgreSQL. Several logs (processes) may share one directory and one store.
  std::string journal_dir{};
  // A segment file is closed for a new one past this size.
  uint64_t segment_bytes = uint64_t{64} << 20;
  // Journal bytes not yet in the store at most; beyond, Append refuses (the store is down or
  // slower than the traffic).
  uint64_t max_backlog_bytes = uint64_t{1} << 30;
  // How long the loader gathers journal bytes into one transaction.
  absl::Duration load_delay = absl::Milliseconds(50);
};

// Called on the writer thread once the record is in the journal (OK) or has failed (the error).
using LoggedCallback = std::function<void(const absl::Status&)>;

class PredictionLog {
 public:
  // Opens the store (creating the tables) and the journal directory, loads what earlier logs
  // left in it (see Recovery above) and starts the threads. InvalidArgument for a bad URL or a
  // PostgreSQL store without a journal directory, Unavailable when the database cannot be
  // opened or reached, Internal when the journal cannot be written.
  static absl::StatusOr<std::unique_ptr<PredictionLog>> Open(const PredictionLogOptions& options);

  // The journal directory Open uses for a SQLite store when none is given: "<path>.journal"
  // beside the database file of "sqlite:PATH" (or a plain PATH).
  static std::string DefaultJournalDir(absl::string_view sqlite_url);

  virtual ~PredictionLog() = default;

  // Queues records (all or none) and calls `done` once for all of them. ResourceExhausted when
  // they do not fit in the queue (then `done` is not called); FailedPrecondition after Close.
  virtual absl::Status Append(std::vector<PredictionRecord> records, LoggedCallback done) = 0;
  // Queues one feedback record the same way; InvalidArgument unless exactly one of request_id
  // and customer_id is set and churned is 0 or 1.
  virtual absl::Status AddFeedback(FeedbackRecord feedback, LoggedCallback done) = 0;

  // Blocks until everything queued before the call is in the store (or failed).
  virtual void Flush() = 0;
  // Writes what is queued, loads the journal into the store, then stops both threads; later
  // Appends fail. Idempotent.
  virtual void Close() = 0;

  struct Stats {
    size_t queue_depth = 0;      // records waiting for the journal
    int64_t written = 0;         // records in the journal (acknowledged)
    int64_t loaded = 0;          // of those, records loaded into the store
    int64_t failures = 0;        // records whose journal write failed
    int64_t journal_writes = 0;  // group commits to the journal
    int64_t commits = 0;         // store transactions
    uint64_t backlog_bytes = 0;  // journal bytes not in the store yet
  };

  virtual Stats GetStats() const = 0;

  // Reading (tests, monitoring, reports): predictions with id > after_id, oldest first.
  struct Row {
    int64_t id = 0;
    PredictionRecord record{};
  };

  struct Query {
    int64_t after_id = 0;
    // Predictions scored in [since_us, until_us) only.
    int64_t since_us = std::numeric_limits<int64_t>::min();
    int64_t until_us = std::numeric_limits<int64_t>::max();
    size_t limit = 1000;
  };

  virtual absl::StatusOr<std::vector<Row>> ReadPredictions(const Query& query) = 0;

  absl::StatusOr<std::vector<Row>> ReadPredictions(int64_t after_id, size_t limit) {
    return ReadPredictions(Query{.after_id = after_id, .limit = limit});
  }

  // Feedback with id > after_id observed at or after since_us, oldest first (at most limit).
  struct FeedbackRow {
    int64_t id = 0;
    FeedbackRecord record{};
  };

  struct FeedbackQuery {
    int64_t after_id = 0;
    int64_t since_us = std::numeric_limits<int64_t>::min();
    size_t limit = 1000;
  };

  virtual absl::StatusOr<std::vector<FeedbackRow>> ReadFeedback(const FeedbackQuery& query) = 0;

  virtual absl::StatusOr<int64_t> CountPredictions() = 0;
  virtual absl::StatusOr<int64_t> CountFeedback() = 0;

  // "sqlite:PATH" or "postgresql://host:port/db".
  virtual std::string Describe() const = 0;
};

}  // namespace churn::serving

#endif  // CHURN_SERVING_PREDICTION_LOG_H_
