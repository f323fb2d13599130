// The SQLite online store: one row per (dataset, entity) holding the feature values as a JSON
// array of strings (null when missing), in the order of the column list stored once per
// (dataset, snapshot) in online_columns; repeating the names in every row tripled the bytes
// written. A materialisation is one transaction with one prepared upsert, so readers see the old
// snapshot or the new one, never a mix. WAL mode lets serving read while an ingest writes.
#include <sqlite3.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"

#include "churn/base/file.h"
#include "churn/base/parallel.h"
#include "churn/base/status_macros.h"
#include "churn/features/online_store.h"

namespace churn::features {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

constexpr char kCreateTable[] = R"sql(
  CREATE TABLE IF NOT EXISTS online_columns (
    dataset TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    columns TEXT NOT NULL,
    PRIMARY KEY (dataset, snapshot)
  );
  CREATE TABLE IF NOT EXISTS online_features (
    dataset TEXT NOT NULL,
    entity TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    features TEXT NOT NULL,
    PRIMARY KEY (dataset, entity)
  ) WITHOUT ROWID;
)sql";

constexpr char kUpsert[] = R"sql(
  INSERT INTO online_features (dataset, entity, snapshot, updated_at, features)
  VALUES (?1, ?2, ?3, ?4, ?5)
  ON CONFLICT (dataset, entity) DO UPDATE SET
    snapshot = excluded.snapshot, updated_at = excluded.updated_at, features = excluded.features
)sql";

constexpr char kUpsertColumns[] = R"sql(
  INSERT OR REPLACE INTO online_columns (dataset, snapshot, columns) VALUES (?1, ?2, ?3)
)sql";

constexpr char kSelect[] = R"sql(
  SELECT f.snapshot, f.updated_at, f.features, c.columns
  FROM online_features f JOIN online_columns c ON c.dataset = f.dataset AND c.snapshot = f.snapshot
  WHERE f.dataset = ?1 AND f.entity = ?2
)sql";

// One entity's values as a JSON array of strings (null when missing), in batch.columns order.
// `levels` holds each categorical column's levels already JSON-escaped.
std::string EncodeRow(const MaterializeBatch& batch,
                      const std::vector<std::vector<std::string>>& levels, size_t r) {
  std::string out = "[";
  for (size_t c = 0; c < batch.columns.size(); ++c) {
    const data::Column& column = *batch.columns[c];
    if (c > 0) {
      out.push_back(',');
    }
    if (column.IsMissing(r)) {
      out.append("null");
    } else if (column.spec.type == data::ColumnType::kCategorical) {
      out.append(levels[c][static_cast<size_t>(column.codes[r])]);
    } else if (column.spec.type == data::ColumnType::kString) {
      out.append(nlohmann::json(column.strings[r]).dump());
    } else {
      out.push_back('"');
      column.AppendText(r, &out);
      out.push_back('"');
    }
  }
  out.push_back(']');
  return out;
}

class SqliteOnlineStore : public OnlineStore {
 public:
  SqliteOnlineStore(Db db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}

  absl::StatusOr<std::optional<OnlineRecord>> Get(absl::string_view dataset,
                                                  absl::string_view entity) override {
    absl::MutexLock lock(&mu_);
    CHURN_ASSIGN_OR_RETURN(Stmt stmt, Prepare(kSelect));
    Bind(stmt.get(), 1, dataset);
    Bind(stmt.get(), 2, entity);
    const int rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_DONE) {
      return std::nullopt;
    }
    if (rc != SQLITE_ROW) {
      return Error("read");
    }
    OnlineRecord record;
    record.entity = std::string(entity);
    record.snapshot_id = Text(stmt.get(), 0);
    record.updated_at = Text(stmt.get(), 1);
    const auto values = nlohmann::json::parse(Text(stmt.get(), 2), nullptr, false);
    const auto names = nlohmann::json::parse(Text(stmt.get(), 3), nullptr, false);
    if (!values.is_array() || !names.is_array() || values.size() != names.size()) {
      return absl::DataLossError(absl::StrCat("online store ", path_, ": entity '", entity,
                                              "' has a corrupt feature record"));
    }
    for (size_t i = 0; i < values.size(); ++i) {
      if (values[i].is_string() && names[i].is_string()) {
        record.values.emplace_back(names[i].get<std::string>(), values[i].get<std::string>());
      }
    }
    return record;
  }

  std::string Describe() const override { return absl::StrCat("sqlite:", path_); }

 protected:
  absl::Status Write(const MaterializeBatch& batch) override {
    absl::MutexLock lock(&mu_);
    CHURN_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    absl::Status status = WriteRows(batch);
    CHURN_RETURN_IF_ERROR(Exec(status.ok() ? "COMMIT" : "ROLLBACK"));
    return status;
  }

 private:
  absl::Status WriteRows(const MaterializeBatch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    CHURN_ASSIGN_OR_RETURN(Stmt stmt, Prepare(kUpsert));
    // JSON-escape each column name and categorical level once, not once per row; numbers never
    // need escaping.
    nlohmann::json names = nlohmann::json::array();
    std::vector<std::vector<std::string>> levels;
    for (const data::Column* column : batch.columns) {
      names.push_back(column->spec.name);
      std::vector<std::string> escaped;
      for (const auto& level : column->spec.levels) {
        escaped.push_back(nlohmann::json(level).dump());
      }
      levels.push_back(std::move(escaped));
    }
    {
      CHURN_ASSIGN_OR_RETURN(Stmt columns, Prepare(kUpsertColumns));
      const std::string names_json = names.dump();
      Bind(columns.get(), 1, batch.dataset);
      Bind(columns.get(), 2, batch.snapshot_id);
      Bind(columns.get(), 3, names_json);
      if (sqlite3_step(columns.get()) != SQLITE_DONE) {
        return Error("write");
      }
    }
    // Encoding is independent per row: do it on every core first; SQLite then takes the rows on
    // this thread (one writer per connection), freeing each block once written.
    constexpr size_t kBlock = 1 << 15;
    const size_t blocks = (batch.rows.size() + kBlock - 1) / kBlock;
    std::vector<std::vector<std::string>> entities(blocks);
    std::vector<std::vector<std::string>> payloads(blocks);
    auto encode = [&](size_t block) {
      const size_t begin = block * kBlock;
      const size_t end = std::min(batch.rows.size(), begin + kBlock);
      entities[block].reserve(end - begin);
      payloads[block].reserve(end - begin);
      for (size_t i = begin; i < end; ++i) {
        entities[block].push_back(batch.key->AsText(batch.rows[i]));
        payloads[block].push_back(EncodeRow(batch, levels, batch.rows[i]));
      }
    };
    base::ParallelFor(blocks, encode);
    for (size_t block = 0; block < blocks; ++block) {
      for (size_t i = 0; i < entities[block].size(); ++i) {
        Bind(stmt.get(), 1, batch.dataset);
        Bind(stmt.get(), 2, entities[block][i]);
        Bind(stmt.get(), 3, batch.snapshot_id);
        Bind(stmt.get(), 4, batch.updated_at);
        Bind(stmt.get(), 5, payloads[block][i]);
        if (sqlite3_step(stmt.get()) != SQLITE_DONE) {
          return Error("write");
        }
        sqlite3_reset(stmt.get());
      }
      std::vector<std::string>().swap(entities[block]);
      std::vector<std::string>().swap(payloads[block]);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Stmt> Prepare(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr) != SQLITE_OK) {
      return Error("prepare");
    }
    return Stmt(raw);
  }

  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Error(sql);
    }
    return absl::OkStatus();
  }

  static void Bind(sqlite3_stmt* stmt, int index, absl::string_view text) {
    // SQLITE_STATIC: every bound string outlives the sqlite3_step that reads it.
    sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }

  static std::string Text(sqlite3_stmt* stmt, int column) {
    const auto* p = sqlite3_column_text(stmt, column);
    return p == nullptr ? "" : reinterpret_cast<const char*>(p);
  }

  absl::Status Error(absl::string_view what) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int code = sqlite3_errcode(db_.get());
    const std::string message =
        absl::StrCat("online store ", path_, ": ", what, ": ", sqlite3_errmsg(db_.get()));
    return code == SQLITE_BUSY || code == SQLITE_LOCKED ? absl::UnavailableError(message)
                                                        : absl::InternalError(message);
  }

  absl::Mutex mu_;
  Db db_ ABSL_GUARDED_BY(mu_);
  std::string path_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<OnlineStore>> OpenSqliteOnlineStore(const std::string& path) {
  const std::filesystem::path p(path);
  if (p.has_parent_path()) {
    CHURN_RETURN_IF_ERROR(base::MakeDirs(p.parent_path()));
  }
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat("cannot open online store ", path, ": ",
                                               raw != nullptr ? sqlite3_errmsg(raw) : "no memory"));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                          "PRAGMA cache_size=-65536", kCreateTable}) {
    if (sqlite3_exec(db.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return absl::InternalError(
          absl::StrCat("online store ", path, ": ", sql, ": ", sqlite3_errmsg(db.get())));
    }
  }
  return std::make_unique<SqliteOnlineStore>(std::move(db), path);
}

}  // namespace churn::features
