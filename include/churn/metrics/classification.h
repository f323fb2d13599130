// File: churn/metrics/classification.h
//
// Binary-classification metrics, computed in double precision and checked against
// scikit-learn on fixtures (tests/metrics). Labels are 0/1, scores are probabilities of the
// positive class. Every function validates its input: InvalidArgument when the spans differ in
// length, are empty, a label is not 0 or 1, a score is NaN/inf (or, for the probability
// metrics, outside [0, 1]), or a metric is undefined for the data (ROC-AUC with one class only;
// average precision and the threshold choices without a positive label). Messages start with the
// function's name ("RocAuc: label 2 at row 7 is not 0 or 1"). Ranking metrics (ROC-AUC, average
// precision, confusion, thresholds) take any finite score; LogLoss, BrierScore, Calibration and
// Evaluate need probabilities.
//
//   CHURN_ASSIGN_OR_RETURN(double auc, RocAuc(labels, scores));
//   CHURN_ASSIGN_OR_RETURN(ThresholdChoice t, ThresholdForMaxF1(valid_labels, valid_scores));
//   CHURN_ASSIGN_OR_RETURN(Evaluation e, Evaluate(test_labels, test_scores, t.threshold));
#ifndef CHURN_METRICS_CLASSIFICATION_H_
#define CHURN_METRICS_CLASSIFICATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace churn::metrics {

// Area under the ROC curve, exact (ties between scores count one half), as
// sklearn.metrics.roc_auc_score.
absl::StatusOr<double> RocAuc(absl::Span<const float> labels, absl::Span<const float> scores);

// Average precision (the PR-AUC as a step function), as sklearn's average_precision_score:
// sum over distinct thresholds, descending, of (R_k - R_{k-1}) * P_k. Needs a positive label.
absl::StatusOr<double> AveragePrecision(absl::Span<const float> labels,
                                        absl::Span<const float> scores);

// Mean negative log-likelihood with scores clipped to [eps, 1 - eps], as sklearn's log_loss;
// InvalidArgument for eps outside [0, 0.5).
absl::StatusOr<double> LogLoss(absl::Span<const float> labels, absl::Span<const float> scores,
                               double eps = 1e-15);

// Mean squared difference between score and label, as sklearn's brier_score_loss.
absl::StatusOr<double> BrierScore(absl::Span<const float> labels, absl::Span<const float> scores);

// Counts at a threshold: a score >= threshold is predicted positive (InvalidArgument for a NaN
// threshold).
struct Confusion {
  uint64_t tp = 0;
  uint64_t fp = 0;
  uint64_t tn = 0;
  uint64_t fn = 0;

  // 0 when undefined (sklearn's zero_division=0).
  double Precision() const;
  double Recall() const;
  double F1() const;
};

absl::StatusOr<Confusion> ConfusionAt(absl::Span<const float> labels,
                                      absl::Span<const float> scores, double threshold);

struct ThresholdChoice {
  double threshold = 0.5;
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
};

// The threshold among the distinct scores that maximises F1 (ties: the lowest such threshold,
// as taking argmax over sklearn's precision_recall_curve), with its precision/recall/F1 (F1 as
// 2pr / (p + r)). Needs a positive label.
absl::StatusOr<ThresholdChoice> ThresholdForMaxF1(absl::Span<const float> labels,
                                                  absl::Span<const float> scores);

// The highest threshold among the distinct scores whose recall is at least `target_recall`
// (in (0, 1]); InvalidArgument for a target outside that range or without a positive label.
absl::StatusOr<ThresholdChoice> ThresholdForRecall(absl::Span<const float> labels,
                                                   absl::Span<const float> scores,
                                                   double target_recall);

// Reliability diagram over `bins` equal-width bins of [0, 1] (sklearn's calibration_curve with
// strategy="uniform": empty bins are left out) and the expected calibration error
// ECE = sum over bins of count / n * |fraction_positive - mean_predicted|. As sklearn 1.2's
// searchsorted, bins are (lower, upper] with the first one [0, upper]: 0.5 is in [0.4, 0.5].
// InvalidArgument for bins <= 0.
struct CalibrationCurve {
  std::vector<double> bin_lower;
  std::vector<double> bin_upper;
  std::vector<double> mean_predicted;
  std::vector<double> fraction_positive;
  std::vector<uint64_t> counts;
  double ece = 0.0;
};

absl::StatusOr<CalibrationCurve> Calibration(absl::Span<const float> labels,
                                             absl::Span<const float> scores, int bins = 10);

// Every metric above at once, at `threshold` (log loss with eps 1e-15; one sort for AUC and AP).
// Needs both classes (for ROC-AUC) and probabilities.
struct Evaluation {
  uint64_t rows = 0;
  uint64_t positives = 0;
  double roc_auc = 0.0;
  double pr_auc = 0.0;
  double log_loss = 0.0;
  double brier = 0.0;
  double threshold = 0.5;
  Confusion confusion{};
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  CalibrationCurve calibration{};
  double ece = 0.0;

  // {"rows", "positives", "roc_auc", "pr_auc", "log_loss", "brier", "threshold", "precision",
  //  "recall", "f1", "ece", "confusion": {"tp","fp","tn","fn"}, "calibration": {"bin_lower",
  //  "bin_upper", "mean_predicted", "fraction_positive", "counts", "ece"}}, indented by one.
  std::string ToJson() const;
};

absl::StatusOr<Evaluation> Evaluate(absl::Span<const float> labels, absl::Span<const float> scores,
                                    double threshold, int calibration_bins = 10);

}  // namespace churn::metrics

#endif  // CHURN_METRICS_CLASSIFICATION_H_
