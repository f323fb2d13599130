// churn ingest SOURCE --dataset NAME [--schema FILE]: validate a CSV into an immutable snapshot
// of the offline store and materialise it into the online store.
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"
#include "churn/base/time.h"
#include "churn/features/feature_store.h"

namespace churn::cli {
namespace {

std::string Human(const features::IngestOutcome& out, const std::string& online) {
  const features::SnapshotInfo& s = out.result.snapshot;
  const double share =
      s.rows == 0 ? 0.0 : 100.0 * static_cast<double>(s.positives) / static_cast<double>(s.rows);
  std::string text = absl::StrFormat(
      "%s %s@%s\n"
      "  source      %s\n"
      "  schema      %s (%s)\n"
      "  rows        %s (%s positives, %.2f%%)\n"
      "  dropped     %s rows, %s cells set missing\n"
      "  data        %s bytes, sha256 %s\n"
      "  created_at  %s\n",
      out.result.created ? "ingested new snapshot" : "snapshot already present:", s.dataset, s.id,
      s.source, s.schema_name, s.schema_hash.substr(0, 16), WithCommas(s.rows),
      WithCommas(s.positives), share, WithCommas(s.rows_dropped), WithCommas(s.cells_set_missing),
      WithCommas(s.bytes), s.data_sha256, s.created_at);
  if (!online.empty()) {
    absl::StrAppend(&text, "  online      ", WithCommas(out.entities_materialized), " entities -> ",
                    online, "\n");
  }
  if (out.result.report.violations_total > 0) {
    absl::StrAppend(&text, "  report      ", out.result.report.ToString(), "\n");
  }
  return text;
}

}  // namespace

void AddIngestCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand(
      "ingest", "Validate a CSV (path or s3://bucket/key) into a feature-store snapshot");
  auto spec = std::make_shared<features::IngestSpec>();
  auto json = std::make_shared<bool>(false);
  auto no_materialize = std::make_shared<bool>(false);
  cmd->add_option("source", spec->source, "CSV file or s3://bucket/key")->required();
  cmd->add_option("--dataset", spec->dataset, "Dataset name")->required();
  cmd->add_option("--schema", spec->schema_path,
                  "Schema YAML (default: the dataset's last schema, configs/<dataset>.yaml, or "
                  "the built-in one)");
  cmd->add_flag("--no-materialize", *no_materialize, "Do not update the online store");
  cmd->add_flag("--json", *json, "Print the result as JSON");
  cmd->callback([&ctx, spec, json, no_materialize] {
    ctx.action = [&ctx, spec, json, no_materialize]() -> absl::Status {
      spec->materialize = !*no_materialize;
      CHURN_ASSIGN_OR_RETURN(auto store,
                             features::FeatureStore::Open(ctx.config, base::SystemClock()));
      CHURN_ASSIGN_OR_RETURN(const features::IngestOutcome out, store->Ingest(*spec));
      const std::string online = spec->materialize ? store->Online().Describe() : "";
      if (*json) {
        auto j = nlohmann::ordered_json::parse(out.result.snapshot.ToJson());
        j["created"] = out.result.created;
        j["entities_materialized"] = out.entities_materialized;
        j["violations"] = out.result.report.violations_total;
        Print(j.dump(2) + "\n");
      } else {
        Print(Human(out, online));
      }
      return absl::OkStatus();
    };
  });
}

}  // namespace churn::cli
