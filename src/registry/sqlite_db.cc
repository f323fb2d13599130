// The SQLite driver of the registry's SQL seam. One connection in WAL mode (readers never block
// the writer), synchronous=NORMAL (a crashed process loses nothing committed; WAL keeps the
// file consistent at any kill), foreign keys on, and a busy timeout so that a second process's
// BEGIN IMMEDIATE waits for the first one's transaction instead of failing. Prepared statements
// are cached by SQL text: the registry issues a few dozen distinct statements, thousands of
// times each.
#include <sqlite3.h>

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "registry/sql_db.h"

#include "churn/base/file.h"

namespace churn::registry::internal {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

constexpr size_t kMaxCachedStatements = 512;

absl::Status ErrorFor(sqlite3* db, int rc, absl::string_view what) {
  const std::string message = absl::StrCat("sqlite: ", what, ": ", sqlite3_errmsg(db));
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return absl::AlreadyExistsError(message);
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return absl::FailedPreconditionError(message);
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::AbortedError(message);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
      return absl::UnavailableError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    default:
      return absl::InternalError(message);
  }
}

class SqliteDb : public SqlDb {
 public:
  SqliteDb(Db db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}

  Dialect GetDialect() const override { return Dialect::kSqlite; }

  absl::StatusOr<SqlRows> Query(absl::string_view sql,
                                const std::vector<SqlValue>& params) override {
    auto stmt_or = Prepared(sql);
    if (!stmt_or.ok()) {
      return stmt_or.status();
    }
    sqlite3_stmt* stmt = *stmt_or;
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (static_cast<size_t>(sqlite3_bind_parameter_count(stmt)) != params.size()) {
      return absl::InternalError(absl::StrCat("sqlite: statement takes ",
                                              sqlite3_bind_parameter_count(stmt), " parameters, ",
                                              params.size(), " given: ", sql.substr(0, 80)));
    }
    for (size_t i = 0; i < params.size(); ++i) {
      Bind(stmt, static_cast<int>(i) + 1, params[i]);
    }
    SqlRows rows;
    rows.columns = static_cast<size_t>(sqlite3_column_count(stmt));
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) {
        break;
      }
      if (rc != SQLITE_ROW) {
        absl::Status status = ErrorFor(db_.get(), sqlite3_extended_errcode(db_.get()),
                                       absl::StrCat("running ", sql.substr(0, 80)));
        sqlite3_reset(stmt);
        return status;
      }
      for (int c = 0; c < static_cast<int>(rows.columns); ++c) {
        rows.cells.push_back(Read(stmt, c));
      }
    }
    sqlite3_reset(stmt);
    return rows;
  }

  absl::Status ExecScript(absl::string_view sql) override {
    char* error = nullptr;
    const std::string text(sql);
    const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
      std::string message = absl::StrCat("sqlite: script failed: ", error != nullptr ? error : "");
      sqlite3_free(error);
      return (rc & 0xff) == SQLITE_BUSY ? absl::AbortedError(message)
                                        : absl::InternalError(message);
    }
    return absl::OkStatus();
  }

  absl::Status Begin() override { return Simple("BEGIN IMMEDIATE"); }

  absl::Status Commit() override { return Simple("COMMIT"); }

  absl::Status Rollback() override { return Simple("ROLLBACK"); }

  std::string Describe() const override { return absl::StrCat("sqlite:", path_); }

 private:
  absl::Status Simple(const char* sql) {
    const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      return ErrorFor(db_.get(), sqlite3_extended_errcode(db_.get()), sql);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<sqlite3_stmt*> Prepared(absl::string_view sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) {
      return it->second.get();
    }
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    if (rc != SQLITE_OK) {
      return ErrorFor(db_.get(), rc, absl::StrCat("preparing ", sql.substr(0, 120)));
    }
    sqlite3_stmt* out = raw;
    if (cache_.size() >= kMaxCachedStatements) {
      cache_.clear();  // filters make statements without bound; start over rather than grow
    }
    cache_.emplace(std::string(sql), Stmt(raw));
    return out;
  }

  static void Bind(sqlite3_stmt* stmt, int index, const SqlValue& value) {
    if (const auto* i = std::get_if<int64_t>(&value)) {
      sqlite3_bind_int64(stmt, index, *i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      sqlite3_bind_double(stmt, index, *d);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      sqlite3_bind_text(stmt, index, s->data(), static_cast<int>(s->size()), SQLITE_STATIC);
    } else {
      sqlite3_bind_null(stmt, index);
    }
  }

  static SqlValue Read(sqlite3_stmt* stmt, int c) {
    switch (sqlite3_column_type(stmt, c)) {
      case SQLITE_INTEGER:
        return static_cast<int64_t>(sqlite3_column_int64(stmt, c));
      case SQLITE_FLOAT:
        return sqlite3_column_double(stmt, c);
      case SQLITE_NULL:
        return std::monostate{};
      default: {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt, c)));
      }
    }
  }

  Db db_;
  std::string path_;
  absl::flat_hash_map<std::string, Stmt> cache_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqlDb>> OpenSqliteDb(const std::string& path, int busy_timeout_ms) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    if (absl::Status s = base::MakeDirs(parent); !s.ok()) {
      return s;
    }
  }
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat("sqlite: cannot open ", path, ": ",
                                               raw != nullptr ? sqlite3_errmsg(raw) : "no memory"));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), busy_timeout_ms);
  auto sqlite = std::make_unique<SqliteDb>(std::move(db), path);
  if (absl::Status s = sqlite->ExecScript(
          "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
          "PRAGMA case_sensitive_like=ON;");
      !s.ok()) {
    return absl::UnavailableError(absl::StrCat("sqlite: cannot set up ", path, ": ", s.message()));
  }
  return sqlite;
}

}  // namespace churn::registry::internal
