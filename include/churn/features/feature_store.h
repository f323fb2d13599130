// File: churn/features/feature_store.h
//
// The feature store as the CLI and the training flow use it: the offline store (snapshots in
// the object store) and the online store (latest row per entity) behind one object, plus schema
// resolution. One call per use case.
//
//   CHURN_ASSIGN_OR_RETURN(auto store, FeatureStore::Open(options));
//   CHURN_ASSIGN_OR_RETURN(IngestOutcome out, store->Ingest({.source = "data.csv",
//                                                             .dataset = "bank_churners"}));
#ifndef CHURN_FEATURES_FEATURE_STORE_H_
#define CHURN_FEATURES_FEATURE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "churn/base/config.h"
#include "churn/base/object_store.h"
#include "churn/base/time.h"
#include "churn/features/offline_store.h"
#include "churn/features/online_store.h"

namespace churn::features {

struct IngestSpec {
  // A local path or "s3://bucket/key".
  std::string source;
  std::string dataset;
  // Schema file; empty: the schema of the dataset's latest snapshot, else
  // "<schemas_dir>/<dataset>.yaml", else the built-in schema of that name (bank_churners).
  std::string schema_path;
  std::string schemas_dir = "configs";
  // Whether to update the online store. Default true.
  bool materialize = true;
};

struct IngestOutcome {
  IngestResult result;
  size_t entities_materialized = 0;
};

class FeatureStore {
 public:
  // Opens the object store and the online store named by `config`.
  static absl::StatusOr<std::unique_ptr<FeatureStore>> Open(const base::Config& config,
                                                            base::Clock* clock);

  // Reads the source, validates it, writes the snapshot, then materialises it online.
  absl::StatusOr<IngestOutcome> Ingest(const IngestSpec& spec);

  // The entity's latest feature values as a JSON object:
  // {"dataset", "entity", "snapshot", "updated_at", "features": {name: value}} with numbers as
  // numbers, categories as strings and missing values as null. NotFound when absent.
  absl::StatusOr<std::string> GetFeaturesJson(absl::string_view dataset, absl::string_view entity);

  OfflineStore& Offline() { return *offline_; }

  OnlineStore& Online() { return *online_; }

 private:
  FeatureStore() = default;
  absl::StatusOr<data::Schema> ResolveSchema(const IngestSpec& spec);

  base::Config config_;
  base::Clock* clock_ = nullptr;
  std::unique_ptr<base::ObjectStore> objects_;
  std::unique_ptr<OfflineStore> offline_;
  std::unique_ptr<OnlineStore> online_;
};

// The schema built into the binary under `name` (configs/<name>.yaml at build time), or NotFound.
absl::StatusOr<data::Schema> BuiltinSchema(absl::string_view name);

}  // namespace churn::features

#endif  // CHURN_FEATURES_FEATURE_STORE_H_
