// churn datasets list | show NAME[@SNAPSHOT]: what the offline store holds.
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"
#include "churn/base/time.h"
#include "churn/features/feature_store.h"

namespace churn::cli {
namespace {

using Json = nlohmann::ordered_json;

absl::Status ListDatasets(const base::Config& config, bool as_json) {
  CHURN_ASSIGN_OR_RETURN(auto store, features::FeatureStore::Open(config, base::SystemClock()));
  CHURN_ASSIGN_OR_RETURN(const std::vector<std::string> names, store->Offline().ListDatasets());
  Json out = Json::array();
  std::string text = absl::StrFormat("%-24s %-10s %-16s %12s %10s  %s\n", "DATASET", "SNAPSHOTS",
                                     "LATEST", "ROWS", "POSITIVES", "CREATED");
  for (const auto& name : names) {
    CHURN_ASSIGN_OR_RETURN(const auto snapshots, store->Offline().ListSnapshots(name));
    const features::SnapshotInfo& latest = snapshots.back();
    out.push_back({{"dataset", name},
                   {"snapshots", snapshots.size()},
                   {"latest", Json::parse(latest.ToJson())}});
    absl::StrAppendFormat(&text, "%-24s %-10d %-16s %12s %10s  %s\n", name, snapshots.size(),
                          latest.id, WithCommas(latest.rows), WithCommas(latest.positives),
                          latest.created_at);
  }
  if (as_json) {
    Print(out.dump(2) + "\n");
  } else if (names.empty()) {
    Print("no datasets yet: churn ingest FILE --dataset NAME\n");
  } else {
    Print(text);
  }
  return absl::OkStatus();
}

std::string ProfileTable(const data::DatasetProfile& profile) {
  std::string text = absl::StrFormat("%-26s %-11s %-10s %8s %7s  %s\n", "COLUMN", "TYPE", "ROLE",
                                     "COUNT", "MISSING", "SUMMARY");
  for (const auto& c : profile.columns) {
    std::string summary;
    if (c.type == data::ColumnType::kCategorical) {
      for (size_t i = 0; i < c.levels.size(); ++i) {
        absl::StrAppendFormat(&summary, "%s%s=%d", i == 0 ? "" : ", ", c.levels[i],
                              c.level_counts[i]);
      }
    } else if (c.count > 0) {
      summary = absl::StrFormat("mean %.4g  std %.4g  min %.4g  p50 %.4g  max %.4g", c.mean, c.std,
                                c.min, c.quantiles[3], c.max);
    }
    absl::StrAppendFormat(&text, "%-26s %-11s %-10s %8d %7d  %s\n", c.name, data::ToString(c.type),
                          data::ToString(c.role), c.count, c.missing, summary);
  }
  return text;
}

absl::Status ShowDataset(const base::Config& config, const std::string& ref, bool as_json) {
  CHURN_ASSIGN_OR_RETURN(auto store, features::FeatureStore::Open(config, base::SystemClock()));
  CHURN_ASSIGN_OR_RETURN(const features::SnapshotInfo info, store->Offline().GetSnapshotRef(ref));
  CHURN_ASSIGN_OR_RETURN(const data::DatasetProfile profile, store->Offline().LoadProfile(info));
  if (as_json) {
    const Json out = {{"snapshot", Json::parse(info.ToJson())},
                      {"profile", Json::parse(data::ProfileToJson(profile))}};
    Print(out.dump(2) + "\n");
    return absl::OkStatus();
  }
  Print(absl::StrFormat(
      "%s@%s\n  source      %s\n  schema      %s (%s)\n  rows        %s (%s positives)\n"
      "  dropped     %s rows, %s cells set missing\n  data        %s bytes, sha256 %s\n"
      "  created_at  %s\n\n%s",
      info.dataset, info.id, info.source, info.schema_name, info.schema_hash.substr(0, 16),
      WithCommas(info.rows), WithCommas(info.positives), WithCommas(info.rows_dropped),
      WithCommas(info.cells_set_missing), WithCommas(info.bytes), info.data_sha256, info.created_at,
      ProfileTable(profile)));
  return absl::OkStatus();
}

}  // namespace

void AddDatasetsCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("datasets", "List and show feature-store datasets");
  cmd->require_subcommand(1);
  auto json_flag = std::make_shared<bool>(false);
  CLI::App* list = cmd->add_subcommand("list", "Every dataset with its latest snapshot");
  list->add_flag("--json", *json_flag, "Print JSON");
  list->callback([&ctx, json_flag] {
    ctx.action = [&ctx, json_flag] { return ListDatasets(ctx.config, *json_flag); };
  });
  auto ref = std::make_shared<std::string>();
  CLI::App* show =
      cmd->add_subcommand("show", "One snapshot's metadata and column profile (default latest)");
  show->add_option("dataset", *ref, "NAME or NAME@SNAPSHOT (id or unique prefix)")->required();
  show->add_flag("--json", *json_flag, "Print JSON");
  show->callback([&ctx, ref, json_flag] {
    ctx.action = [&ctx, ref, json_flag] { return ShowDataset(ctx.config, *ref, *json_flag); };
  });
}

}  // namespace churn::cli
