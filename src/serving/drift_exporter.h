// Live drift of the served version as Prometheus gauges (internal to the serving module): every
// interval a thread computes the drift monitor of the version the follower serves (its windows
// against the version's reference) and sets the gauges; a series whose window has too few rows,
// or whose feature left with a version swap, is removed rather than left stale. The last
// report is also kept as JSON for GET /drift.
//
// Gauges (window = "count" | "time"):
//   churn_feature_drift_score{feature,test,window}, churn_feature_drift_threshold{...},
//   churn_feature_drift_detected{feature,window}, churn_dataset_drift_share{window},
//   churn_dataset_drift{window}, churn_prediction_drift_score{test,window},
//   churn_prediction_drift_detected{window}, churn_prediction_score_mean{window},
//   churn_drift_window_rows{window}, churn_drift_reference_rows,
//   churn_estimated_quality{metric,window}, churn_realized_quality{metric},
//   churn_labeled_window_rows, churn_target_drift_detected, churn_feedback_labels{result},
//   churn_drift_compute_seconds.
#ifndef CHURN_SERVING_DRIFT_EXPORTER_H_
#define CHURN_SERVING_DRIFT_EXPORTER_H_

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "serving/scoring.h"

#include "churn/drift/monitor.h"

namespace churn::serving::internal {

// One gauge family's series that an update sets; the ones it did not set are removed on Sweep.
class GaugeSeries {
 public:
  explicit GaugeSeries(prometheus::Family<prometheus::Gauge>& family) : family_(family) {}

  void Set(const prometheus::Labels& labels, double value);
  void Sweep();

 private:
  prometheus::Family<prometheus::Gauge>& family_;
  std::map<prometheus::Labels, prometheus::Gauge*> gauges_;
  std::set<prometheus::Labels> touched_;
};

class DriftExporter {
 public:
  // `registry` and `follower` must outlive the exporter.
  DriftExporter(prometheus::Registry& registry, const ModelFollower* follower,
                absl::Duration interval);

  ~DriftExporter() { Stop(); }

  DriftExporter(const DriftExporter&) = delete;
  DriftExporter& operator=(const DriftExporter&) = delete;

  // Starts the thread (an interval of zero: no thread; Update by hand).
  void Start();
  void Stop();
  // Computes the served version's drift now and sets the gauges.
  void Update();
  // Update() unless the last one is younger than `max_age` (GET /drift: a burst of requests
  // computes once, and never holds io threads behind one another for long).
  void UpdateIfOlder(absl::Duration max_age);

  // How long an update counts as fresh for GET /drift: the interval, at most a second (zero
  // without the thread: every request computes).
  absl::Duration FreshFor() const { return std::min(interval_, absl::Seconds(1)); }

  // The last update as JSON: {"model":...,"reference_rows":...,"windows":[...],"labeled":{...}};
  // {"monitored":false,...} when the version has no drift reference or nothing is served.
  std::string LastJson() const;

 private:
  void UpdateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(update_mu_);
  void Export(const LoadedModel& loaded, const drift::MonitorReport& report, double seconds);
  // Removes every series the last Set calls did not touch.
  void SweepAll();

  const ModelFollower* const follower_;
  const absl::Duration interval_;
  GaugeSeries feature_score_;
  GaugeSeries feature_threshold_;
  GaugeSeries feature_detected_;
  GaugeSeries dataset_share_;
  GaugeSeries dataset_drift_;
  GaugeSeries prediction_score_;
  GaugeSeries prediction_detected_;
  GaugeSeries score_mean_;
  GaugeSeries window_rows_;
  GaugeSeries reference_rows_;
  GaugeSeries estimated_;
  GaugeSeries realized_;
  GaugeSeries labeled_rows_;
  GaugeSeries target_detected_;
  GaugeSeries feedback_;
  GaugeSeries compute_seconds_;

  std::thread thread_;
  absl::Mutex update_mu_;  // one Update at a time (the thread, a test)
  absl::Time last_update_ ABSL_GUARDED_BY(update_mu_) = absl::InfinitePast();
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_json_ ABSL_GUARDED_BY(mu_) = R"({"monitored":false})";
};

}  // namespace churn::serving::internal

#endif  // CHURN_SERVING_DRIFT_EXPORTER_H_
