// File: churn/registry/registry.h
//
// The tracking store and model registry: experiments, runs (params, tags, metric history,
// artifacts, the dataset snapshot they trained on), registered models, versions, aliases and
// the history of every alias move. One interface, two backends chosen by URL:
//
//   "sqlite:///abs/path/registry.db", "sqlite:relative.db" or a plain path  -> SQLite (WAL)
//   "postgresql://user@host:port/db" (or "postgres://")                    -> PostgreSQL
//
// Versioned schema migrations are applied when the registry is opened. Every mutation is one
// transaction, so a process killed at any point leaves the database consistent, and several
// processes may write at once (SQLite serialises writers with BEGIN IMMEDIATE and a busy
// timeout; PostgreSQL takes row locks). Artifacts live in a content-addressed ArtifactStore.
//
// Error codes, as MLflow's: NotFound (RESOURCE_DOES_NOT_EXIST), InvalidArgument
// (INVALID_PARAMETER_VALUE: bad names, limits, filters, page tokens, changed params),
// AlreadyExists (RESOURCE_ALREADY_EXISTS), FailedPrecondition (a deleted experiment or run),
// Unavailable (the database cannot be reached), DataLoss (a corrupted artifact).
//
// Implementations are thread-safe.
//
//   CHURN_ASSIGN_OR_RETURN(auto reg, OpenRegistry({.url = "sqlite:///tmp/r.db",
//                                                  .artifact_store_uri = "/tmp/artifacts"}));
//   CHURN_ASSIGN_OR_RETURN(std::string exp, reg->CreateExperiment("train", "", {}));
//   CHURN_ASSIGN_OR_RETURN(Run run, reg->CreateRun({.experiment_id = exp}));
//   CHURN_RETURN_IF_ERROR(reg->LogBatch(run.info.run_id, {{"auc", 0.99, now, 0}}, {}, {}));
#ifndef CHURN_REGISTRY_REGISTRY_H_
#define CHURN_REGISTRY_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "churn/base/object_store.h"
#include "churn/base/time.h"
#include "churn/registry/artifact_store.h"
#include "churn/registry/types.h"

namespace churn::registry {

// MLflow's limits, enforced by both backends.
inline constexpr size_t kMaxMetricsPerBatch = 1000;
inline constexpr size_t kMaxParamsPerBatch = 100;
inline constexpr size_t kMaxTagsPerBatch = 100;
inline constexpr size_t kMaxEntitiesPerBatch = 1000;
inline constexpr size_t kMaxKeyLength = 250;
inline constexpr size_t kMaxParamValueLength = 6000;
inline constexpr size_t kMaxTagValueLength = 8000;
// Largest page a search returns (MLflow's SEARCH_MAX_RESULTS_THRESHOLD for runs).
inline constexpr int64_t kMaxSearchResults = 50000;

struct RegistryOptions {
  // Where the metadata lives (see the file comment). Required.
  std::string url{};
  // Where artifact bytes live: a folder or "s3://bucket/prefix"; keys are
  // "artifacts/sha256/<2 hex>/<64 hex>". Required.
  std::string artifact_store_uri{};
  base::S3Options s3{};
  // "Now" for every recorded time. Default: the system clock.
  base::Clock* clock = nullptr;
  // SQLite: how long a writer waits for another process's transaction. Default 10 s.
  int busy_timeout_ms = 10000;
};

struct CreateRunRequest {
  std::string experiment_id{};
  std::string user_id{};
  std::string run_name{};               // empty: a generated name
  std::optional<int64_t> start_time{};  // default: now
  std::vector<Tag> tags{};
  std::string dataset_snapshot{};  // "dataset@snapshot_id" the run trains on
};

struct UpdateRunRequest {
  std::string run_id{};
  std::optional<RunStatus> status{};
  std::optional<int64_t> end_time{};
  std::optional<std::string> run_name{};
};

// A search: the filter and order_by use MLflow's syntax, e.g.
//   filter   "metrics.valid_auc > 0.99 and params.max_depth = '6' and tags.flow = 'train'"
//   order_by {"metrics.valid_auc DESC", "attributes.start_time"}
// An empty page_token starts at the first result.
struct SearchQuery {
  std::vector<std::string> experiment_ids{};  // runs only; required for runs
  std::string filter{};
  std::vector<std::string> order_by{};
  int64_t max_results = 1000;
  std::string page_token{};
  ViewType view = ViewType::kActiveOnly;
};

struct CreateModelVersionRequest {
  std::string name{};
  // "runs:/<run_id>/<path>": the version's artifacts are the run's files under <path>. Any
  // other URI is recorded as is.
  std::string source{};
  std::string run_id{};  // taken from `source` when empty and source is runs:/
  std::string description{};
  std::string user_id{};
  std::string run_link{};
  std::string signature{};  // JSON text
  std::vector<std::pair<std::string, double>> metrics{};
  std::vector<Tag> tags{};
};

struct GcOptions {
  // Keep the newest N runs of every experiment whatever their age.
  int64_t keep_last = 0;
  // Only runs that ended (or started, when they never ended) before now - older_than_ms.
  int64_t older_than_ms = 0;
  // Report what would go, remove nothing.
  bool dry_run = false;
};

struct GcResult {
  std::vector<std::string> deleted_runs{};
  int64_t artifacts_deleted = 0;
};

class Registry {
 public:
  virtual ~Registry() = default;

  // "sqlite:<path>" or "postgresql://host:port/db" (no password), for messages.
  virtual std::string Describe() const = 0;
  // The schema version the database is at after migrations.
  virtual absl::StatusOr<int64_t> SchemaVersion() = 0;

  // --- Experiments -------------------------------------------------------------------------
  // Returns the new experiment's id. AlreadyExists when the name is taken (even by a deleted
  // experiment), InvalidArgument for an empty or over-long name.
  virtual absl::StatusOr<std::string> CreateExperiment(absl::string_view name,
                                                       absl::string_view artifact_location,
                                                       const std::vector<Tag>& tags) = 0;
  virtual absl::StatusOr<Experiment> GetExperiment(absl::string_view experiment_id) = 0;
  virtual absl::StatusOr<Experiment> GetExperimentByName(absl::string_view name) = 0;
  // Filter attributes: name, creation_time, last_update_time, tags.<key>.
  virtual absl::StatusOr<Page<Experiment>> SearchExperiments(const SearchQuery& query) = 0;
  virtual absl::Status DeleteExperiment(absl::string_view experiment_id) = 0;
  virtual absl::Status RestoreExperiment(absl::string_view experiment_id) = 0;
  virtual absl::Status SetExperimentTag(absl::string_view experiment_id, const Tag& tag) = 0;

  // --- Runs --------------------------------------------------------------------------------
  // NotFound for an unknown experiment, FailedPrecondition for a deleted one.
  virtual absl::StatusOr<Run> CreateRun(const CreateRunRequest& request) = 0;
  virtual absl::StatusOr<RunInfo> UpdateRun(const UpdateRunRequest& request) = 0;
  virtual absl::StatusOr<Run> GetRun(absl::string_view run_id) = 0;
  virtual absl::Status DeleteRun(absl::string_view run_id) = 0;
  virtual absl::Status RestoreRun(absl::string_view run_id) = 0;
  // Logs everything in one transaction, or nothing. InvalidArgument for a limit exceeded, a bad
  // key, or a param logged before with another value; FailedPrecondition for a deleted run.
  virtual absl::Status LogBatch(absl::string_view run_id, const std::vector<Metric>& metrics,
                                const std::vector<Param>& params, const std::vector<Tag>& tags) = 0;
  virtual absl::Status DeleteTag(absl::string_view run_id, absl::string_view key) = 0;
  // Every value of one metric in (step, timestamp) order.
  virtual absl::StatusOr<Page<Metric>> GetMetricHistory(absl::string_view run_id,
                                                        absl::string_view key, int64_t max_results,
                                                        absl::string_view page_token) = 0;
  // Filter attributes: run_id, run_name, status, user_id, start_time, end_time,
  // artifact_uri, dataset_snapshot; metrics.<key> (numeric), params.<key>, tags.<key>.
  // Default order: start_time DESC, then run_id.
  virtual absl::StatusOr<Page<Run>> SearchRuns(const SearchQuery& query) = 0;

  // Stores `bytes` in the artifact store and records them as the run's file `path`
  // (replacing an earlier file of that path).
  virtual absl::StatusOr<ArtifactRef> LogArtifact(absl::string_view run_id, absl::string_view path,
                                                  absl::string_view bytes) = 0;
  // The run's files whose path starts with `prefix`, sorted by path.
  virtual absl::StatusOr<std::vector<ArtifactRef>> ListArtifacts(absl::string_view run_id,
                                                                 absl::string_view prefix) = 0;
  // The bytes of a run's file, checked against its digest: DataLoss when they differ.
  virtual absl::StatusOr<std::string> ReadArtifact(absl::string_view run_id,
                                                   absl::string_view path) = 0;
  virtual ArtifactStore& Artifacts() = 0;

  // --- Registered models -------------------------------------------------------------------
  virtual absl::StatusOr<RegisteredModel> CreateRegisteredModel(absl::string_view name,
                                                                absl::string_view description,
                                                                const std::vector<Tag>& tags) = 0;
  virtual absl::StatusOr<RegisteredModel> GetRegisteredModel(absl::string_view name) = 0;
  // Filter attributes: name, tags.<key>.
  virtual absl::StatusOr<Page<RegisteredModel>> SearchRegisteredModels(
      const SearchQuery& query) = 0;
  virtual absl::StatusOr<RegisteredModel> UpdateRegisteredModel(absl::string_view name,
                                                                absl::string_view description) = 0;
  // Removes the model with its versions and aliases; the alias history stays.
  virtual absl::Status DeleteRegisteredModel(absl::string_view name) = 0;
  virtual absl::Status SetRegisteredModelTag(absl::string_view name, const Tag& tag) = 0;
  virtual absl::Status DeleteRegisteredModelTag(absl::string_view name, absl::string_view key) = 0;

  // --- Model versions ----------------------------------------------------------------------
  // The next version of `request.name` (NotFound when the model does not exist; the run, when
  // given, must exist too).
  virtual absl::StatusOr<ModelVersion> CreateModelVersion(
      const CreateModelVersionRequest& request) = 0;
  virtual absl::StatusOr<ModelVersion> GetModelVersion(absl::string_view name, int64_t version) = 0;
  // Filter attributes: name, version_number, run_id, source, tags.<key>.
  // Default order: name, then version DESC.
  virtual absl::StatusOr<Page<ModelVersion>> SearchModelVersions(const SearchQuery& query) = 0;
  virtual absl::StatusOr<ModelVersion> UpdateModelVersion(absl::string_view name, int64_t version,
                                                          absl::string_view description) = 0;
  // Removes the version; aliases that pointed at it are removed (and the removal recorded).
  virtual absl::Status DeleteModelVersion(absl::string_view name, int64_t version) = 0;
  virtual absl::Status SetModelVersionTag(absl::string_view name, int64_t version,
                                          const Tag& tag) = 0;
  virtual absl::Status DeleteModelVersionTag(absl::string_view name, int64_t version,
                                             absl::string_view key) = 0;

  // --- Aliases -----------------------------------------------------------------------------
  // Points `alias` at `version` in one transaction with its history entry. InvalidArgument for
  // a reserved or malformed alias ("latest", "v<N>", empty, over 255 characters).
  virtual absl::Status SetAlias(absl::string_view name, absl::string_view alias, int64_t version,
                                absl::string_view actor, absl::string_view reason) = 0;
  // As SetAlias, only if `alias` names `expected` now (nullopt: it names nothing): the
  // compare-and-set of a deploy that checked its gates against the version it replaces, when
  // several deploys may run at once. FailedPrecondition naming the version the alias names
  // otherwise.
  virtual absl::Status SetAliasIf(absl::string_view name, absl::string_view alias, int64_t version,
                                  std::optional<int64_t> expected, absl::string_view actor,
                                  absl::string_view reason) = 0;
  // NotFound when the alias is not set.
  virtual absl::Status DeleteAlias(absl::string_view name, absl::string_view alias,
                                   absl::string_view actor, absl::string_view reason) = 0;
  virtual absl::StatusOr<ModelVersion> GetModelVersionByAlias(absl::string_view name,
                                                              absl::string_view alias) = 0;
  // Every move of `alias` of model `name` (of every alias when `alias` is empty), oldest first.
  virtual absl::StatusOr<std::vector<AliasEvent>> AliasHistory(absl::string_view name,
                                                               absl::string_view alias) = 0;
  // The version `alias` pointed to at `time_ms`; nullopt when it pointed nowhere then.
  virtual absl::StatusOr<std::optional<int64_t>> AliasAt(absl::string_view name,
                                                         absl::string_view alias,
                                                         int64_t time_ms) = 0;

  // --- Retention ---------------------------------------------------------------------------
  // Removes runs that are not among the newest `keep_last` of their experiment and are older
  // than `older_than_ms`, except runs a model version was registered from; then the artifacts
  // no remaining run or version references.
  virtual absl::StatusOr<GcResult> GarbageCollect(const GcOptions& options) = 0;
};

// Opens (creating when missing) the registry at options.url and migrates its schema.
// InvalidArgument for a malformed URL, Unavailable when PostgreSQL cannot be reached,
// FailedPrecondition when the database was written by a newer churn (unknown migration).
absl::StatusOr<std::unique_ptr<Registry>> OpenRegistry(const RegistryOptions& options);

}  // namespace churn::registry

#endif  // CHURN_REGISTRY_REGISTRY_H_
