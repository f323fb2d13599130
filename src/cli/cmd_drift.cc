// churn drift --reference REF --current CUR: data drift between a reference (a model version's
// training snapshot, or a feature-store snapshot) and current rows (a CSV file in the dataset's
// format, or a snapshot), column by column with Evidently's tests (drift/report.h), then the
// dataset verdict. Finding drift is a result, not a failure: the exit code is 0 either way (2
// for bad arguments), so scripts read the verdict from the output (`--json`: dataset.drifted).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"

#include "churn/base/object_store.h"
#include "churn/base/status_macros.h"
#include "churn/base/time.h"
#include "churn/data/csv_table.h"
#include "churn/drift/report.h"
#include "churn/features/feature_store.h"
#include "churn/serving/logged_inputs.h"
#include "churn/serving/served_model.h"

namespace churn::cli {
namespace {

struct DriftFlags {
  std::string reference;
  std::string current;
  std::vector<std::string> columns;
  std::vector<std::string> stattest;
  std::vector<std::string> threshold;
  double share = 0.5;
  bool json = false;
};

// Rows to compare, with where they came from.
struct Rows {
  std::string source{};    // as given on the command line
  std::string snapshot{};  // "dataset@id", empty for a file
  data::Schema schema{};
  data::Table table{};
};

absl::StatusOr<Rows> LoadSnapshot(features::FeatureStore& store, absl::string_view text) {
  CHURN_ASSIGN_OR_RETURN(const features::SnapshotInfo snap, store.Offline().GetSnapshotRef(text));
  Rows rows{.source = std::string(text), .snapshot = absl::StrCat(snap.dataset, "@", snap.id)};
  CHURN_ASSIGN_OR_RETURN(rows.schema, store.Offline().LoadSchema(snap));
  CHURN_ASSIGN_OR_RETURN(rows.table, store.Offline().LoadTable(snap));
  return rows;
}

// A model reference whose model is registered: the snapshot its version's source run trained on.
// Anything else: DATASET[@SNAPSHOT].
absl::StatusOr<Rows> LoadReference(const base::Config& config, features::FeatureStore& store,
                                   const std::string& text) {
  const absl::StatusOr<serving::ModelRef> ref = serving::ParseModelRef(text);
  if (ref.ok()) {
    CHURN_ASSIGN_OR_RETURN(auto registry, OpenConfiguredRegistry(config));
    if (registry->GetRegisteredModel(ref->name).ok()) {
      CHURN_ASSIGN_OR_RETURN(const registry::ModelVersion version,
                             serving::ResolveModelRef(*registry, *ref));
      CHURN_ASSIGN_OR_RETURN(const registry::Run run, registry->GetRun(version.run_id));
      if (run.info.dataset_snapshot.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("--reference ", text, ": version ", version.version, "'s run ",
                         version.run_id, " records no dataset snapshot"));
      }
      absl::StatusOr<Rows> rows = LoadSnapshot(store, run.info.dataset_snapshot);
      if (rows.ok()) {
        rows->source = text;
      }
      return rows;
    }
  }
  absl::StatusOr<Rows> rows = LoadSnapshot(store, text);
  if (!rows.ok() && ref.ok()) {
    return base::WithContext(
        rows.status(), absl::StrCat("--reference ", text, ": no registered model '", ref->name,
                                    "', and not a dataset snapshot"));
  }
  return rows;
}

// "log[:WINDOW]": the inputs of the predictions logged in the window (serving/logged_inputs.h).
absl::StatusOr<Rows> LoadLogWindow(const base::Config& config, const std::string& text,
                                   const data::Schema& schema) {
  CHURN_ASSIGN_OR_RETURN(
      const serving::LogWindow window,
      serving::ParseLogWindow(text.size() > 4 ? absl::string_view(text).substr(4) : "",
                              absl::Now()));
  CHURN_ASSIGN_OR_RETURN(auto log, OpenConfiguredPredictionLog(config));
  CHURN_ASSIGN_OR_RETURN(serving::LoggedInputs in, serving::ReadLoggedInputs(*log, schema, window));
  log->Close();
  if (in.table.NumRows() == 0) {
    return absl::NotFoundError(absl::StrCat("--current ", text, ": no logged prediction in ",
                                            log->Describe(), " fits that window",
                                            in.skipped > 0 ? " and the schema" : ""));
  }
  return Rows{.source = absl::StrCat(text, " (", in.table.NumRows(), " logged predictions)"),
              .schema = schema,
              .table = std::move(in.table)};
}

// A CSV file (or s3:// object) read under `schema`; one without the target column (simulator
// traffic, unlabeled requests) is read without it. "log[:WINDOW]" reads the prediction log.
absl::StatusOr<Rows> LoadCurrent(const base::Config& config, features::FeatureStore& store,
                                 const std::string& text, const data::Schema& schema) {
  std::error_code ec;
  if ((text == "log" || absl::StartsWith(text, "log:")) && !std::filesystem::exists(text, ec)) {
    return LoadLogWindow(config, text, schema);
  }
  if (text.find('@') != std::string::npos && !absl::StartsWith(text, "s3://") &&
      !std::filesystem::exists(text, ec)) {
    return LoadSnapshot(store, text);
  }
  CHURN_ASSIGN_OR_RETURN(const base::UriBytes bytes, base::ReadUri(text, config.s3));
  data::ReadTableOptions options;
  options.csv.max_record_bytes = config.max_record_bytes;
  options.max_reported = config.max_reported_violations;
  absl::StatusOr<data::ReadTableResult> read = data::ReadCsvTable(bytes.View(), schema, options);
  if (!read.ok() && schema.Find(schema.target) != nullptr) {
    data::Schema unlabeled = schema;
    std::erase_if(unlabeled.columns,
                  [&](const data::ColumnSpec& c) { return c.name == schema.target; });
    absl::StatusOr<data::ReadTableResult> again =
        data::ReadCsvTable(bytes.View(), unlabeled, options);
    if (again.ok()) {
      read = std::move(again);
    }
  }
  if (!read.ok()) {
    return base::WithContext(read.status(), text);
  }
  return Rows{.source = text, .schema = schema, .table = std::move(read->table)};
}

// "COLUMN=VALUE" split at the last '='.
absl::StatusOr<std::pair<std::string, std::string>> SplitAssignment(absl::string_view flag,
                                                                    const std::string& text) {
  const size_t eq = text.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " '", text, "': expected COLUMN=", flag == "--stattest" ? "TEST" : "X"));
  }
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

absl::StatusOr<drift::CompareOptions> ParseCompareOptions(const DriftFlags& f) {
  drift::CompareOptions options{.columns = f.columns, .share_threshold = f.share};
  if (!(f.share >= 0.0 && f.share <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("--share ", f.share, ": expected 0 to 1"));
  }
  for (const std::string& text : f.stattest) {
    CHURN_ASSIGN_OR_RETURN(const auto kv, SplitAssignment("--stattest", text));
    absl::StatusOr<drift::DriftTest> test = drift::DriftTestFromName(kv.second);
    if (!test.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--stattest ", text, ": unknown test '", kv.second,
                       "' (expected ks, chisquare, z, wasserstein, jensenshannon or psi)"));
    }
    options.per_column[kv.first].test = *test;
  }
  for (const std::string& text : f.threshold) {
    CHURN_ASSIGN_OR_RETURN(const auto kv, SplitAssignment("--threshold", text));
    double x = 0;
    if (!absl::SimpleAtod(kv.second, &x) || !std::isfinite(x) || x < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--threshold ", text, ": '", kv.second, "' is not a number >= 0"));
    }
    options.per_column[kv.first].threshold = x;
  }
  return options;
}

std::string ReportText(const Rows& reference, const Rows& current, const drift::DatasetReport& r) {
  std::string out =
      absl::StrFormat("reference: %s%s (%d rows)\ncurrent:   %s%s (%d rows)\n\n", reference.source,
                      reference.snapshot.empty() || reference.snapshot == reference.source
                          ? ""
                          : absl::StrCat(" = ", reference.snapshot),
                      reference.table.NumRows(), current.source,
                      current.snapshot.empty() || current.snapshot == current.source
                          ? ""
                          : absl::StrCat(" = ", current.snapshot),
                      current.table.NumRows());
  size_t width = 6;
  for (const drift::ColumnReport& c : r.columns) {
    width = std::max(width, c.column.size());
  }
  absl::StrAppendFormat(&out, "%-*s  %-11s  %-13s  %11s  %9s  %s\n", width, "column", "type",
                        "test", "score", "threshold", "drifted");
  for (const drift::ColumnReport& c : r.columns) {
    absl::StrAppendFormat(&out, "%-*s  %-11s  %-13s  %11.4g  %9.4g  %s\n", width, c.column,
                          drift::ColumnKindName(c.kind), c.result.test_name, c.result.score,
                          c.result.threshold, c.result.drifted ? "yes" : "no");
  }
  absl::StrAppendFormat(&out, "\ndrifted columns: %d/%d (share %.3f, threshold %.3g)\n",
                        r.dataset.drifted_columns, r.dataset.columns, r.dataset.share,
                        r.dataset.threshold);
  absl::StrAppend(&out, "dataset drift: ", r.dataset.drifted ? "yes" : "no", "\n");
  return out;
}

std::string ReportJson(const Rows& reference, const Rows& current, const drift::DatasetReport& r) {
  const auto side = [](const Rows& rows) {
    nlohmann::ordered_json j{{"source", rows.source}, {"rows", rows.table.NumRows()}};
    if (!rows.snapshot.empty()) {
      j["snapshot"] = rows.snapshot;
    }
    return j;
  };
  nlohmann::ordered_json columns = nlohmann::ordered_json::array();
  for (const drift::ColumnReport& c : r.columns) {
    columns.push_back({{"column", c.column},
                       {"type", drift::ColumnKindName(c.kind)},
                       {"test", c.result.test_name},
                       {"score", c.result.score},
                       {"threshold", c.result.threshold},
                       {"drifted", c.result.drifted},
                       {"reference_values", c.reference_values},
                       {"current_values", c.current_values}});
  }
  const nlohmann::ordered_json out{{"reference", side(reference)},
                                   {"current", side(current)},
                                   {"columns", columns},
                                   {"dataset",
                                    {{"columns", r.dataset.columns},
                                     {"drifted_columns", r.dataset.drifted_columns},
                                     {"share", r.dataset.share},
                                     {"threshold", r.dataset.threshold},
                                     {"drifted", r.dataset.drifted}}}};
  return out.dump(2) + "\n";
}

absl::Status Drift(const base::Config& config, const DriftFlags& f) {
  CHURN_ASSIGN_OR_RETURN(const drift::CompareOptions options, ParseCompareOptions(f));
  CHURN_ASSIGN_OR_RETURN(auto store, features::FeatureStore::Open(config, base::SystemClock()));
  CHURN_ASSIGN_OR_RETURN(const Rows reference, LoadReference(config, *store, f.reference));
  CHURN_ASSIGN_OR_RETURN(const Rows current,
                         LoadCurrent(config, *store, f.current, reference.schema));
  if (current.schema.Hash() != reference.schema.Hash()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--current ", f.current, ": schema '", current.schema.name,
                     "' differs from the reference's ('", reference.schema.name, "')"));
  }
  absl::StatusOr<drift::DatasetReport> report =
      drift::CompareTables(reference.schema, reference.table, current.table, options);
  if (!report.ok()) {
    return report.status();
  }
  Print(f.json ? ReportJson(reference, current, *report) : ReportText(reference, current, *report));
  return absl::OkStatus();
}

}  // namespace

void AddDriftCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<DriftFlags>();
  CLI::App* cmd = app.add_subcommand(
      "drift",
      "Data drift per feature column (Evidently's tests) and the dataset verdict; exit 0 "
      "whether or not drift is found");
  cmd->add_option("--reference", f->reference,
                  "A model (churn@production, churn@3, churn/3: its training snapshot) or "
                  "DATASET[@SNAPSHOT]")
      ->required();
  cmd->add_option("--current", f->current,
                  "A CSV file in the dataset's format (s3:// too), DATASET@SNAPSHOT, or the "
                  "prediction log: log (all of it), log:1h (the last hour), "
                  "log:SINCE..UNTIL (RFC 3339)")
      ->required();
  cmd->add_option("--columns", f->columns, "Only these feature columns (a,b,c)")->delimiter(',');
  cmd->add_option("--stattest", f->stattest,
                  "COLUMN=TEST: ks, chisquare, z, wasserstein, jensenshannon or psi (repeatable)");
  cmd->add_option("--threshold", f->threshold, "COLUMN=X: the column's threshold (repeatable)");
  cmd->add_option("--share", f->share,
                  "Share of drifted columns at which the dataset drifted (default 0.5)");
  cmd->add_flag("--json", f->json, "Print the report as JSON");
  cmd->callback([&ctx, f] { ctx.action = [&ctx, f] { return Drift(ctx.config, *f); }; });
}

}  // namespace churn::cli
