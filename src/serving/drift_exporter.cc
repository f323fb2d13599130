#include "serving/drift_exporter.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace churn::serving::internal {
namespace {

using Json = nlohmann::ordered_json;

prometheus::Family<prometheus::Gauge>& Family(prometheus::Registry& registry, const char* name,
                                              const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

std::vector<std::pair<const char*, double>> QualityMetrics(const drift::Quality& q) {
  return {{"roc_auc", q.roc_auc},
          {"precision", q.precision},
          {"recall", q.recall},
          {"f1", q.f1},
          {"accuracy", q.accuracy}};
}

Json ResultJson(const drift::DriftResult& r) {
  return Json{{"test", r.test_name},
              {"score", r.score},
              {"threshold", r.threshold},
              {"drifted", r.drifted}};
}

Json QualityJson(const drift::Quality& q) {
  Json out = Json::object();
  for (const auto& [name, value] : QualityMetrics(q)) {
    out[name] = value;
  }
  return out;
}

Json WindowJson(const drift::WindowReport& w) {
  Json out{{"window", drift::WindowName(w.kind)}, {"rows", w.rows}, {"computed", w.computed}};
  if (!w.computed) {
    return out;
  }
  Json columns = Json::array();
  for (const drift::ColumnDrift& c : w.columns) {
    Json col = ResultJson(c.result);
    col["feature"] = absl::AsciiStrToLower(c.feature);
    col["rows"] = c.rows;
    columns.push_back(std::move(col));
  }
  out["columns"] = std::move(columns);
  out["dataset"] = Json{{"columns", w.dataset.columns},
                        {"drifted_columns", w.dataset.drifted_columns},
                        {"share", w.dataset.share},
                        {"threshold", w.dataset.threshold},
                        {"drifted", w.dataset.drifted}};
  out["prediction"] = ResultJson(w.prediction);
  out["score_mean"] = w.score_mean;
  out["estimated_quality"] = QualityJson(w.estimated);
  return out;
}

std::string ReportJson(const LoadedModel& loaded, const drift::MonitorReport& report,
                       double seconds) {
  Json windows = Json::array();
  for (const drift::WindowReport& w : report.windows) {
    windows.push_back(WindowJson(w));
  }
  const drift::LabeledReport& l = report.labeled;
  Json labeled{{"rows", l.rows}, {"positives", l.positives}, {"computed", l.computed}};
  if (l.computed) {
    labeled["realized_quality"] = QualityJson(l.realized);
    labeled["target"] = ResultJson(l.target);
  }
  const Json out{{"monitored", true},
                 {"model", Json::parse(loaded.model_json)},
                 {"reference_rows", loaded.monitor->Reference().rows},
                 {"observed", report.observed},
                 {"labels_matched", report.labels_matched},
                 {"labels_unmatched", report.labels_unmatched},
                 {"compute_seconds", seconds},
                 {"windows", std::move(windows)},
                 {"labeled", std::move(labeled)}};
  return out.dump();
}

}  // namespace

void GaugeSeries::Set(const prometheus::Labels& labels, double value) {
  prometheus::Gauge*& g = gauges_[labels];
  if (g == nullptr) {
    g = &family_.Add(labels);
  }
  g->Set(value);
  touched_.insert(labels);
}

void GaugeSeries::Sweep() {
  for (auto it = gauges_.begin(); it != gauges_.end();) {
    if (!touched_.contains(it->first)) {
      family_.Remove(it->second);
      it = gauges_.erase(it);
    } else {
      ++it;
    }
  }
  touched_.clear();
}

DriftExporter::DriftExporter(prometheus::Registry& registry, const ModelFollower* follower,
                             absl::Duration interval)
    : follower_(follower),
      interval_(interval),
      feature_score_(Family(registry, "churn_feature_drift_score",
                            "Drift score per feature: the p-value (ks, chisquare, z), the "
                            "distance (wasserstein, jensenshannon) or the index (psi)")),
      feature_threshold_(Family(registry, "churn_feature_drift_threshold",
                                "The threshold the feature's drift score is compared with")),
      feature_detected_(Family(registry, "churn_feature_drift_detected",
                               "1 when the feature drifted in the window")),
      dataset_share_(Family(registry, "churn_dataset_drift_share",
                            "Share of the monitored features that drifted")),
      dataset_drift_(Family(registry, "churn_dataset_drift",
                            "1 when the share of drifted features reached the threshold")),
      prediction_score_(Family(registry, "churn_prediction_drift_score",
                               "Drift score of the churn probabilities against the reference's")),
      prediction_detected_(Family(registry, "churn_prediction_drift_detected",
                                  "1 when the churn probabilities drifted")),
      score_mean_(
          Family(registry, "churn_prediction_score_mean", "Mean churn probability in the window")),
      window_rows_(Family(registry, "churn_drift_window_rows", "Predictions in the window")),
      reference_rows_(Family(registry, "churn_drift_reference_rows",
                             "Rows of the served version's drift reference")),
      estimated_(Family(registry, "churn_estimated_quality",
                        "Quality estimated from the probabilities alone (CBPE)")),
      realized_(Family(registry, "churn_realized_quality",
                       "Quality on the last labeled predictions (feedback)")),
      labeled_rows_(Family(registry, "churn_labeled_window_rows",
                           "Labeled predictions the realized quality is computed on")),
      target_detected_(Family(registry, "churn_target_drift_detected",
                              "1 when the labeled churn rate differs from the reference's")),
      feedback_(Family(registry, "churn_feedback_labels",
                       "Feedback labels matched to a remembered prediction, or not, since the "
                       "served version was loaded")),
      compute_seconds_(Family(registry, "churn_drift_compute_seconds",
                              "Time the last drift computation took")) {}

void DriftExporter::Start() {
  if (interval_ <= absl::ZeroDuration()) {
    return;
  }
  thread_ = std::thread([this] {
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        if (mu_.AwaitWithTimeout(absl::Condition(&stopped_), interval_)) {
          return;
        }
      }
      Update();
    }
  });
}

void DriftExporter::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void DriftExporter::Update() {
  absl::MutexLock update_lock(&update_mu_);
  UpdateLocked();
}

void DriftExporter::UpdateIfOlder(absl::Duration max_age) {
  // Callers at the same time wait for the one computing, then find its result fresh.
  absl::MutexLock update_lock(&update_mu_);
  if (absl::Now() - last_update_ >= max_age) {
    UpdateLocked();
  }
}

void DriftExporter::UpdateLocked() {
  last_update_ = absl::Now();
  const std::shared_ptr<const LoadedModel> loaded = follower_->Current();
  if (loaded == nullptr || loaded->monitor == nullptr) {
    SweepAll();  // nothing set: every drift series goes
    absl::MutexLock lock(&mu_);
    last_json_ = loaded == nullptr
                     ? R"({"monitored":false,"reason":"no model is served"})"
                     : absl::StrCat(R"({"monitored":false,"reason":"version )",
                                    loaded->model->Version(), R"( has no drift reference"})");
    return;
  }
  const absl::Time start = absl::Now();
  const drift::MonitorReport report = loaded->monitor->Compute(start);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  Export(*loaded, report, seconds);
  std::string json = ReportJson(*loaded, report, seconds);
  absl::MutexLock lock(&mu_);
  last_json_ = std::move(json);
}

void DriftExporter::Export(const LoadedModel& loaded, const drift::MonitorReport& report,
                           double seconds) {
  for (const drift::WindowReport& w : report.windows) {
    const std::string window(drift::WindowName(w.kind));
    window_rows_.Set({{"window", window}}, static_cast<double>(w.rows));
    if (!w.computed) {
      continue;
    }
    for (const drift::ColumnDrift& c : w.columns) {
      const std::string feature = absl::AsciiStrToLower(c.feature);
      const prometheus::Labels labels{
          {"feature", feature}, {"test", c.result.test_name}, {"window", window}};
      feature_score_.Set(labels, c.result.score);
      feature_threshold_.Set(labels, c.result.threshold);
      feature_detected_.Set({{"feature", feature}, {"window", window}}, c.result.drifted ? 1 : 0);
    }
    if (!w.columns.empty()) {
      dataset_share_.Set({{"window", window}}, w.dataset.share);
      dataset_drift_.Set({{"window", window}}, w.dataset.drifted ? 1 : 0);
    }
    prediction_score_.Set({{"test", w.prediction.test_name}, {"window", window}},
                          w.prediction.score);
    prediction_detected_.Set({{"window", window}}, w.prediction.drifted ? 1 : 0);
    score_mean_.Set({{"window", window}}, w.score_mean);
    for (const auto& [metric, value] : QualityMetrics(w.estimated)) {
      estimated_.Set({{"metric", metric}, {"window", window}}, value);
    }
  }
  reference_rows_.Set({}, static_cast<double>(loaded.monitor->Reference().rows));
  labeled_rows_.Set({}, static_cast<double>(report.labeled.rows));
  if (report.labeled.computed) {
    for (const auto& [metric, value] : QualityMetrics(report.labeled.realized)) {
      realized_.Set({{"metric", metric}}, value);
    }
    target_detected_.Set({}, report.labeled.target.drifted ? 1 : 0);
  }
  feedback_.Set({{"result", "matched"}}, static_cast<double>(report.labels_matched));
  feedback_.Set({{"result", "unmatched"}}, static_cast<double>(report.labels_unmatched));
  compute_seconds_.Set({}, seconds);
  SweepAll();
}

void DriftExporter::SweepAll() {
  for (GaugeSeries* s : {&feature_score_, &feature_threshold_, &feature_detected_, &dataset_share_,
                         &dataset_drift_, &prediction_score_, &prediction_detected_, &score_mean_,
                         &window_rows_, &reference_rows_, &estimated_, &realized_, &labeled_rows_,
                         &target_detected_, &feedback_, &compute_seconds_}) {
    s->Sweep();
  }
}

std::string DriftExporter::LastJson() const {
  absl::MutexLock lock(&mu_);
  return last_json_;
}

}  // namespace churn::serving::internal
