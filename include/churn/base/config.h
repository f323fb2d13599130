// File: churn/base/config.h
//
// The settings of churn, from one YAML file (churn.yaml at the repository root lists every key
// with its default), overridden by environment variables and then by command-line flags.
// Precedence, lowest first: built-in defaults, the file, the environment, flags.
#ifndef CHURN_BASE_CONFIG_H_
#define CHURN_BASE_CONFIG_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

#include "churn/base/object_store.h"

namespace churn::base {

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
