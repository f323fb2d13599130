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

  // The object store URI after defaults: object_store or "<data_dir>/objects".
  std::string ObjectStoreUri() const;
  // The registry URL after defaults: registry or "sqlite:<data_dir>/registry.db".
  std::string RegistryUrl() const;
  // The artifact store URI after defaults: artifact_store or ObjectStoreUri().
  std::string ArtifactStoreUri() const;
};

// Parses YAML text over `defaults`: keys present replace defaults, unknown keys are an error
// (InvalidArgument naming the key, so a typo never goes unnoticed).
absl::StatusOr<Config> ParseConfigYaml(const std::string& yaml, Config defaults);

// Loads a config: `path` when non-empty (NotFound if missing), else CHURN_CONFIG when set, else
// ./churn.yaml when it exists, else the defaults; then applies the environment overrides.
absl::StatusOr<Config> LoadConfig(const std::string& path);

}  // namespace churn::base

#endif  // CHURN_BASE_CONFIG_H_
