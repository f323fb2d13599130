// Private to the registry module: the versioned schema, applied at open.
#ifndef CHURN_REGISTRY_MIGRATIONS_H_
#define CHURN_REGISTRY_MIGRATIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "registry/sql_db.h"

namespace churn::registry::internal {

struct Migration {
  int64_t version;
  const char* name;
  // The DDL in a dialect-neutral form: {ID} is the auto-assigned integer primary key and
  // {DOUBLE} the 8-byte float type of the dialect.
  const char* sql;
};

// Every migration, in version order.
const std::vector<Migration>& Migrations();

// The DDL of `migration` for `dialect`.
std::string MigrationSql(const Migration& migration, Dialect dialect);

// Applies the migrations the database lacks, with their rows in schema_migrations, in one
// transaction (all or nothing) that holds a lock keeping a second process from migrating at the
// same time (SQLite's write lock, a PostgreSQL advisory lock). FailedPrecondition when the database
// holds a version this build does not know (written by a newer churn). `now_ms` stamps applied_at.
absl::Status Migrate(SqlDb& db, int64_t now_ms);

// The highest applied version (0 for an empty database).
absl::StatusOr<int64_t> AppliedVersion(SqlDb& db);

}  // namespace churn::registry::internal

#endif  // CHURN_REGISTRY_MIGRATIONS_H_
