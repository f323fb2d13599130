// File: churn/serving/model_server.h
//
// The model server (`churn serve http`): scores JSON records with a registered model version
// and answers with the churn probability, the label at the model's threshold and the features
// that pushed the score most (TreeSHAP). Routes:
//   POST /predict, POST /predict/batch          the reference's request shape, validated
//   GET  /v2/health/live, /v2/health/ready      Open Inference Protocol v2 (KServe, Triton)
//   GET  /v2/models/<name>, /v2/models/<name>/ready, POST /v2/models/<name>/infer
//   GET  /health, GET /model, GET /metrics      liveness + model, version info, Prometheus text
//   POST /feedback                              late ground truth for a request or customer
//   POST /admin/reload                          re-resolve the model reference now (token)
// Every scored record goes to the prediction log and is answered once it is committed there
// (see prediction_log.h); a full log answers 503 with Retry-After. The server follows its model
// reference (an alias such as churn@production): every poll interval, on SIGHUP and on
// /admin/reload it resolves the reference and, when it names another version, loads and
// verifies that version on the reloader thread and swaps it in atomically. Requests in flight
// finish on the model they started with; a version that fails to load or verify is refused
// (counted, logged) and the old one keeps serving. Drain() finishes what is in flight, writes
// the log and stops.
#ifndef CHURN_SERVING_MODEL_SERVER_H_
#define CHURN_SERVING_MODEL_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "churn/drift/monitor.h"
#include "churn/http/server.h"
#include "churn/registry/registry.h"
#include "churn/serving/prediction_log.h"
#include "churn/serving/request_decoder.h"
#include "churn/serving/served_model.h"

namespace churn::serving {

class ModelServer;

struct ModelServerOptions {
  // The model to serve and follow.
  ModelRef model{};
  std::string host = "127.0.0.1";
  uint16_t port = 9696;
  int threads = 0;  // io threads; 0: one per core
  size_t max_body_bytes = size_t{4} << 20;
  // Records per /predict/batch or /v2 infer call at most.
  size_t max_batch_records = 1000;
  UnknownCategoryPolicy unknown_category = UnknownCategoryPolicy::kReject;
  // Features named in each answer's "reasons" (0: none, and no TreeSHAP cost).
  size_t reasons = 3;
  // How often the model reference is resolved again (0: only on SIGHUP and /admin/reload).
  absl::Duration poll_interval = absl::Seconds(10);
  // Bearer token POST /admin/reload requires; empty: none.
  std::string admin_token{};
  // How long Drain() waits for requests in flight.
  absl::Duration drain_timeout = absl::Seconds(10);
  // Log every prediction (off only for measuring what the log costs).
  bool log_predictions = true;
  // Live drift windows of the served version against its reference (nullopt: off), computed
  // and exported as gauges every drift_interval (0: only when asked, GET /drift).
  std::optional<drift::MonitorOptions> drift = drift::MonitorOptions{};
  absl::Duration drift_interval = absl::Seconds(5);
  // More routes on the same port (the reports at /reports/, the console at /ui), added after
  // the server's own routes and before it starts; the server passes itself for DriftJson().
  std::function<void(http::Router&, const ModelServer&)> extra_routes{};
};

class ModelServer {
 public:
  // Starts serving. The model is loaded first when it can be; when the reference does not
  // resolve yet (no production version) the server starts unready (503 on scoring routes,
  // /v2/health/ready 503) and picks the model up on a later reload. `registry` and `log` must
  // outlive the server. Unavailable when the port cannot be bound; a model that resolves but
  // fails to load or verify is an error too (nothing safe to serve).
  static absl::StatusOr<std::unique_ptr<ModelServer>> Start(const ModelServerOptions& options,
                                                            registry::Registry* registry,
                                                            PredictionLog* log);

  virtual ~ModelServer() = default;

  virtual uint16_t Port() const = 0;
  // The version being served, 0 when none.
  virtual int64_t ServingVersion() const = 0;
  // The live drift of the served version as GET /drift answers it, from the last computation
  // (at most drift_interval old); "{}"-like JSON with "enabled": false when drift is off.
  virtual std::string DriftJson() const = 0;
  // Resolves the reference and loads a new version when it changed (what a poll, SIGHUP and
  // /admin/reload do). Returns the version served afterwards; the load error when a new version
  // was refused.
  virtual absl::StatusOr<int64_t> Reload() = 0;
  // Stops accepting, lets requests in flight finish (their log records committed), flushes the
  // log and stops. Returns the requests left unanswered at the deadline.
  virtual int64_t Drain() = 0;
};

// Makes the next poll of every running ModelServer happen now; async-signal-safe (the SIGHUP
// handler of `churn serve http` calls it).
void RequestReload();

}  // namespace churn::serving

#endif  // CHURN_SERVING_MODEL_SERVER_H_
