// Private to the registry module: the Registry written once over the SqlDb seam, for SQLite and
// PostgreSQL alike.
//
// DESIGN
// - One connection per Registry object, behind a mutex: every public call is a handful of
//   indexed statements, so a pool would buy little on the 2-core machines this targets, and one
//   connection keeps SQLite's single-writer rule simple. Several processes (or Registry objects)
//   may use one database: SQLite serialises them with BEGIN IMMEDIATE and the busy timeout,
//   PostgreSQL with row locks.
// - Every mutation is one transaction (Tx below), retried when the database reports a lock or
//   serialisation conflict (Aborted). A model's row is updated first in every transaction that
//   changes the model, its versions or aliases: on PostgreSQL that row lock orders concurrent
//   writers of one model (version numbers stay dense, alias history stays exact).
// - Metrics go to `metrics` (the history) and `latest_metrics` (one row per run and key, MLflow's
//   "latest" rule: largest step, then timestamp, then value), which search filters and orders on.
//   NaN is stored as value 0 with is_nan 1: SQLite would turn a NaN into NULL.
// - Artifacts: LogArtifact commits the (run, path) -> digest row first and only then writes the
//   blob (when missing). GarbageCollect reads references and deletes blobs inside one write
//   transaction that locks the reference tables, so a blob is never deleted under a committed
//   reference, and a writer that committed after the collection re-creates a blob it removed.
#ifndef CHURN_REGISTRY_SQL_REGISTRY_H_
#define CHURN_REGISTRY_SQL_REGISTRY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "registry/filter.h"
#include "registry/sql_db.h"

#include "churn/registry/registry.h"

namespace churn::registry::internal {

class SqlRegistry : public Registry {
 public:
  SqlRegistry(std::unique_ptr<SqlDb> db, std::unique_ptr<ArtifactStore> artifacts,
              base::Clock* clock);

  std::string Describe() const override;
  absl::StatusOr<int64_t> SchemaVersion() override;

  absl::StatusOr<std::string> CreateExperiment(absl::string_view name,
                                               absl::string_view artifact_location,
                                               const std::vector<Tag>& tags) override;
  absl::StatusOr<Experiment> GetExperiment(absl::string_view experiment_id) override;
  absl::StatusOr<Experiment> GetExperimentByName(absl::string_view name) override;
  absl::StatusOr<Page<Experiment>> SearchExperiments(const SearchQuery& query) override;
  absl::Status DeleteExperiment(absl::string_view experiment_id) override;
  absl::Status RestoreExperiment(absl::string_view experiment_id) override;
  absl::Status SetExperimentTag(absl::string_view experiment_id, const Tag& tag) override;

  absl::StatusOr<Run> CreateRun(const CreateRunRequest& request) override;
  absl::StatusOr<RunInfo> UpdateRun(const UpdateRunRequest& request) override;
  absl::StatusOr<Run> GetRun(absl::string_view run_id) override;
  absl::Status DeleteRun(absl::string_view run_id) override;
  absl::Status RestoreRun(absl::string_view run_id) override;
  absl::Status LogBatch(absl::string_view run_id, const std::vector<Metric>& metrics,
                        const std::vector<Param>& params, const std::vector<Tag>& tags) override;
  absl::Status DeleteTag(absl::string_view run_id, absl::string_view key) override;
  absl::StatusOr<Page<Metric>> GetMetricHistory(absl::string_view run_id, absl::string_view key,
                                                int64_t max_results,
                                                absl::string_view page_token) override;
  absl::StatusOr<Page<Run>> SearchRuns(const SearchQuery& query) override;
  absl::StatusOr<ArtifactRef> LogArtifact(absl::string_view run_id, absl::string_view path,
                                          absl::string_view bytes) override;
  absl::StatusOr<std::vector<ArtifactRef>> ListArtifacts(absl::string_view run_id,
                                                         absl::string_view prefix) override;
  absl::StatusOr<std::string> ReadArtifact(absl::string_view run_id,
                                           absl::string_view path) override;

  ArtifactStore& Artifacts() override { return *artifacts_; }

  absl::StatusOr<RegisteredModel> CreateRegisteredModel(absl::string_view name,
                                                        absl::string_view description,
                                                        const std::vector<Tag>& tags) override;
  absl::StatusOr<RegisteredModel> GetRegisteredModel(absl::string_view name) override;
  absl::StatusOr<Page<RegisteredModel>> SearchRegisteredModels(const SearchQuery& query) override;
  absl::StatusOr<RegisteredModel> UpdateRegisteredModel(absl::string_view name,
                                                        absl::string_view description) override;
  absl::Status DeleteRegisteredModel(absl::string_view name) override;
  absl::Status SetRegisteredModelTag(absl::string_view name, const Tag& tag) override;
  absl::Status DeleteRegisteredModelTag(absl::string_view name, absl::string_view key) override;

  absl::StatusOr<ModelVersion> CreateModelVersion(
      const CreateModelVersionRequest& request) override;
  absl::StatusOr<ModelVersion> GetModelVersion(absl::string_view name, int64_t version) override;
  absl::StatusOr<Page<ModelVersion>> SearchModelVersions(const SearchQuery& query) override;
  absl::StatusOr<ModelVersion> UpdateModelVersion(absl::string_view name, int64_t version,
                                                  absl::string_view description) override;
  absl::Status DeleteModelVersion(absl::string_view name, int64_t version) override;
  absl::Status SetModelVersionTag(absl::string_view name, int64_t version, const Tag& tag) override;
  absl::Status DeleteModelVersionTag(absl::string_view name, int64_t version,
                                     absl::string_view key) override;

  absl::Status SetAlias(absl::string_view name, absl::string_view alias, int64_t version,
                        absl::string_view actor, absl::string_view reason) override;
  absl::Status SetAliasIf(absl::string_view name, absl::string_view alias, int64_t version,
                          std::optional<int64_t> expected, absl::string_view actor,
                          absl::string_view reason) override;
  absl::Status DeleteAlias(absl::string_view name, absl::string_view alias, absl::string_view actor,
                           absl::string_view reason) override;
  absl::StatusOr<ModelVersion> GetModelVersionByAlias(absl::string_view name,
                                                      absl::string_view alias) override;
  absl::StatusOr<std::vector<AliasEvent>> AliasHistory(absl::string_view name,
                                                       absl::string_view alias) override;
  absl::StatusOr<std::optional<int64_t>> AliasAt(absl::string_view name, absl::string_view alias,
                                                 int64_t time_ms) override;

  absl::StatusOr<GcResult> GarbageCollect(const GcOptions& options) override;

 private:
  int64_t NowMs() const;
  // Runs `body` in a write transaction, retrying on Aborted. REQUIRES: mu_ held.
  absl::Status Tx(const std::function<absl::Status()>& body) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<SqlRows> Q(absl::string_view sql, const std::vector<SqlValue>& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::StatusOr<Experiment> ExperimentWhere(absl::string_view where, const SqlValue& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SetExperimentStage(absl::string_view experiment_id, LifecycleStage stage);
  // The run's info; NotFound when there is none.
  absl::StatusOr<RunInfo> LoadRunInfo(absl::string_view run_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Like LoadRunInfo, FailedPrecondition when the run is deleted.
  absl::StatusOr<RunInfo> ActiveRun(absl::string_view run_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SetRunStage(absl::string_view run_id, LifecycleStage stage);
  // Fills metrics, params and tags of `runs` (infos set) with a few statements.
  absl::Status LoadRunData(std::vector<Run>& runs) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteMetrics(absl::string_view run_id, const std::vector<Metric>& metrics)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteParams(absl::string_view run_id, const std::vector<Param>& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Inserts rows of equal width with multi-row VALUES statements of 64, 32, ... 1 rows.
  absl::Status InsertRows(absl::string_view head, absl::string_view tail, size_t width,
                          const std::vector<SqlValue>& values) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Locks the model row (PostgreSQL) and bumps its update time; NotFound when it is missing.
  absl::Status TouchModel(absl::string_view name, int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<RegisteredModel> LoadModel(absl::string_view name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ModelVersion> LoadVersion(absl::string_view name, int64_t version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // SetAlias and SetAliasIf: `move` names the model, alias, version, actor and reason; the time
  // and previous version are filled in. Unconditional when `expected` is null.
  absl::Status MoveAlias(AliasEvent move, const std::optional<int64_t>* expected)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Appends `move` (its id is assigned by the database) to the alias history.
  absl::Status RecordAliasMove(const AliasEvent& move) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RemoveAliasesOf(absl::string_view name, std::optional<int64_t> version, int64_t now,
                               absl::string_view reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::unique_ptr<SqlDb> db_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ArtifactStore> artifacts_;
  base::Clock* clock_;
  std::string describe_;
};

// Validation shared by the tracking and registry halves (registry_validation in sql_registry.cc).
absl::Status ValidateKey(absl::string_view key, absl::string_view what);
absl::Status ValidateName(absl::string_view name, absl::string_view what);
absl::Status ValidateTag(const Tag& tag);
absl::Status ValidateAlias(absl::string_view alias);
absl::StatusOr<int64_t> ParseMaxResults(int64_t max_results);

// A search query checked and compiled for `spec`: filter and order_by as SQL, page bounds.
struct ParsedSearch {
  SqlFragment where;
  SqlFragment order;
  int64_t limit = 0;
  int64_t offset = 0;
};

absl::StatusOr<ParsedSearch> ParseSearch(const SearchQuery& query, const SearchSpec& spec);

// The page of `rows` (fetched with limit + 1) and the token of the next one.
template <typename T>
Page<T> MakePage(std::vector<T> rows, int64_t offset, int64_t limit) {
  Page<T> page;
  if (static_cast<int64_t>(rows.size()) > limit) {
    rows.resize(static_cast<size_t>(limit));
    page.next_page_token = EncodePageToken(offset + limit);
  }
  page.items = std::move(rows);
  return page;
}

}  // namespace churn::registry::internal

#endif  // CHURN_REGISTRY_SQL_REGISTRY_H_
