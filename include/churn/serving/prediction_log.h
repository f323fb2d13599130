// File: churn/serving/prediction_log.h
//
// The prediction store: every scored record (request id, time, model version, inputs,
// probability, label, latency) and the late ground truth that arrives for them (feedback), in a
// database of their own, apart from the registry, so serving writes never contend with registry
// reads: SQLite (WAL) by default, PostgreSQL by URL.
//
// Writes are batched off the request path by one writer thread (group commit): Append queues a
// record with a callback; the writer takes everything queued, inserts it in one transaction and,
// once the transaction has committed, calls each record's callback. The model server answers a
// request from that callback, so a prediction whose answer was sent is already committed: it
// survives a SIGKILL of the server (SQLite in WAL mode has written it to the WAL file before the
// commit returns; PostgreSQL has it on the server). With synchronous=FULL (`durable_fsync`) it
// also survives a power cut, at the cost of an fsync per group.
//
// When the writer cannot keep up, the queue fills to `max_queue` records and Append refuses
// (ResourceExhausted: the server answers 503 with Retry-After) instead of dropping anything.
// A failed transaction is retried; if it still fails, its callbacks get the error (the server
// answers 503) and the failure is counted. The destructor (and Close) writes what is queued.
// Thread-safe.
#ifndef CHURN_SERVING_PREDICTION_LOG_H_
#define CHURN_SERVING_PREDICTION_LOG_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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
};

struct FeedbackRecord {
  // One of the two identifies the prediction(s): a request id, or a customer id (the
  // customer's predictions up to `time_us`).
  std::string request_id{};
  std::string customer_id{};
  int churned = 0;
  int64_t time_us = 0;  // when the outcome was observed
};

struct PredictionLogOptions {
  // "sqlite:PATH", a plain path (SQLite), or "postgresql://..." (libpq URI).
  std::string url{};
  // Records waiting at most; beyond, Append refuses.
  size_t max_queue = 100000;
  // Records per transaction at most.
  size_t max_batch = 8192;
  // SQLite: synchronous=FULL (survives power loss) instead of NORMAL (survives a crash).
  bool durable_fsync = false;
};

// Called on the writer thread once the record is committed (OK) or has failed (the error).
using LoggedCallback = std::function<void(const absl::Status&)>;

class PredictionLog {
 public:
  // Opens (creating the tables) and starts the writer. InvalidArgument for a bad URL,
  // Unavailable when the database cannot be opened or reached.
  static absl::StatusOr<std::unique_ptr<PredictionLog>> Open(const PredictionLogOptions& options);

  virtual ~PredictionLog() = default;

  // Queues records (all or none) and calls `done` once for all of them. ResourceExhausted when
  // they do not fit in the queue (then `done` is not called); FailedPrecondition after Close.
  virtual absl::Status Append(std::vector<PredictionRecord> records, LoggedCallback done) = 0;
  // Queues one feedback record the same way; InvalidArgument unless exactly one of request_id
  // and customer_id is set and churned is 0 or 1.
  virtual absl::Status AddFeedback(FeedbackRecord feedback, LoggedCallback done) = 0;

  // Blocks until everything queued before the call is committed or failed.
  virtual void Flush() = 0;
  // Writes what is queued, then stops the writer; later Appends fail. Idempotent.
  virtual void Close() = 0;

  struct Stats {
    size_t queue_depth = 0;  // records waiting
    int64_t written = 0;     // records committed
    int64_t failures = 0;    // records whose transaction failed
    int64_t commits = 0;     // transactions committed
  };

  virtual Stats GetStats() const = 0;

  // Reading (tests, monitoring, reports): predictions with id > after_id, oldest first.
  struct Row {
    int64_t id = 0;
    PredictionRecord record{};
  };

  virtual absl::StatusOr<std::vector<Row>> ReadPredictions(int64_t after_id, size_t limit) = 0;
  virtual absl::StatusOr<int64_t> CountPredictions() = 0;
  virtual absl::StatusOr<int64_t> CountFeedback() = 0;

  // "sqlite:PATH" or "postgresql://host:port/db".
  virtual std::string Describe() const = 0;
};

}  // namespace churn::serving

#endif  // CHURN_SERVING_PREDICTION_LOG_H_
