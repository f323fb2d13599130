#include "churn/features/feature_store.h"

#include <charconv>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "churn/base/logging.h"
#include "churn/base/status_macros.h"
#include "churn/features/builtin_schemas.h"

namespace churn::features {
namespace {

using Json = nlohmann::ordered_json;

// A stored text value as JSON of the column's type.
Json TypedValue(const data::ColumnSpec* spec, const std::string& text) {
  if (spec == nullptr) {
    return text;
  }
  if (spec->type == data::ColumnType::kInteger) {
    int64_t v = 0;
    if (std::from_chars(text.data(), text.data() + text.size(), v).ec == std::errc()) {
      return v;
    }
  } else if (spec->type == data::ColumnType::kFloat) {
    double v = 0;
    if (std::from_chars(text.data(), text.data() + text.size(), v).ec == std::errc()) {
      return v;
    }
  }
  return text;
}

}  // namespace

absl::StatusOr<data::Schema> BuiltinSchema(absl::string_view name) {
  if (name == "bank_churners") {
    return data::ParseSchemaYaml(internal::kBankChurnersSchemaYaml);
  }
  return absl::NotFoundError(absl::StrCat("no built-in schema named '", name, "'"));
}

absl::StatusOr<std::unique_ptr<FeatureStore>> FeatureStore::Open(const base::Config& config,
                                                                 base::Clock* clock) {
  std::unique_ptr<FeatureStore> store(new FeatureStore());
  store->config_ = config;
  store->clock_ = clock;
  CHURN_ASSIGN_OR_RETURN(store->objects_,
                         base::OpenObjectStore(config.ObjectStoreUri(), config.s3));
  store->offline_ = std::make_unique<OfflineStore>(store->objects_.get(), clock);
  if (config.online_store.empty()) {
    CHURN_ASSIGN_OR_RETURN(
        store->online_,
        OpenSqliteOnlineStore((std::filesystem::path(config.data_dir) / "online.sqlite").string()));
  } else if (absl::StartsWith(config.online_store, "redis://")) {
    CHURN_ASSIGN_OR_RETURN(store->online_, OpenRedisOnlineStore(config.online_store));
  } else {
    CHURN_ASSIGN_OR_RETURN(store->online_, OpenSqliteOnlineStore(config.online_store));
  }
  return store;
}

absl::StatusOr<data::Schema> FeatureStore::ResolveSchema(const IngestSpec& spec) {
  if (!spec.schema_path.empty()) {
    return data::LoadSchemaFile(spec.schema_path);
  }
  auto latest = offline_->GetSnapshot(spec.dataset, "latest");
  if (latest.ok()) {
    return offline_->LoadSchema(*latest);
  }
  if (!absl::IsNotFound(latest.status())) {
    return latest.status();
  }
  const std::filesystem::path file =
      std::filesystem::path(spec.schemas_dir) / absl::StrCat(spec.dataset, ".yaml");
  if (std::error_code ec; std::filesystem::is_regular_file(file, ec)) {
    return data::LoadSchemaFile(file.string());
  }
  auto builtin = BuiltinSchema(spec.dataset);
  if (builtin.ok() || !absl::IsNotFound(builtin.status())) {
    return builtin;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "no schema for dataset '", spec.dataset, "': pass --schema FILE (no earlier snapshot, no ",
      file.string(), ", no built-in schema of that name)"));
}

absl::StatusOr<IngestOutcome> FeatureStore::Ingest(const IngestSpec& spec) {
  CHURN_RETURN_IF_ERROR(ValidateDatasetName(spec.dataset));
  CHURN_ASSIGN_OR_RETURN(data::Schema schema, ResolveSchema(spec));
  CHURN_ASSIGN_OR_RETURN(const base::UriBytes bytes, base::ReadUri(spec.source, config_.s3));
  IngestRequest request{.dataset = spec.dataset,
                        .source = spec.source,
                        .bytes = bytes.View(),
                        .schema = std::move(schema)};
  request.read.csv.max_record_bytes = config_.max_record_bytes;
  request.read.max_reported = config_.max_reported_violations;
  auto result = offline_->Ingest(request);
  if (!result.ok()) {
    return base::WithContext(result.status(), spec.source);
  }
  IngestOutcome outcome{.result = *std::move(result)};
  if (spec.materialize) {
    const SnapshotInfo& info = outcome.result.snapshot;
    const absl::Time start = absl::Now();
    CHURN_ASSIGN_OR_RETURN(
        outcome.entities_materialized,
        online_->Materialize(info.dataset, info.id, base::FormatRfc3339(clock_->Now()),
                             outcome.result.table, outcome.result.schema));
    base::LogDebug(absl::StrCat("materialised ", outcome.entities_materialized, " entities into ",
                                online_->Describe(), " in ",
                                absl::FormatDuration(absl::Now() - start)));
  }
  return outcome;
}

absl::StatusOr<std::string> FeatureStore::GetFeaturesJson(absl::string_view dataset,
                                                          absl::string_view entity) {
  CHURN_RETURN_IF_ERROR(ValidateDatasetName(dataset));
  CHURN_ASSIGN_OR_RETURN(const std::optional<OnlineRecord> record, online_->Get(dataset, entity));
  if (!record.has_value()) {
    return absl::NotFoundError(absl::StrCat("dataset '", dataset, "' has no entity '", entity,
                                            "' in the online store (", online_->Describe(), ")"));
  }
  // Types come from the schema of the snapshot the record was written from.
  std::optional<data::Schema> schema;
  if (auto info = offline_->GetSnapshot(dataset, record->snapshot_id); info.ok()) {
    if (auto s = offline_->LoadSchema(*info); s.ok()) {
      schema = *std::move(s);
    }
  }
  Json features = Json::object();
  if (schema.has_value()) {
    for (const data::ColumnSpec* spec : schema->Features()) {
      features[spec->name] = nullptr;  // missing unless stored
    }
  }
  for (const auto& [name, value] : record->values) {
    features[name] = TypedValue(schema ? schema->Find(name) : nullptr, value);
  }
  const Json out = {{"dataset", dataset},
                    {"entity", entity},
                    {"snapshot", record->snapshot_id},
                    {"updated_at", record->updated_at},
                    {"features", std::move(features)}};
  return out.dump(2);
}

}  // namespace churn::features
