// File: churn/features/offline_store.h
//
// The offline store: immutable, content-addressed snapshots of validated datasets in an object
// store (a local folder or S3). A snapshot is four objects under
// "datasets/<dataset>/snapshots/<id>/": data.csv (the accepted records, byte for byte as they
// came), schema.yaml (canonical), profile.json (column profile) and snapshot.json (metadata),
// written last: a snapshot exists when its snapshot.json does, so a crash mid-ingest never leaves
// a visible partial snapshot. The id is derived from the SHA-256 of the data and of the schema:
// ingesting the same bytes under the same schema again gives the same id and writes nothing.
//
// Thread-safe when the object store is; two processes ingesting the same bytes write identical
// objects.
#ifndef CHURN_FEATURES_OFFLINE_STORE_H_
#define CHURN_FEATURES_OFFLINE_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "churn/base/object_store.h"
#include "churn/base/time.h"
#include "churn/data/csv_table.h"
#include "churn/data/profile.h"
#include "churn/data/schema.h"
#include "churn/data/table.h"

namespace churn::features {

struct SnapshotInfo {
  std::string dataset;
  std::string id;           // 16 hex digits
  std::string data_sha256;  // of data.csv
  std::string schema_hash;  // data::Schema::Hash()
  std::string schema_name;
  std::string source;      // where the bytes came from (path or s3:// URI)
  std::string created_at;  // RFC 3339 UTC
  uint64_t rows = 0;
  uint64_t positives = 0;
  uint64_t bytes = 0;
  uint64_t rows_dropped = 0;
  uint64_t cells_set_missing = 0;

  std::string ToJson() const;
  static absl::StatusOr<SnapshotInfo> FromJson(absl::string_view text);
};

struct IngestRequest {
  std::string dataset;
  std::string source;       // for the metadata
  absl::string_view bytes;  // the CSV
  data::Schema schema;
  data::ReadTableOptions read{};
};

struct IngestResult {
  SnapshotInfo snapshot;
  bool created = false;  // false: the same snapshot existed already
  data::ValidationReport report;
  data::Table table;
  data::Schema schema;
};

// Dataset names: 1-64 characters of [A-Za-z0-9_.-], not starting with '.'.
absl::Status ValidateDatasetName(absl::string_view name);

class OfflineStore {
 public:
  // Neither pointer is owned; both must outlive the store.
  OfflineStore(base::ObjectStore* objects, base::Clock* clock) : objects_(objects), clock_(clock) {}

  // Validates the bytes under the schema and writes the snapshot. Fails, writing nothing, with
  // InvalidArgument when validation rejects the file.
  absl::StatusOr<IngestResult> Ingest(const IngestRequest& request);

  // Dataset names with at least one snapshot, sorted.
  absl::StatusOr<std::vector<std::string>> ListDatasets();
  // The snapshots of `dataset`, oldest first. NotFound for an unknown dataset.
  absl::StatusOr<std::vector<SnapshotInfo>> ListSnapshots(absl::string_view dataset);
  // One snapshot: `id` may be a unique prefix of at least 4 digits, or "" / "latest" for the
  // newest. NotFound when absent; InvalidArgument when a prefix is ambiguous.
  absl::StatusOr<SnapshotInfo> GetSnapshot(absl::string_view dataset, absl::string_view id);
  // The same from "DATASET[@ID]", as the CLI and the configuration write it.
  absl::StatusOr<SnapshotInfo> GetSnapshotRef(absl::string_view ref);

  absl::StatusOr<data::Schema> LoadSchema(const SnapshotInfo& snapshot);
  absl::StatusOr<data::DatasetProfile> LoadProfile(const SnapshotInfo& snapshot);
  // Reads the snapshot's data back into a table under its own schema; DataLoss when the data no
  // longer matches its SHA-256.
  absl::StatusOr<data::Table> LoadTable(const SnapshotInfo& snapshot);

 private:
  std::string Prefix(absl::string_view dataset, absl::string_view id) const;

  base::ObjectStore* objects_;
  base::Clock* clock_;
};

}  // namespace churn::features

#endif  // CHURN_FEATURES_OFFLINE_STORE_H_
