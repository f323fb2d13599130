// Private to the registry module and the prediction log (serving): the one seam between our SQL
// and a database library. SqliteDb (sqlite_db.cc, sqlite3) and PostgresDb (postgres_db.cc, libpq)
// implement it; everything else in the registry is written once against it.
//
// Statements use '?' placeholders; the PostgreSQL driver rewrites them to $1, $2, ... (outside
// quoted literals). Values are bound, never spliced into SQL text. Results come back typed:
// integers as int64_t, floating point as double (NaN and infinities included), text as
// std::string, NULL as std::monostate. Infinities round-trip on both databases; NaN only on
// PostgreSQL (SQLite stores a bound NaN as NULL), so callers that keep NaN store a flag beside
// the value, as the metrics tables do.
//
// A SqlDb is one connection: not thread-safe; the registry serialises its use.
#ifndef CHURN_REGISTRY_SQL_DB_H_
#define CHURN_REGISTRY_SQL_DB_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace churn::registry::internal {

enum class Dialect { kSqlite, kPostgres };

using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

// A result set: `columns` cells per row, row-major.
struct SqlRows {
  size_t columns = 0;
  std::vector<SqlValue> cells;

  size_t size() const { return columns == 0 ? 0 : cells.size() / columns; }

  bool empty() const { return cells.empty(); }

  const SqlValue& At(size_t row, size_t column) const { return cells[row * columns + column]; }

  bool IsNull(size_t row, size_t column) const {
    return std::holds_alternative<std::monostate>(At(row, column));
  }

  // The cell as an integer (0 for NULL; a double is truncated; text is parsed).
  int64_t Int(size_t row, size_t column) const;
  // The cell as a double (0 for NULL; text is parsed).
  double Double(size_t row, size_t column) const;
  // The cell as text ("" for NULL; numbers are formatted).
  std::string Text(size_t row, size_t column) const;
};

class SqlDb {
 public:
  virtual ~SqlDb() = default;

  virtual Dialect GetDialect() const = 0;

  // Runs one statement with `params` bound to its '?' placeholders, in order, and returns its
  // rows (none for statements without results). Errors carry the database's message and map
  // to codes: a unique or primary-key violation is AlreadyExists, a foreign-key violation
  // FailedPrecondition, a lock or serialisation conflict Aborted (retry the transaction), a
  // lost or refused connection Unavailable, anything else Internal.
  virtual absl::StatusOr<SqlRows> Query(absl::string_view sql,
                                        const std::vector<SqlValue>& params) = 0;

  // Runs several ';'-separated statements without parameters (schema migrations).
  virtual absl::Status ExecScript(absl::string_view sql) = 0;

  // A write transaction: SQLite "BEGIN IMMEDIATE" (takes the write lock up front, waiting up
  // to the busy timeout), PostgreSQL "BEGIN". Commit and Rollback end it.
  virtual absl::Status Begin() = 0;
  virtual absl::Status Commit() = 0;
  virtual absl::Status Rollback() = 0;

  // "sqlite:<path>" or "postgresql://host:port/db" without credentials.
  virtual std::string Describe() const = 0;
};

// Opens (creating) the SQLite database at `path` in WAL mode with foreign keys on and the given
// busy timeout. Unavailable when it cannot be opened.
absl::StatusOr<std::unique_ptr<SqlDb>> OpenSqliteDb(const std::string& path, int busy_timeout_ms);

// Connects to PostgreSQL with a libpq connection URI ("postgresql://user:pw@host:port/db?...").
// Unavailable when the server cannot be reached or refuses the login.
absl::StatusOr<std::unique_ptr<SqlDb>> OpenPostgresDb(const std::string& url);

// Opens the database a URL names: "postgresql://..." (or "postgres://"), "sqlite:///abs/path",
// "sqlite:path" or a plain path. InvalidArgument naming `what` ("registry URL") for another
// scheme or an empty path; the openers' errors otherwise.
absl::StatusOr<std::unique_ptr<SqlDb>> OpenSqlDb(absl::string_view url, int busy_timeout_ms,
                                                 absl::string_view what);

// Whether `url` names PostgreSQL ("postgresql://..." or "postgres://...").
bool IsPostgresUrl(absl::string_view url);

// The file a SQLite URL names: "sqlite:///abs/path", "sqlite:path" or a plain path.
// InvalidArgument naming `what` for another scheme or an empty path.
absl::StatusOr<std::string> SqlitePath(absl::string_view url, absl::string_view what);

// `sql` with each '?' outside single-quoted literals replaced by $1, $2, ... (PostgreSQL).
std::string NumberPlaceholders(absl::string_view sql);

}  // namespace churn::registry::internal

#endif  // CHURN_REGISTRY_SQL_DB_H_
