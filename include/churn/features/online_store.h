// File: churn/features/online_store.h
//
// The online store: the latest row of every entity of a dataset, for low-latency lookups at
// serving time. Materialised from a snapshot after ingest: within a snapshot the last row of an
// entity wins, and a newer snapshot overwrites older values. Two backends behind one interface:
// SQLite in the data directory (embedded default) and Redis (one hash per entity,
// "churn:features:<dataset>:<entity>"), chosen by URI.
//
// Implementations are thread-safe.
#ifndef CHURN_FEATURES_ONLINE_STORE_H_
#define CHURN_FEATURES_ONLINE_STORE_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "churn/data/schema.h"
#include "churn/data/table.h"

namespace churn::features {

// One entity's stored values, as text (missing values are absent).
struct OnlineRecord {
  std::string entity;
  std::string snapshot_id;
  std::string updated_at;
  std::vector<std::pair<std::string, std::string>> values;
};

// What a backend writes: for each chosen row of `table`, the entity key and the feature columns.
struct MaterializeBatch {
  absl::string_view dataset;
  absl::string_view snapshot_id;
  absl::string_view updated_at;
  const data::Table* table = nullptr;
  const data::Column* key = nullptr;
  std::vector<const data::Column*> columns{};
  std::vector<size_t> rows{};  // the last row of each entity, in first-seen order
};

class OnlineStore {
 public:
  virtual ~OnlineStore() = default;

  // Writes the feature columns of the latest row per entity of `table`. Returns the number of
  // entities written. InvalidArgument when the table lacks the entity key.
  absl::StatusOr<size_t> Materialize(absl::string_view dataset, absl::string_view snapshot_id,
                                     absl::string_view updated_at, const data::Table& table,
                                     const data::Schema& schema);

  // The entity's record, or nullopt when the store has none.
  virtual absl::StatusOr<std::optional<OnlineRecord>> Get(absl::string_view dataset,
                                                          absl::string_view entity) = 0;

  // "sqlite:<path>" or "redis://host:port/db", for messages.
  virtual std::string Describe() const = 0;

 protected:
  virtual absl::Status Write(const MaterializeBatch& batch) = 0;
};

// SQLite at `path` (created with its folder when missing; WAL mode).
absl::StatusOr<std::unique_ptr<OnlineStore>> OpenSqliteOnlineStore(const std::string& path);

// Redis at "redis://host[:port][/db]" (hiredis). Unavailable when it cannot connect.
absl::StatusOr<std::unique_ptr<OnlineStore>> OpenRedisOnlineStore(absl::string_view url);

}  // namespace churn::features

#endif  // CHURN_FEATURES_ONLINE_STORE_H_
