// File: churn/serving/stream_worker.h
//
// The stream worker (`churn serve stream`): scores events from Redis Streams with the same
// model, contract and prediction log as the HTTP server, at least once, replay-safe.
//
// An event is a stream entry whose field `data` holds one JSON record as POST /predict takes it
// (optional fields `request_id`, `customer_id`). Its result is an entry of the output stream:
// `data` (the JSON answer /predict would give: probability, label, threshold, model, request
// id, reasons), `source_stream`, `source_id` (the event's entry id) and `customer_id`.
//
// Delivery. Workers of one consumer group share the input streams (XREADGROUP, COUNT per
// batch, BLOCK). A batch is scored, its predictions are written to the prediction log (keyed
// by stream and entry id, so a replay never stores a row twice), and then one Lua script, run
// atomically by Redis, acknowledges each event (XACK) and writes its result only if the ack
// removed it from the group's pending list: a crash before the script leaves the batch pending
// for a retry, a crash after it lost nothing, and an event two workers raced for gets one
// result. Failures:
//   - an event without `data`, not JSON, or breaking the contract goes to the dead-letter
//     stream with the error (and is acknowledged); the worker goes on;
//   - an event delivered more than `max_deliveries` times (it keeps crashing or timing out a
//     worker) goes to the dead-letter stream;
//   - Redis unreachable: nothing is acknowledged; the worker reconnects with exponential
//     backoff and first re-reads its own pending events;
//   - a worker that died leaves its events pending: the others take them over with XAUTOCLAIM
//     once they have been idle `claim_idle`.
// The model follows its reference (churn@production) as in the HTTP server (poll, SIGHUP).
// Metrics and health are served on a small HTTP port (GET /metrics, GET /health).
#ifndef CHURN_SERVING_STREAM_WORKER_H_
#define CHURN_SERVING_STREAM_WORKER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "churn/drift/monitor.h"
#include "churn/registry/registry.h"
#include "churn/serving/prediction_log.h"
#include "churn/serving/request_decoder.h"
#include "churn/serving/served_model.h"

namespace churn::serving {

struct StreamWorkerOptions {
  ModelRef model{};
  std::string redis_url = "redis://127.0.0.1:6379";
  // The input streams (partitions) this worker reads, all in one consumer group.
  std::vector<std::string> streams = {"churn:requests"};
  std::string out_stream = "churn:predictions";
  // Empty: "<first input stream>:dead".
  std::string dead_stream{};
  std::string group = "scorers";
  // This worker's name in the group; unique per worker, stable across its restarts (a
  // restarted worker first finishes what it left pending).
  std::string consumer{};
  // Where a new group starts reading: "0" (the whole stream) or "$" (new events only).
  std::string group_start = "0";
  size_t batch = 512;                              // COUNT of XREADGROUP
  absl::Duration block = absl::Milliseconds(200);  // BLOCK of XREADGROUP
  absl::Duration claim_idle = absl::Seconds(30);   // XAUTOCLAIM min-idle-time
  int max_deliveries = 5;                          // more: dead letter
  size_t out_maxlen = 0;                           // approximate MAXLEN of results; 0 none
  size_t reasons = 3;                              // 0: no TreeSHAP
  UnknownCategoryPolicy unknown_category = UnknownCategoryPolicy::kReject;
  absl::Duration poll_interval = absl::Seconds(10);  // model reference re-resolved
  std::string metrics_host = "127.0.0.1";
  int metrics_port = 0;                           // 0: any free port; -1: no server
  absl::Duration max_backoff = absl::Seconds(5);  // reconnect backoff cap
  bool log_predictions = true;  // Live drift windows of the served version against its reference
                                // (nullopt: off), computed
  // and exported as gauges every drift_interval (0: only when asked, GET /drift).
  std::optional<drift::MonitorOptions> drift = drift::MonitorOptions{};
  absl::Duration drift_interval = absl::Seconds(5);
};

class StreamWorker {
 public:
  // Starts the worker thread (and the metrics server). The model is loaded first when its
  // reference resolves (else the worker waits, reading nothing, until it does). Redis need not
  // be up: the worker connects when it can. InvalidArgument for bad options (no consumer name,
  // no stream, a bad Redis URL); Unavailable when the metrics port cannot be bound.
  static absl::StatusOr<std::unique_ptr<StreamWorker>> Start(const StreamWorkerOptions& options,
                                                             registry::Registry* registry,
                                                             PredictionLog* log);

  virtual ~StreamWorker() = default;

  struct Stats {
    int64_t consumed = 0;       // events read (redeliveries included)
    int64_t produced = 0;       // results written
    int64_t acked = 0;          // events acknowledged (results and dead letters)
    int64_t dead_lettered = 0;  // events sent to the dead-letter stream
    int64_t redelivered = 0;    // events read more than once
    int64_t reclaimed = 0;      // events taken over from other consumers
    int64_t duplicates = 0;     // events acknowledged meanwhile by another worker (no result)
    int64_t batches = 0;
    int64_t redis_errors = 0;
    int64_t pending = 0;  // the group's pending events (last refresh)
    int64_t lag = 0;      // entries in the streams the group has not read yet
    bool connected = false;
  };

  virtual Stats GetStats() const = 0;
  // 0 when there is no metrics server.
  virtual uint16_t MetricsPort() const = 0;
  virtual int64_t ServingVersion() const = 0;
  virtual absl::StatusOr<int64_t> Reload() = 0;
  // Finishes the batch in hand (its results written and acknowledged, or left pending), writes
  // the prediction log and stops. Idempotent.
  virtual void Stop() = 0;
};

// The partition of a customer: FNV-1a (64 bit) of the id modulo `partitions`, stable across
// processes and languages so any producer can compute it.
uint32_t StreamPartition(absl::string_view customer_id, uint32_t partitions);
// The streams of `base` split in `partitions`: {base} for 1, else base:0 ... base:N-1.
std::vector<std::string> PartitionStreams(absl::string_view base, uint32_t partitions);

}  // namespace churn::serving

#endif  // CHURN_SERVING_STREAM_WORKER_H_
