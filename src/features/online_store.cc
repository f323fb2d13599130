#include "churn/features/online_store.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace churn::features {

absl::StatusOr<size_t> OnlineStore::Materialize(absl::string_view dataset,
                                                absl::string_view snapshot_id,
                                                absl::string_view updated_at,
                                                const data::Table& table,
                                                const data::Schema& schema) {
  MaterializeBatch batch{.dataset = dataset,
                         .snapshot_id = snapshot_id,
                         .updated_at = updated_at,
                         .table = &table,
                         .key = table.Find(schema.entity_key)};
  if (batch.key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("table lacks the entity key column '", schema.entity_key, "'"));
  }
  for (const data::ColumnSpec* spec : schema.Features()) {
    if (const data::Column* column = table.Find(spec->name)) {
      batch.columns.push_back(column);
    }
  }
  // Last row per entity wins; entities keep the order in which they first appear.
  absl::flat_hash_map<std::string, size_t> slot;
  slot.reserve(table.NumRows());
  for (size_t r = 0; r < table.NumRows(); ++r) {
    auto [it, inserted] = slot.try_emplace(batch.key->AsText(r), batch.rows.size());
    if (inserted) {
      batch.rows.push_back(r);
    } else {
      batch.rows[it->second] = r;
    }
  }
  if (absl::Status s = Write(batch); !s.ok()) {
    return s;
  }
  return batch.rows.size();
}

}  // namespace churn::features
