#include "churn/features/offline_store.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

#include "churn/base/logging.h"
#include "churn/base/sha256.h"
#include "churn/base/status_macros.h"

namespace churn::features {
namespace {

using nlohmann::json;

constexpr char kSnapshotFile[] = "snapshot.json";
constexpr size_t kIdDigits = 16;

// The input without the byte ranges of dropped rows.
std::string KeptBytes(absl::string_view input, const data::ValidationReport& report) {
  std::string out;
  out.reserve(input.size());
  size_t pos = 0;
  for (const auto& [begin, end] : report.dropped_ranges) {
    absl::StrAppend(&out, input.substr(pos, begin - pos));
    pos = end;
  }
  absl::StrAppend(&out, input.substr(pos));
  return out;
}

// Wall time between laps, for the debug log.
class Stopwatch {
 public:
  std::string Lap() {
    const auto now = std::chrono::steady_clock::now();
    const std::chrono::duration<double> elapsed = now - last_;
    last_ = now;
    return absl::StrFormat("%.3fs", elapsed.count());
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace

absl::Status ValidateDatasetName(absl::string_view name) {
  const bool ok = !name.empty() && name.size() <= 64 && name.front() != '.' &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
                  });
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset name '", name,
                     "' must be 1-64 characters of A-Z a-z 0-9 _ . - (not starting "
                     "with '.')"));
  }
  return absl::OkStatus();
}

std::string SnapshotInfo::ToJson() const {
  const json j = {{"dataset", dataset},           {"id", id},
                  {"data_sha256", data_sha256},   {"schema_hash", schema_hash},
                  {"schema_name", schema_name},   {"source", source},
                  {"created_at", created_at},     {"rows", rows},
                  {"positives", positives},       {"bytes", bytes},
                  {"rows_dropped", rows_dropped}, {"cells_set_missing", cells_set_missing}};
  return j.dump(1);
}

absl::StatusOr<SnapshotInfo> SnapshotInfo::FromJson(absl::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError("snapshot metadata is not a JSON object");
  }
  SnapshotInfo s;
  try {
    j.at("dataset").get_to(s.dataset);
    j.at("id").get_to(s.id);
    j.at("data_sha256").get_to(s.data_sha256);
    j.at("schema_hash").get_to(s.schema_hash);
    j.at("schema_name").get_to(s.schema_name);
    j.at("source").get_to(s.source);
    j.at("created_at").get_to(s.created_at);
    j.at("rows").get_to(s.rows);
    j.at("positives").get_to(s.positives);
    j.at("bytes").get_to(s.bytes);
    j.at("rows_dropped").get_to(s.rows_dropped);
    j.at("cells_set_missing").get_to(s.cells_set_missing);
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat("snapshot metadata: ", e.what()));
  }
  return s;
}

std::string OfflineStore::Prefix(absl::string_view dataset, absl::string_view id) const {
  return absl::StrCat("datasets/", dataset, "/snapshots/", id, "/");
}

absl::StatusOr<IngestResult> OfflineStore::Ingest(const IngestRequest& request) {
  CHURN_RETURN_IF_ERROR(ValidateDatasetName(request.dataset));
  Stopwatch watch;
  // Hash the input while it is parsed: the digest is what the data file will hold unless rows
  // are dropped, the common case.
  std::string input_sha256;
  std::thread hasher([&] { input_sha256 = base::Sha256Hex(request.bytes); });
  auto read = data::ReadCsvTable(request.bytes, request.schema, request.read);
  hasher.join();
  if (!read.ok()) {
    return read.status();
  }
  const std::string validate_time = watch.Lap();
  IngestResult result;
  result.schema = request.schema;
  result.report = std::move(read->report);
  // The accepted records: the input itself unless rows were dropped (no copy in the common case).
  std::string filtered;
  absl::string_view kept = request.bytes;
  SnapshotInfo& info = result.snapshot;
  info.data_sha256 = input_sha256;
  if (!result.report.dropped_ranges.empty()) {
    filtered = KeptBytes(request.bytes, result.report);
    kept = filtered;
    info.data_sha256 = base::Sha256Hex(kept);
  }
  info.dataset = request.dataset;
  info.schema_hash = request.schema.Hash();
  info.id =
      base::Sha256Hex(absl::StrCat(info.data_sha256, "\n", info.schema_hash)).substr(0, kIdDigits);
  const std::string prefix = Prefix(info.dataset, info.id);
  CHURN_ASSIGN_OR_RETURN(const bool exists, objects_->Exists(prefix + kSnapshotFile));
  result.table = std::move(read->table);
  if (exists) {
    CHURN_ASSIGN_OR_RETURN(info, GetSnapshot(info.dataset, info.id));
    result.created = false;
    return result;
  }
  const data::DatasetProfile profile = data::ComputeProfile(result.table, request.schema);
  const std::string profile_time = watch.Lap();
  info.schema_name = request.schema.name;
  info.source = request.source;
  info.created_at = base::FormatRfc3339(clock_->Now());
  info.rows = result.table.NumRows();
  info.positives = profile.positives;
  info.bytes = kept.size();
  info.rows_dropped = result.report.rows_dropped;
  info.cells_set_missing = result.report.cells_set_missing;
  // snapshot.json last: it is what makes the snapshot exist.
  CHURN_RETURN_IF_ERROR(objects_->Put(prefix + "data.csv", kept));
  CHURN_RETURN_IF_ERROR(objects_->Put(prefix + "schema.yaml", request.schema.ToYaml()));
  CHURN_RETURN_IF_ERROR(objects_->Put(prefix + "profile.json", data::ProfileToJson(profile)));
  CHURN_RETURN_IF_ERROR(objects_->Put(prefix + kSnapshotFile, info.ToJson()));
  base::LogDebug(absl::StrCat("ingest ", info.dataset, "@", info.id, ": validate+hash ",
                              validate_time, ", profile ", profile_time, ", write ", watch.Lap()));
  result.created = true;
  return result;
}

absl::StatusOr<std::vector<std::string>> OfflineStore::ListDatasets() {
  CHURN_ASSIGN_OR_RETURN(const std::vector<std::string> keys, objects_->List("datasets/"));
  std::vector<std::string> names;
  for (const auto& key : keys) {
    const std::vector<absl::string_view> parts = absl::StrSplit(key, '/');
    if (parts.size() == 5 && parts[2] == "snapshots" && parts[4] == kSnapshotFile &&
        (names.empty() || names.back() != parts[1])) {
      names.emplace_back(parts[1]);
    }
  }
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

absl::StatusOr<std::vector<SnapshotInfo>> OfflineStore::ListSnapshots(absl::string_view dataset) {
  CHURN_RETURN_IF_ERROR(ValidateDatasetName(dataset));
  CHURN_ASSIGN_OR_RETURN(const std::vector<std::string> keys,
                         objects_->List(absl::StrCat("datasets/", dataset, "/snapshots/")));
  std::vector<SnapshotInfo> snapshots;
  for (const auto& key : keys) {
    if (!absl::EndsWith(key, absl::StrCat("/", kSnapshotFile))) {
      continue;
    }
    CHURN_ASSIGN_OR_RETURN(const std::string text, objects_->Get(key));
    CHURN_ASSIGN_OR_RETURN(SnapshotInfo info, SnapshotInfo::FromJson(text));
    snapshots.push_back(std::move(info));
  }
  if (snapshots.empty()) {
    return absl::NotFoundError(absl::StrCat("dataset '", dataset, "' has no snapshot"));
  }
  std::stable_sort(
      snapshots.begin(), snapshots.end(),
      [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.created_at < b.created_at; });
  return snapshots;
}

absl::StatusOr<SnapshotInfo> OfflineStore::GetSnapshotRef(absl::string_view ref) {
  const size_t at = ref.find('@');
  return GetSnapshot(ref.substr(0, at), at == absl::string_view::npos ? "" : ref.substr(at + 1));
}

absl::StatusOr<SnapshotInfo> OfflineStore::GetSnapshot(absl::string_view dataset,
                                                       absl::string_view id) {
  CHURN_ASSIGN_OR_RETURN(std::vector<SnapshotInfo> snapshots, ListSnapshots(dataset));
  if (id.empty() || id == "latest") {
    return snapshots.back();
  }
  if (id.size() < 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshot id '", id, "' is too short (give at least 4 digits)"));
  }
  const SnapshotInfo* found = nullptr;
  for (const auto& s : snapshots) {
    if (absl::StartsWith(s.id, id)) {
      if (found != nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("snapshot id prefix '", id, "' is ambiguous in dataset '", dataset, "'"));
      }
      found = &s;
    }
  }
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat("dataset '", dataset, "' has no snapshot '", id, "'"));
  }
  return *found;
}

absl::StatusOr<data::Schema> OfflineStore::LoadSchema(const SnapshotInfo& snapshot) {
  CHURN_ASSIGN_OR_RETURN(const std::string text,
                         objects_->Get(Prefix(snapshot.dataset, snapshot.id) + "schema.yaml"));
  return data::ParseSchemaYaml(text);
}

absl::StatusOr<data::DatasetProfile> OfflineStore::LoadProfile(const SnapshotInfo& snapshot) {
  CHURN_ASSIGN_OR_RETURN(const std::string text,
                         objects_->Get(Prefix(snapshot.dataset, snapshot.id) + "profile.json"));
  return data::ProfileFromJson(text);
}

absl::StatusOr<data::Table> OfflineStore::LoadTable(const SnapshotInfo& snapshot) {
  CHURN_ASSIGN_OR_RETURN(const data::Schema schema, LoadSchema(snapshot));
  CHURN_ASSIGN_OR_RETURN(const std::string bytes,
                         objects_->Get(Prefix(snapshot.dataset, snapshot.id) + "data.csv"));
  if (base::Sha256Hex(bytes) != snapshot.data_sha256) {
    return absl::DataLossError(absl::StrCat("snapshot ", snapshot.dataset, "@", snapshot.id,
                                            ": data.csv does not match its SHA-256"));
  }
  CHURN_ASSIGN_OR_RETURN(data::ReadTableResult read,
                         data::ReadCsvTable(bytes, schema, data::ReadTableOptions{}));
  return std::move(read.table);
}

}  // namespace churn::features
