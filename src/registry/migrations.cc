// The registry's schema, as numbered migrations. A migration never changes once released: a
// new need is a new migration. Tables follow MLflow's model (experiments, runs, params, tags,
// metrics with latest_metrics for search, registered models and versions) plus what MLflow
// lacks: run_artifacts (content addresses), alias history, model_version_artifacts.
#include "registry/migrations.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

#include "churn/base/status_macros.h"

namespace churn::registry::internal {
namespace {

constexpr char kBaseSchema[] = R"sql(
CREATE TABLE experiments (
  experiment_id {ID},
  name TEXT NOT NULL UNIQUE,
  artifact_location TEXT NOT NULL,
  lifecycle_stage TEXT NOT NULL,
  creation_time BIGINT NOT NULL,
  last_update_time BIGINT NOT NULL
);
CREATE TABLE experiment_tags (
  experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (experiment_id, key)
);
CREATE TABLE runs (
  run_uuid TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
  user_id TEXT NOT NULL,
  status TEXT NOT NULL,
  start_time BIGINT NOT NULL,
  end_time BIGINT,
  artifact_uri TEXT NOT NULL,
  lifecycle_stage TEXT NOT NULL,
  dataset_snapshot TEXT NOT NULL
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time);
CREATE TABLE params (
  run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_uuid, key)
);
CREATE TABLE tags (
  run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_uuid, key)
);
CREATE TABLE metrics (
  seq {ID},
  run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value {DOUBLE} NOT NULL,
  is_nan INTEGER NOT NULL,
  timestamp BIGINT NOT NULL,
  step BIGINT NOT NULL
);
CREATE INDEX metrics_history ON metrics (run_uuid, key, step, timestamp);
CREATE TABLE latest_metrics (
  run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value {DOUBLE} NOT NULL,
  is_nan INTEGER NOT NULL,
  timestamp BIGINT NOT NULL,
  step BIGINT NOT NULL,
  PRIMARY KEY (run_uuid, key)
);
CREATE TABLE run_artifacts (
  run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size BIGINT NOT NULL,
  PRIMARY KEY (run_uuid, path)
);
CREATE INDEX run_artifacts_by_digest ON run_artifacts (sha256);
CREATE TABLE registered_models (
  name TEXT PRIMARY KEY,
  creation_time BIGINT NOT NULL,
  last_updated_time BIGINT NOT NULL,
  description TEXT NOT NULL,
  last_version BIGINT NOT NULL
);
CREATE TABLE registered_model_tags (
  name TEXT NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (name, key)
);
CREATE TABLE model_versions (
  name TEXT NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE,
  version BIGINT NOT NULL,
  creation_time BIGINT NOT NULL,
  last_updated_time BIGINT NOT NULL,
  description TEXT NOT NULL,
  user_id TEXT NOT NULL,
  source TEXT NOT NULL,
  run_id TEXT NOT NULL,
  run_link TEXT NOT NULL,
  status TEXT NOT NULL,
  signature TEXT NOT NULL,
  metrics TEXT NOT NULL,
  PRIMARY KEY (name, version)
);
CREATE INDEX model_versions_by_run ON model_versions (run_id);
CREATE TABLE model_version_tags (
  name TEXT NOT NULL,
  version BIGINT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (name, version, key),
  FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE
);
CREATE TABLE model_version_artifacts (
  name TEXT NOT NULL,
  version BIGINT NOT NULL,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size BIGINT NOT NULL,
  PRIMARY KEY (name, version, path),
  FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE
);
CREATE INDEX model_version_artifacts_by_digest ON model_version_artifacts (sha256);
CREATE TABLE registered_model_aliases (
  name TEXT NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE,
  alias TEXT NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (name, alias)
);
CREATE TABLE alias_history (
  id {ID},
  name TEXT NOT NULL,
  alias TEXT NOT NULL,
  version BIGINT,
  previous_version BIGINT,
  time BIGINT NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX alias_history_by_alias ON alias_history (name, alias, time);
INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time,
                         last_update_time)
VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active', 0, 0);
)sql";

// Search filters look metrics, params and tags up by (key, value).
constexpr char kSearchIndexes[] = R"sql(
CREATE INDEX latest_metrics_by_key_value ON latest_metrics (key, value);
CREATE INDEX params_by_key_value ON params (key, value);
CREATE INDEX tags_by_key_value ON tags (key, value);
)sql";

constexpr char kCreateMigrationsTable[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version BIGINT PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)
)sql";

// Any fixed 64-bit number: the advisory lock key of registry migrations.
constexpr int64_t kMigrationLockKey = 0x636875726e5247;

absl::Status ApplyPending(SqlDb& db, int64_t now_ms) {
  if (db.GetDialect() == Dialect::kPostgres) {
    CHURN_RETURN_IF_ERROR(
        db.Query("SELECT pg_advisory_xact_lock(?)", {kMigrationLockKey}).status());
  }
  CHURN_RETURN_IF_ERROR(db.Query(kCreateMigrationsTable, {}).status());
  CHURN_ASSIGN_OR_RETURN(const int64_t applied, AppliedVersion(db));
  const int64_t known = Migrations().back().version;
  if (applied > known) {
    return absl::FailedPreconditionError(
        absl::StrCat("registry ", db.Describe(), " is at schema version ", applied,
                     " but this churn knows versions up to ", known, ": upgrade churn"));
  }
  for (const Migration& m : Migrations()) {
    if (m.version <= applied) {
      continue;
    }
    CHURN_RETURN_IF_ERROR(base::WithContext(db.ExecScript(MigrationSql(m, db.GetDialect())),
                                            absl::StrCat("migration ", m.version, " ", m.name)));
    CHURN_RETURN_IF_ERROR(
        db.Query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                 {m.version, std::string(m.name), now_ms})
            .status());
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<Migration>& Migrations() {
  static const auto* const kMigrations = new std::vector<Migration>{
      {1, "base schema", kBaseSchema},
      {2, "search indexes", kSearchIndexes},
  };
  return *kMigrations;
}

std::string MigrationSql(const Migration& migration, Dialect dialect) {
  if (dialect == Dialect::kSqlite) {
    return absl::StrReplaceAll(migration.sql,
                               {{"{ID}", "INTEGER PRIMARY KEY"}, {"{DOUBLE}", "REAL"}});
  }
  return absl::StrReplaceAll(migration.sql,
                             {{"{ID}", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"},
                              {"{DOUBLE}", "DOUBLE PRECISION"}});
}

absl::StatusOr<int64_t> AppliedVersion(SqlDb& db) {
  CHURN_ASSIGN_OR_RETURN(const SqlRows rows,
                         db.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {}));
  return rows.Int(0, 0);
}

absl::Status Migrate(SqlDb& db, int64_t now_ms) {
  CHURN_RETURN_IF_ERROR(db.Begin());
  absl::Status status = ApplyPending(db, now_ms);
  if (!status.ok()) {
    (void)db.Rollback();
    return status;
  }
  return db.Commit();
}

}  // namespace churn::registry::internal
