// File: churn/flows/report_flow.h
//
// The report flow, the use case behind `churn report` and the scheduler's report flow: one
// window of the prediction log against the deployed model's drift reference, and against the
// window before it, as a self-contained HTML page in the reports folder.
//
//   model reference (churn@production) -> the version's package and drift reference
//   (model/drift_reference.json) -> the window [since, until) of the prediction log, read back
//   under the model's schema and put through its feature pipeline -> each monitored input tested
//   as the live monitor tests it (drift::EvaluateWindow: Evidently's test and threshold per
//   input, the dataset verdict by share) -> the same against the previous window of the same
//   length -> pre-binned histograms (reference vs current) per input and of the scores ->
//   quality: CBPE's estimate, and the realized quality when feedback labels some rows ->
//   report-<until>.html + its sidecar, index.html rewritten (report/report_folder.h).
//
//   CHURN_ASSIGN_OR_RETURN(ReportFlowResult r,
//                          RunReportFlow({.model = "churn@production", .reports_dir = dir},
//                                        *registry, *log));
//   // r.path, r.report.dataset.drifted, ...
//
// An empty window is an error (NotFound, nothing written): a report needs predictions to show.
// The previous window may be empty; the report then says it was not compared.
#ifndef CHURN_FLOWS_REPORT_FLOW_H_
#define CHURN_FLOWS_REPORT_FLOW_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "churn/base/time.h"
#include "churn/drift/stats.h"
#include "churn/registry/registry.h"
#include "churn/report/html_report.h"
#include "churn/serving/prediction_log.h"

namespace churn::flows {

struct ReportFlowOptions {
  // The model whose drift reference the window is compared with: NAME@ALIAS (resolved now) or
  // NAME@VERSION. Only this model's predictions are read.
  std::string model = "churn@production";
  // Where the report, its sidecar and index.html are written (created when missing). Required.
  std::string reports_dir{};
  // The window [since, until) of the prediction log. until InfinitePast: now; since
  // InfinitePast: until - window.
  absl::Time since = absl::InfinitePast();
  absl::Time until = absl::InfinitePast();
  absl::Duration window = absl::Hours(3);
  // Share of drifted inputs at which the dataset drifted (Evidently's drift_share).
  double share_threshold = 0.5;
  // Tests and thresholds per input replacing the reference's, as the live monitor takes them
  // (drift::ParseColumnOverrides of config drift.tests); those that do not apply are noted.
  std::map<std::string, drift::ColumnOptions, std::less<>> per_column{};
  // Predictions read per window at most (the newest).
  size_t max_rows = 100000;
  // Bins of a numeric input's chart (one per value for integers spanning fewer).
  int bins = 20;
  // Categories per chart at most (the rarest folded into "other").
  size_t max_categories = 12;
  // "now" (the default window) and the generation time. Null: the system clock.
  const base::Clock* clock = nullptr;
};

struct ReportFlowResult {
  // The report written: reports_dir/file_name, `bytes` long.
  std::string path{};
  std::string file_name{};
  uint64_t bytes = 0;
  // The model reference as given, and everything the page shows (model, window, rows, tests,
  // histograms, quality, the previous window).
  std::string model_ref{};
  report::ReportInput report{};
  // The scores tested against the reference's (prediction drift).
  drift::DriftResult prediction{};
  // Logged records in the window that do not fit the model's schema (left out); rows beyond
  // max_rows (the oldest, left out); rows labeled by feedback.
  uint64_t skipped = 0;
  uint64_t dropped = 0;
  uint64_t labeled = 0;
  // Why something is not shown: overrides that did not apply, inputs without values in the
  // window, an empty previous window, labels of one class only.
  std::vector<std::string> notes{};
};

// Runs the flow (see the file comment). InvalidArgument for bad options (no reports_dir, since
// not before until, a bad model reference, a non-positive window, max_rows 0, a share outside
// [0, 1]); NotFound when the model, version or alias does not exist, or the window holds no
// prediction of the model that fits its schema; FailedPrecondition when the version has no
// drift reference (trained before they existed); the registry's, the log's or the file
// system's error otherwise, with context. `registry` and `log` are only read.
absl::StatusOr<ReportFlowResult> RunReportFlow(const ReportFlowOptions& options,
                                               registry::Registry& registry,
                                               serving::PredictionLog& log);

// The result as JSON (`churn report --json`, and the sidecar's "result"): file, path, bytes,
// model {ref, name, version, run_id}, window {since, until}, generated_at, rows,
// reference_rows, skipped, dropped, labeled, dataset {columns, drifted_columns, share,
// threshold, drifted}, features [{name, type, test, score, threshold, drifted,
// drifted_vs_previous}], prediction {test, score, threshold, drifted, reference_mean,
// current_mean}, previous {since, until, rows, dataset} or null, quality {estimated,
// realized {labeled_rows, roc_auc, ...} or null}, notes. Histograms are left out.
std::string ReportFlowResultJson(const ReportFlowResult& result);

}  // namespace churn::flows

#endif  // CHURN_FLOWS_REPORT_FLOW_H_
