// File: churn/base/config.h
//
// The settings of churn, from one YAML file (churn.yaml at the repository root lists every key
// with its default), overridden by environment variables and then by command-line flags.
// Precedence, lowest first: built-in defaults, the file, the environment, flags.
#ifndef CHURN_BASE_CONFIG_H_
#define CHURN_BASE_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "churn/base/object_store.h"

namespace churn::base {

// The training flow's settings (`churn train`; its flags override them).
struct TrainSettings {
  // Trials in a study, wall-clock budget in seconds (0: none), the seed of the sampler and
  // XGBoost, and the seed of the train/valid/test split (separate, so studies with different
  // seeds are compared on the same test rows).
  int trials = 50;
  double timeout_seconds = 0;
  uint64_t seed = 42;
  uint64_t split_seed = 42;
  // Trials run at once, each XGBoost on one thread (faster than one trial on every core).
  int workers = 2;
  // Boosting rounds at most, and rounds without a better validation AUC before a trial stops.
  int max_rounds = 2000;
  int early_stopping_rounds = 50;
  // Stop the study after this many finished trials without a better one; 0: never.
  int patience = 0;
  // Trials within this much of the best validation AUC compete on serving cost.
  double tolerance = 0.001;
  // tpe or random.
  std::string sampler = "tpe";
  // TPE: random startup trials, the good-fraction gamma (of sqrt(n), capped at 25), EI
  // candidates per suggestion, and the weight of the prior.
  int startup_trials = 10;
  double gamma = 0.25;
  int ei_candidates = 24;
  double prior_weight = 1.0;
  // median, halving, hyperband or none.
  std::string pruner = "median";
  // How the decision threshold is chosen on the validation split: "max_f1", or "recall:R" for
  // the highest threshold with recall >= R.
  std::string threshold = "max_f1";
  // Search space YAML; empty: the built-in default (configs/search_space.yaml).
  std::string space;
  // Experiment the studies go to, and the registered model the winner becomes a version of.
  std::string experiment = "churn-train";
  std::string model_name = "churn";
};

// The model server's settings (`churn serve http`; its flags override them).
struct ServeSettings {
  // The model version to serve and follow: NAME@ALIAS or NAME@VERSION.
  std::string model = "churn@production";
  std::string host = "127.0.0.1";
  int port = 9696;
  // io threads; 0: one per core.
  int threads = 0;
  // The prediction store: empty means SQLite at "<data_dir>/predictions.db"; or sqlite:PATH, or
  // postgresql://... Env: CHURN_PREDICTIONS_URL.
  std::string predictions;
  // The prediction log's journal directory; empty: beside a SQLite store ("<path>.journal"),
  // or "<data_dir>/predictions.journal" for PostgreSQL.
  std::string journal_dir;
  // Every prediction-journal write fdatasynced (survives power loss, not only a crash).
  bool durable_fsync = false;
  // Records waiting for the prediction log at most; beyond, requests get 503.
  int64_t max_log_queue = 100000;
  // How often the model reference is resolved again, in seconds (0: only on SIGHUP/reload).
  double poll_seconds = 10;
  // Features named per answer (TreeSHAP); 0: none.
  int reasons = 3;
  // A categorical value outside the declared levels: reject (400) or unknown_bucket (counted).
  std::string unknown_category = "reject";
  // Records per batch call at most.
  int max_batch = 1000;
  // Largest request body in bytes.
  int64_t max_body_bytes = int64_t{4} << 20;
  // Bearer token POST /admin/reload requires; empty: none. Env: CHURN_ADMIN_TOKEN.
  std::string admin_token;
  // Seconds SIGTERM waits for requests in flight.
  double drain_seconds = 10;
};

// Live drift in `churn serve http` and `churn serve stream` (drift/monitor.h): the windows of
// the served version against its reference, exported as Prometheus gauges.
struct DriftSettings {
  bool enabled = true;
  // The count window: the last N predictions.
  int64_t count_window = 1000;
  // The time window, and the rows it keeps at most (a uniform sample per 1/30 of it beyond).
  double time_window_seconds = 300;
  int64_t time_window_max_rows = 30000;
  // A window or column with fewer rows gives no verdict.
  int64_t min_rows = 100;
  // Share of drifted features at which the dataset drifted.
  double share = 0.5;
  // How often the gauges are computed, in seconds.
  double interval_seconds = 5;
  // Labeled predictions (feedback) the realized quality is computed on.
  int64_t labeled_window = 1000;
  // Tests per input replacing Evidently's choice: "COL=TEST[:THRESHOLD], ..." (empty: none).
  std::string tests;
};

// The deployment gates of `churn deploy` (src/flows/deploy_flow.cc computes each).
struct DeploySettings {
  // auc_floor: the candidate's test ROC-AUC (version metric test_auc) must be at least this.
  double min_test_auc = 0.95;
  // no_regression: production's ROC-AUC minus the candidate's, both on the candidate's holdout,
  // must be at most this.
  double max_auc_drop = 0.005;
  // latency: the p99 of one request's scoring work (decode + encode, predict, TreeSHAP reasons)
  // over the canary, in milliseconds, must be at most this.
  double max_p99_ms = 5.0;
  // Holdout rows scored by the latency and scorer gates (the holdout is cycled when smaller).
  int canary_rows = 1000;
  // The alias a deployment moves.
  std::string alias = "production";
};

// The report flow (`churn report`) and the reports `churn serve http` serves at /reports/.
struct ReportSettings {
  // Where reports are written: empty means "<data_dir>/reports".
  std::string dir;
  // The window of the prediction log a report covers, ending now, in seconds (3 hours).
  double window_seconds = 3 * 3600;
  // The model whose drift reference the window is compared with: empty means serve.model.
  std::string model;

  bool operator==(const ReportSettings&) const = default;
};

// One flow of the scheduler (`flows:` in churn.yaml, a mapping from the flow's name).
struct FlowSettings {
  std::string name;
  // train: `churn train` [then `churn deploy NAME@candidate`]; report: `churn report`;
  // retrain_if_drifted: `churn drift` on the log window, then the train steps if it drifted;
  // command: `command` as given (any program).
  std::string kind;
  // Exactly one of the two: a cron expression, or an interval ("3h", "every 90s").
  std::string cron;
  std::string every;
  // The time zone of `cron` (empty: scheduler.time_zone).
  std::string time_zone;
  bool enabled = true;
  // Attempts after the first failure; the delay doubles each time.
  int retries = 0;
  double retry_delay_seconds = 60;
  // An attempt running longer is stopped (SIGTERM, then SIGKILL) and fails; 0: no limit.
  double timeout_seconds = 0;
  // More flags for the flow's churn command (train: `churn train`; report: `churn report`).
  std::vector<std::string> args;
  // train and retrain_if_drifted: deploy the new version through the gates afterwards.
  bool deploy = false;
  // retrain_if_drifted: the prediction-log window checked (0: report.window_seconds).
  double window_seconds = 0;
  // command: the program and its arguments.
  std::vector<std::string> command;

  bool operator==(const FlowSettings&) const = default;
};

// The scheduler (`churn scheduler`) and the flow-run store.
struct SchedulerSettings {
  // Flow runs: empty means SQLite at "<data_dir>/flows.db"; "postgresql://..." when schedulers
  // on several hosts share them (one leads). Env: CHURN_FLOWS_URL.
  std::string runs;
  // The time zone of cron schedules that name none.
  std::string time_zone = "UTC";
  // How often a standby scheduler tries to take the lead, in seconds.
  double leader_poll_seconds = 5;
  // How often a running flow records that it is alive, and after how long without a sign of
  // life it counts as crashed, in seconds.
  double heartbeat_seconds = 5;
  double stale_seconds = 60;
  // SIGTERM: how long runs in flight get to stop before they are killed, in seconds.
  double shutdown_grace_seconds = 30;
  // Ended runs older than this many days are deleted, except the newest keep_runs of each flow.
  double retention_days = 30;
  int64_t keep_runs = 100;

  bool operator==(const SchedulerSettings&) const = default;
};

// The flows of a config without a `flows:` section: training every 6 hours (with the deploy
// gates), a report every 3 hours, and retraining when drifted (disabled).
std::vector<FlowSettings> DefaultFlows();

struct Config {
  // Holds every embedded store (offline store objects, online store, later the registry).
  // Env: CHURN_DATA_DIR. Default "./churn-data".
  std::string data_dir = "./churn-data";
  // Log level: trace, debug, info, warn, error, off. Env: CHURN_LOG_LEVEL. Default "info".
  std::string log_level = "info";
  // Log format: "text" or "json" (one JSON object a line). Default "text".
  std::string log_format = "text";

  // Where the offline store keeps snapshots: empty means "<data_dir>/objects"; otherwise a folder
  // or "s3://bucket/prefix". Env: CHURN_OBJECT_STORE.
  std::string object_store;
  // S3 endpoint and credentials (also from the AWS_* environment variables).
  S3Options s3;

  // Online store: empty means SQLite at "<data_dir>/online.sqlite"; "redis://host:port[/db]"
  // means one Redis hash per entity. Env: CHURN_REDIS_URL.
  std::string online_store;

  // The registry (tracking + model registry): empty means SQLite at "<data_dir>/registry.db";
  // "postgresql://user@host:port/db" for several hosts. Env: CHURN_REGISTRY_URL.
  std::string registry;
  // Where registry artifacts live: empty means the object store above (keys under
  // "artifacts/"); or a folder, or "s3://bucket/prefix". Env: CHURN_ARTIFACT_STORE.
  std::string artifact_store;
  // Bearer token the registry server requires on mutating calls; empty: none.
  // Env: CHURN_REGISTRY_TOKEN (preferred: keeps the secret out of files).
  std::string registry_token;

  // Ingest: longest CSV record in bytes (default 1 MiB) and how many violations are reported in
  // full (default 20).
  size_t max_record_bytes = size_t{1} << 20;
  size_t max_reported_violations = 20;
  TrainSettings train;
  ServeSettings serve;
  DriftSettings drift;
  DeploySettings deploy;
  ReportSettings report;
  SchedulerSettings scheduler;
  // The scheduler's flows, in the order declared. `flows:` entries replace the default flow of
  // the same name key by key, and add the others.
  std::vector<FlowSettings> flows = DefaultFlows();

  // The object store URI after defaults: object_store or "<data_dir>/objects".
  std::string ObjectStoreUri() const;
  // The registry URL after defaults: registry or "sqlite:<data_dir>/registry.db".
  std::string RegistryUrl() const;
  // The artifact store URI after defaults: artifact_store or ObjectStoreUri().
  std::string ArtifactStoreUri() const;
  // The prediction store URL after defaults: serve.predictions or
  // "sqlite:<data_dir>/predictions.db".
  std::string PredictionsUrl() const;
  // The prediction log's journal directory after defaults: serve.journal_dir; else empty for a
  // SQLite store (PredictionLog's default, beside the file), "<data_dir>/predictions.journal"
  // for PostgreSQL.
  std::string PredictionJournalDir() const;
  // The reports folder after defaults: report.dir or "<data_dir>/reports".
  std::string ReportsDir() const;
  // The flow-run store URL after defaults: scheduler.runs or "sqlite:<data_dir>/flows.db".
  std::string FlowRunsUrl() const;
  // The flow named `name`, or nullptr.
  const FlowSettings* FindFlow(const std::string& name) const;
};

// Parses YAML text over `defaults`: keys present replace defaults, unknown keys are an error
// (InvalidArgument naming the key, so a typo never goes unnoticed).
absl::StatusOr<Config> ParseConfigYaml(const std::string& yaml, Config defaults);

// Loads a config: `path` when non-empty (NotFound if missing), else CHURN_CONFIG when set, else
// ./churn.yaml when it exists, else the defaults; then applies the environment overrides.
absl::StatusOr<Config> LoadConfig(const std::string& path);

}  // namespace churn::base

#endif  // CHURN_BASE_CONFIG_H_
