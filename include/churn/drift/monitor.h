// File: churn/drift/monitor.h
//
// Live drift of a served model against its reference profile (reference.h), in bounded memory:
//   - a count window: the last `count_rows` predictions (a ring);
//   - a time window: the last `time_span`, kept in `time_buckets` buckets of equal length, each a
//     uniform sample (reservoir) of at most time_max_rows / time_buckets of the predictions that
//     fell in it, so memory is bounded whatever the request rate;
//   - labels: predictions remembered (the last `label_lookup`) by request id and customer id, so
//     an outcome reported later (/feedback) finds its probability; the last `labeled_rows`
//     labeled predictions give the realized quality and the target drift.
// Observe and Label are cheap (a lock, a copy of one row, two hash-map updates) and may be called
// from any thread; Compute copies the windows under the lock and runs the tests outside it.
//
//   DriftMonitor monitor(reference, {});
//   monitor.Observe(features, p, request_id, customer_id, absl::Now());   // per prediction
//   MonitorReport r = monitor.Compute(absl::Now());                     // every few seconds
#ifndef CHURN_DRIFT_MONITOR_H_
#define CHURN_DRIFT_MONITOR_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

#include "churn/drift/quality.h"
#include "churn/drift/reference.h"
#include "churn/drift/stats.h"

namespace churn::drift {

struct MonitorOptions {
  size_t count_rows = 1000;
  absl::Duration time_span = absl::Minutes(5);
  int time_buckets = 30;
  size_t time_max_rows = 30000;
  // A window (or a column of it) with fewer rows gives no verdict.
  size_t min_rows = 100;
  // Share of drifted columns at which the dataset drifted.
  double share_threshold = 0.5;
  size_t labeled_rows = 1000;
  size_t label_lookup = 100000;
  // Tests and thresholds per input, replacing the reference's (ParseColumnOverrides); those
  // that do not apply to the served version are left out (IgnoredOverrides).
  std::map<std::string, ColumnOptions, std::less<>> per_column{};

  // InvalidArgument naming the setting that is out of range.
  absl::Status Validate() const;
};

enum class WindowKind { kCount, kTime };

// "count" or "time".
absl::string_view WindowName(WindowKind kind);

struct ColumnDrift {
  std::string feature{};
  size_t rows = 0;  // non-missing values in the window
  DriftResult result{};
};

struct WindowReport {
  WindowKind kind = WindowKind::kCount;
  size_t rows = 0;
  // False while the window holds fewer than min_rows rows: nothing below is set.
  bool computed = false;
  // The columns with at least min_rows non-missing values, in the reference's order.
  std::vector<ColumnDrift> columns{};
  DatasetDriftResult dataset{};
  DriftResult prediction{};
  double score_mean = 0.0;
  Quality estimated{};
};

struct LabeledReport {
  size_t rows = 0;
  size_t positives = 0;
  // False below min_rows labeled rows or with one class only.
  bool computed = false;
  Quality realized{};
  // Labeled positive rate against the reference's: the two-proportion z test.
  DriftResult target{};
};

struct MonitorReport {
  std::vector<WindowReport> windows{};  // count, then time
  LabeledReport labeled{};
  // Predictions observed and labels matched since the monitor started.
  uint64_t observed = 0;
  uint64_t labels_matched = 0;
  uint64_t labels_unmatched = 0;
};

// The reference's values with their repetitions (ReferenceColumn::Expanded), one vector per
// monitored input in the reference's order, then the scores': what EvaluateWindow compares with.
std::vector<std::vector<double>> ExpandReference(const ReferenceProfile& reference);

// Tests one window of predictions against `reference`, as DriftMonitor::Compute tests each of
// its windows (and the report flow a window of the prediction log): `rows` is row-major with
// reference.columns.size() + 1 floats per row (each monitored input in the reference's order,
// NaN when missing, then the probability); `expanded` is ExpandReference(reference), computed
// once by callers that test many windows. Every input keeps the reference's test and threshold.
// With fewer than `min_rows` rows (or none) nothing is computed; an input with fewer than
// `min_rows` non-missing values (or none) is left out of columns and of the dataset verdict.
WindowReport EvaluateWindow(const ReferenceProfile& reference,
                            absl::Span<const std::vector<double>> expanded, WindowKind kind,
                            absl::Span<const float> rows, size_t min_rows, double share_threshold);

class DriftMonitor {
 public:
  // `reference` must not be null. Options are used as given (Validate them first).
  DriftMonitor(std::shared_ptr<const ReferenceProfile> reference, MonitorOptions options);

  ~DriftMonitor() = default;
  DriftMonitor(const DriftMonitor&) = delete;
  DriftMonitor& operator=(const DriftMonitor&) = delete;

  // One prediction: the model's feature vector (the monitored entries are read), its probability,
  // and the ids an outcome may be reported by later (either may be empty).
  void Observe(absl::Span<const float> features, double probability, absl::string_view request_id,
               absl::string_view customer_id, absl::Time now);

  // An outcome: the remembered prediction with this request id, else the customer's latest one.
  // False when neither is remembered (or it was labeled already).
  bool Label(absl::string_view request_id, absl::string_view customer_id, int churned);

  MonitorReport Compute(absl::Time now) const;

  const ReferenceProfile& Reference() const { return *reference_; }

  const MonitorOptions& Options() const { return options_; }

  // Why some of options.per_column did not apply to this reference (empty when all did).
  const std::vector<std::string>& IgnoredOverrides() const { return ignored_overrides_; }

  // Bytes the windows take at most (what bounded memory means here).
  size_t CapacityBytes() const;

 private:
  struct Bucket {
    int64_t id = -1;    // time / bucket length
    uint64_t seen = 0;  // predictions that fell in it
    std::vector<float> rows{};
  };

  struct Remembered {
    uint64_t request_hash = 0;
    uint64_t customer_hash = 0;
    float probability = 0;
    bool labeled = false;
  };

  // Row width: the monitored features, then the probability.
  size_t Width() const { return reference_->columns.size() + 1; }

  void WriteRow(absl::Span<const float> features, double probability, float* out) const;
  void Remember(absl::string_view request_id, absl::string_view customer_id, float probability)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::vector<std::string> ignored_overrides_;
  const std::shared_ptr<const ReferenceProfile> reference_;
  const MonitorOptions options_;
  // The reference's values expanded once (RunTest's input), per column, then the scores.
  std::vector<std::vector<double>> expanded_;
  const int64_t bucket_us_;
  const size_t bucket_rows_;
  const size_t num_buckets_;

  mutable absl::Mutex mu_;
  std::vector<float> ring_ ABSL_GUARDED_BY(mu_);
  uint64_t ring_next_ ABSL_GUARDED_BY(mu_) = 0;  // rows written ever
  std::vector<Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  uint64_t rng_ ABSL_GUARDED_BY(mu_) = 0x9e3779b97f4a7c15ULL;
  std::vector<Remembered> remembered_ ABSL_GUARDED_BY(mu_);
  uint64_t remembered_next_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, uint64_t> by_request_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, uint64_t> by_customer_ ABSL_GUARDED_BY(mu_);
  std::vector<float> labeled_ ABSL_GUARDED_BY(mu_);  // (probability, label) pairs, a ring
  uint64_t labeled_next_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t labels_matched_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t labels_unmatched_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace churn::drift

#endif  // CHURN_DRIFT_MONITOR_H_
