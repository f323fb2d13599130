// The report flow: resolve the model, read the window (and the one before it) from the
// prediction log, test it as the live monitor does (drift::EvaluateWindow), bin the charts,
// render, publish. A window's rows are kept in the monitor's layout (each monitored input in the
// reference's order, then the probability), so the same function tests them against the model's
// reference and, through a reference built from the previous window, against that window.
//
// Helpers are prefixed `Report`: the flows module is a unity build, and the other flows have
// helpers of their own in the same anonymous namespace.
#include "churn/flows/report_flow.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"
#include "churn/drift/monitor.h"
#include "churn/drift/quality.h"
#include "churn/drift/reference.h"
#include "churn/drift/report.h"
#include "churn/report/report_folder.h"
#include "churn/serving/logged_inputs.h"
#include "churn/serving/served_model.h"

namespace churn::flows {
namespace {

using ReportJson = nlohmann::ordered_json;

// One window of the log, in the monitor's row layout.
struct ReportRows {
  absl::Time since = absl::InfinitePast();
  absl::Time until = absl::InfinitePast();
  size_t n = 0;
  std::vector<float> rows{};  // n x (inputs + 1)
  std::vector<float> scores{};
  std::vector<float> labels{};  // per row, NaN: none
  uint64_t skipped = 0;
  uint64_t dropped = 0;
  uint64_t labeled = 0;
};

absl::Status ReportCheckOptions(const ReportFlowOptions& o) {
  if (o.reports_dir.empty()) {
    return absl::InvalidArgumentError("report: no reports folder given");
  }
  if (o.window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("report: window ", absl::FormatDuration(o.window), " is not positive"));
  }
  if (o.max_rows == 0 || o.bins < 1) {
    return absl::InvalidArgumentError("report: max_rows and bins must be at least 1");
  }
  if (!(o.share_threshold >= 0.0 && o.share_threshold <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("report: drift share ", o.share_threshold, " is not in [0, 1]"));
  }
  return absl::OkStatus();
}

// [since, until) after defaults.
absl::StatusOr<std::pair<absl::Time, absl::Time>> ReportWindow(const ReportFlowOptions& o,
                                                               absl::Time now) {
  const absl::Time until = o.until == absl::InfinitePast() ? now : o.until;
  const absl::Time since = o.since == absl::InfinitePast() ? until - o.window : o.since;
  if (until == absl::InfiniteFuture() || since == absl::InfiniteFuture() || since >= until) {
    return absl::InvalidArgumentError(
        absl::StrCat("report: the window must end after it starts (since ",
                     base::FormatRfc3339(since), ", until ", base::FormatRfc3339(until), ")"));
  }
  return std::make_pair(since, until);
}

absl::StatusOr<ReportRows> ReportReadWindow(serving::PredictionLog& log,
                                            const serving::ServedModel& model,
                                            const drift::ReferenceProfile& reference,
                                            absl::Time since, absl::Time until, size_t max_rows) {
  CHURN_ASSIGN_OR_RETURN(serving::LoggedInputs in,
                         serving::ReadLoggedInputs(log, model.Schema(),
                                                   {.since = since,
                                                    .until = until,
                                                    .model_name = model.Name(),
                                                    .max_rows = max_rows,
                                                    .with_labels = true}));
  ReportRows w{.since = since,
               .until = until,
               .n = in.table.NumRows(),
               .scores = std::move(in.probabilities),
               .labels = std::move(in.labels),
               .skipped = in.skipped,
               .dropped = in.dropped,
               .labeled = in.labeled};
  if (w.n == 0) {
    return w;
  }
  CHURN_ASSIGN_OR_RETURN(const std::vector<float> matrix, model.Pipeline().Transform(in.table));
  const size_t features = model.Pipeline().NumFeatures();
  const size_t width = reference.columns.size() + 1;
  w.rows.resize(w.n * width);
  for (size_t r = 0; r < w.n; ++r) {
    for (size_t c = 0; c + 1 < width; ++c) {
      const size_t i = reference.columns[c].feature.index;
      w.rows[r * width + c] = i < features ? matrix[r * features + i] : std::nanf("");
    }
    w.rows[r * width + width - 1] = w.scores[r];
  }
  return w;
}

// The previous window as a reference: each input keeps the model reference's test and
// threshold, so the two comparisons differ only in what they compare with.
absl::StatusOr<drift::ReferenceProfile> ReportPreviousReference(
    const drift::ReferenceProfile& reference, const ReportRows& previous) {
  drift::ReferenceInput input{.matrix = previous.rows,
                              .width = reference.columns.size() + 1,
                              .scores = previous.scores,
                              .decision_threshold = reference.decision_threshold,
                              .max_rows = previous.n};
  for (size_t c = 0; c < reference.columns.size(); ++c) {
    drift::MonitoredFeature f = reference.columns[c].feature;
    f.index = c;
    input.per_column[f.name] = {.test = reference.columns[c].test,
                                .threshold = reference.columns[c].threshold};
    input.features.push_back(std::move(f));
  }
  return drift::BuildReference(input);
}

// The values of input `c` in the window, missing ones left out.
std::vector<double> ReportColumnValues(const ReportRows& w, size_t c, size_t width) {
  std::vector<double> out;
  out.reserve(w.n);
  for (size_t r = 0; r < w.n; ++r) {
    const float v = w.rows[r * width + c];
    if (!std::isnan(v)) {
      out.push_back(v);
    }
  }
  return out;
}

// A numeric input's bins: one per value when every value is an integer and they span fewer
// values than `bins`.
int ReportNumericBins(const drift::ReferenceColumn& ref, absl::Span<const double> current,
                      int bins) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  bool integers = true;
  const auto scan = [&lo, &hi, &integers](absl::Span<const double> values) {
    for (const double v : values) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      integers = integers && v == std::floor(v);
    }
  };
  scan(ref.values);
  scan(current);
  if (integers && lo <= hi && hi - lo + 1 < bins) {
    return static_cast<int>(hi - lo + 1);
  }
  return bins;
}

std::string ReportLevel(const drift::MonitoredFeature& f, double code) {
  if (!(code >= 0 && code < static_cast<double>(f.levels.size()))) {
    return "(unknown)";
  }
  return f.levels[static_cast<size_t>(code)];
}

report::HistogramPair ReportHistogram(const drift::ReferenceColumn& ref,
                                      absl::Span<const double> reference_values,
                                      absl::Span<const double> current,
                                      const ReportFlowOptions& o) {
  if (ref.feature.kind == drift::ColumnKind::kNumeric) {
    return report::BinNumeric(reference_values, current, ReportNumericBins(ref, current, o.bins));
  }
  std::vector<std::string> ref_labels;
  ref_labels.reserve(reference_values.size());
  for (size_t i = 0; i < ref.values.size(); ++i) {
    ref_labels.insert(ref_labels.end(), ref.counts[i], ReportLevel(ref.feature, ref.values[i]));
  }
  std::vector<std::string> cur_labels;
  cur_labels.reserve(current.size());
  for (const double v : current) {
    cur_labels.push_back(ReportLevel(ref.feature, v));
  }
  return report::BinCategories(ref_labels, cur_labels, o.max_categories);
}

// The per-input sections: test results (vs the reference and the previous window) and charts.
std::vector<report::FeatureSection> ReportFeatures(
    const drift::ReferenceProfile& reference, absl::Span<const std::vector<double>> expanded,
    const ReportRows& w, const drift::WindowReport& current,
    const std::map<std::string, bool, std::less<>>& vs_previous, const ReportFlowOptions& o) {
  const size_t width = reference.columns.size() + 1;
  std::vector<report::FeatureSection> out;
  for (const drift::ColumnDrift& d : current.columns) {
    const auto at =
        std::find_if(reference.columns.begin(), reference.columns.end(),
                     [&d](const drift::ReferenceColumn& c) { return c.feature.name == d.feature; });
    if (at == reference.columns.end()) {
      continue;
    }
    const auto c = static_cast<size_t>(at - reference.columns.begin());
    const std::vector<double> values = ReportColumnValues(w, c, width);
    const auto prev = vs_previous.find(d.feature);
    out.push_back({.name = d.feature,
                   .kind = at->feature.kind,
                   .test_name = d.result.test_name,
                   .score = d.result.score,
                   .threshold = d.result.threshold,
                   .drifted = d.result.drifted,
                   .drifted_vs_previous =
                       prev != vs_previous.end() ? std::optional<bool>(prev->second) : std::nullopt,
                   .histogram = ReportHistogram(*at, expanded[c], values, o)});
  }
  return out;
}

// The previous window tested against, and per input whether it drifted against it; no window
// (and a note) when it is empty.
struct ReportPrevious {
  std::optional<report::PreviousWindow> window{};
  std::map<std::string, bool, std::less<>> drifted{};
  std::string note{};
};

absl::StatusOr<ReportPrevious> ReportCompareWithPrevious(serving::PredictionLog& log,
                                                         const serving::ServedModel& model,
                                                         const drift::ReferenceProfile& reference,
                                                         const ReportRows& w,
                                                         const ReportFlowOptions& o) {
  const absl::Duration length = w.until - w.since;
  CHURN_ASSIGN_OR_RETURN(
      const ReportRows previous,
      ReportReadWindow(log, model, reference, w.since - length, w.since, o.max_rows));
  ReportPrevious out;
  if (previous.n == 0) {
    out.note = "the previous window holds no prediction: not compared";
    return out;
  }
  absl::StatusOr<drift::ReferenceProfile> profile = ReportPreviousReference(reference, previous);
  if (!profile.ok()) {
    out.note = absl::StrCat("the previous window was not compared: ", profile.status().message());
    return out;
  }
  const drift::WindowReport against =
      drift::EvaluateWindow(*profile, drift::ExpandReference(*profile), drift::WindowKind::kTime,
                            w.rows, 1, o.share_threshold);
  for (const drift::ColumnDrift& d : against.columns) {
    out.drifted[d.feature] = d.result.drifted;
  }
  out.window = report::PreviousWindow{.since = previous.since,
                                      .until = previous.until,
                                      .rows = previous.n,
                                      .dataset = against.dataset};
  return out;
}

// Realized quality on the labeled rows, when there are both outcomes.
std::optional<report::RealizedQualitySection> ReportRealized(const ReportRows& w, double threshold,
                                                             std::vector<std::string>* notes) {
  std::vector<float> labels;
  std::vector<float> scores;
  for (size_t r = 0; r < w.labels.size(); ++r) {
    if (!std::isnan(w.labels[r])) {
      labels.push_back(w.labels[r]);
      scores.push_back(w.scores[r]);
    }
  }
  if (labels.empty()) {
    return std::nullopt;
  }
  absl::StatusOr<drift::Quality> q = drift::RealizedQuality(labels, scores, threshold);
  if (!q.ok()) {
    notes->push_back(
        absl::StrCat(labels.size(),
                     " labeled rows, not enough for the realized quality: ", q.status().message()));
    return std::nullopt;
  }
  return report::RealizedQualitySection{.quality = *q, .labeled_rows = labels.size()};
}

double ReportMean(absl::Span<const double> values) {
  double sum = 0.0;
  for (const double v : values) {
    sum += v;
  }
  return values.empty() ? 0.0 : sum / static_cast<double>(values.size());
}

// The model, its reference with the overrides applied, and the notes about those.
struct ReportModel {
  std::shared_ptr<const serving::ServedModel> served{};
  drift::ReferenceProfile reference{};
};

absl::StatusOr<ReportModel> ReportLoadModel(registry::Registry& registry,
                                            const ReportFlowOptions& o,
                                            std::vector<std::string>* notes) {
  CHURN_ASSIGN_OR_RETURN(const serving::ModelRef ref, serving::ParseModelRef(o.model));
  ReportModel m;
  absl::StatusOr<std::shared_ptr<const serving::ServedModel>> served =
      serving::LoadServedModel(registry, ref);
  if (!served.ok()) {
    return base::WithContext(served.status(), absl::StrCat("report: model ", o.model));
  }
  m.served = *std::move(served);
  if (m.served->DriftReference() == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("report: ", m.served->Name(), " version ", m.served->Version(),
                     " has no drift reference (model/drift_reference.json); retrain it"));
  }
  std::vector<std::string> ignored;
  m.reference = drift::WithOverrides(*m.served->DriftReference(), o.per_column, &ignored);
  for (const std::string& why : ignored) {
    notes->push_back(absl::StrCat("override not applied: ", why));
  }
  return m;
}

void ReportNoteMissingInputs(const drift::ReferenceProfile& reference,
                             const drift::WindowReport& current, std::vector<std::string>* notes) {
  for (const drift::ReferenceColumn& c : reference.columns) {
    const bool tested =
        std::any_of(current.columns.begin(), current.columns.end(),
                    [&c](const drift::ColumnDrift& d) { return d.feature == c.feature.name; });
    if (!tested) {
      notes->push_back(
          absl::StrCat(c.feature.name, ": no value in the window (or its test failed); left out"));
    }
  }
}

// Everything but the file: the page's input and the result around it.
absl::StatusOr<ReportFlowResult> ReportCompute(const ReportFlowOptions& o,
                                               serving::PredictionLog& log, const ReportModel& m,
                                               const ReportRows& w, absl::Time now,
                                               std::vector<std::string> notes) {
  const drift::ReferenceProfile& reference = m.reference;
  const std::vector<std::vector<double>> expanded = drift::ExpandReference(reference);
  const drift::WindowReport current = drift::EvaluateWindow(
      reference, expanded, drift::WindowKind::kTime, w.rows, 1, o.share_threshold);
  ReportNoteMissingInputs(reference, current, &notes);
  CHURN_ASSIGN_OR_RETURN(const ReportPrevious previous,
                         ReportCompareWithPrevious(log, *m.served, reference, w, o));
  if (!previous.note.empty()) {
    notes.push_back(previous.note);
  }
  ReportFlowResult result{.model_ref = o.model,
                          .prediction = current.prediction,
                          .skipped = w.skipped,
                          .dropped = w.dropped,
                          .labeled = w.labeled};
  report::ReportInput& in = result.report;
  in.previous = previous.window;
  in.model = {
      .name = m.served->Name(), .version = m.served->Version(), .run_id = m.served->RunId()};
  in.since = w.since;
  in.until = w.until;
  in.generated_at = now;
  in.rows = w.n;
  in.reference_rows = reference.rows;
  in.dataset = current.dataset;
  in.features = ReportFeatures(reference, expanded, w, current, previous.drifted, o);
  const std::vector<double> scores(w.scores.begin(), w.scores.end());
  in.scores = report::BinNumericInRange(expanded.back(), scores, 0.0, 1.0, report::kScoreBins);
  in.reference_mean_score = ReportMean(expanded.back());
  in.current_mean_score = current.score_mean;
  in.decision_threshold = reference.decision_threshold;
  in.estimated = current.estimated;
  in.realized = ReportRealized(w, reference.decision_threshold, &notes);
  result.notes = std::move(notes);
  return result;
}

ReportJson ReportDatasetJson(const drift::DatasetDriftResult& d) {
  return {{"columns", d.columns},
          {"drifted_columns", d.drifted_columns},
          {"share", d.share},
          {"threshold", d.threshold},
          {"drifted", d.drifted}};
}

ReportJson ReportQualityJson(const drift::Quality& q) {
  return {{"roc_auc", q.roc_auc},
          {"precision", q.precision},
          {"recall", q.recall},
          {"f1", q.f1},
          {"accuracy", q.accuracy}};
}

ReportJson ReportFeaturesJson(const std::vector<report::FeatureSection>& features) {
  ReportJson out = ReportJson::array();
  for (const report::FeatureSection& f : features) {
    out.push_back({{"name", f.name},
                   {"type", drift::ColumnKindName(f.kind)},
                   {"test", f.test_name},
                   {"score", f.score},
                   {"threshold", f.threshold},
                   {"drifted", f.drifted},
                   {"drifted_vs_previous", f.drifted_vs_previous.has_value()
                                               ? ReportJson(*f.drifted_vs_previous)
                                               : ReportJson(nullptr)}});
  }
  return out;
}

}  // namespace

absl::StatusOr<ReportFlowResult> RunReportFlow(const ReportFlowOptions& options,
                                               registry::Registry& registry,
                                               serving::PredictionLog& log) {
  CHURN_RETURN_IF_ERROR(ReportCheckOptions(options));
  const base::Clock& clock = options.clock != nullptr ? *options.clock : *base::SystemClock();
  const absl::Time now = clock.Now();
  CHURN_ASSIGN_OR_RETURN(const auto window, ReportWindow(options, now));
  std::vector<std::string> notes;
  CHURN_ASSIGN_OR_RETURN(const ReportModel model, ReportLoadModel(registry, options, &notes));
  CHURN_ASSIGN_OR_RETURN(const ReportRows rows,
                         ReportReadWindow(log, *model.served, model.reference, window.first,
                                          window.second, options.max_rows));
  if (rows.n == 0) {
    return absl::NotFoundError(
        absl::StrCat("report: no logged prediction of model ", model.served->Name(), " in [",
                     base::FormatRfc3339(window.first), ", ", base::FormatRfc3339(window.second),
                     ") in ", log.Describe(), rows.skipped > 0 ? " that fits its schema" : "",
                     ": nothing to report (no file written)"));
  }
  CHURN_ASSIGN_OR_RETURN(ReportFlowResult result,
                         ReportCompute(options, log, model, rows, now, std::move(notes)));
  const std::string html = report::RenderReport(result.report);
  result.file_name = report::ReportFileName(window.second);
  result.path = (std::filesystem::path(options.reports_dir) / result.file_name).string();
  result.bytes = html.size();
  const report::ReportInput& in = result.report;
  CHURN_RETURN_IF_ERROR(report::PublishReport(options.reports_dir,
                                              {.file_name = result.file_name,
                                               .model_name = in.model.name,
                                               .model_version = in.model.version,
                                               .since = in.since,
                                               .until = in.until,
                                               .generated_at = in.generated_at,
                                               .dataset = in.dataset},
                                              html, ReportFlowResultJson(result)));
  return result;
}

std::string ReportFlowResultJson(const ReportFlowResult& r) {
  const report::ReportInput& in = r.report;
  ReportJson previous = nullptr;
  if (in.previous.has_value()) {
    previous = {{"since", base::FormatRfc3339(in.previous->since)},
                {"until", base::FormatRfc3339(in.previous->until)},
                {"rows", in.previous->rows},
                {"dataset", ReportDatasetJson(in.previous->dataset)}};
  }
  ReportJson realized = nullptr;
  if (in.realized.has_value()) {
    realized = ReportQualityJson(in.realized->quality);
    realized["labeled_rows"] = in.realized->labeled_rows;
  }
  const ReportJson out{
      {"file", r.file_name},
      {"path", r.path},
      {"bytes", r.bytes},
      {"model",
       {{"ref", r.model_ref},
        {"name", in.model.name},
        {"version", in.model.version},
        {"run_id", in.model.run_id}}},
      {"window",
       {{"since", base::FormatRfc3339(in.since)}, {"until", base::FormatRfc3339(in.until)}}},
      {"generated_at", base::FormatRfc3339(in.generated_at)},
      {"rows", in.rows},
      {"reference_rows", in.reference_rows},
      {"skipped", r.skipped},
      {"dropped", r.dropped},
      {"labeled", r.labeled},
      {"dataset", ReportDatasetJson(in.dataset)},
      {"features", ReportFeaturesJson(in.features)},
      {"prediction",
       {{"test", r.prediction.test_name},
        {"score", r.prediction.score},
        {"threshold", r.prediction.threshold},
        {"drifted", r.prediction.drifted},
        {"reference_mean", in.reference_mean_score},
        {"current_mean", in.current_mean_score}}},
      {"previous", previous},
      {"quality",
       {{"estimated", in.estimated.has_value() ? ReportQualityJson(*in.estimated) : nullptr},
        {"realized", realized}}},
      {"notes", r.notes}};
  return out.dump(2) + "\n";
}

}  // namespace churn::flows
