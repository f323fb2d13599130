#include "churn/metrics/classification.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"

namespace churn::metrics {
namespace {

using nlohmann::json;

// Which scores a metric accepts: any finite number (rankings, thresholds) or a probability.
enum class ScoreRange { kFinite, kProbability };

struct Counts {
  uint64_t rows = 0;
  uint64_t positives = 0;

  uint64_t Negatives() const { return rows - positives; }
};

// The one input check every metric runs: equal non-zero lengths, 0/1 labels, finite scores
// (in [0, 1] for kProbability). Errors start with `what`, the public function's name.
absl::StatusOr<Counts> Validate(absl::string_view what, absl::Span<const float> labels,
                                absl::Span<const float> scores, ScoreRange range) {
  if (labels.size() != scores.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": labels (", labels.size(), ") and scores (", scores.size(), ") differ in length"));
  }
  if (labels.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": labels and scores are empty"));
  }
  Counts counts;
  counts.rows = labels.size();
  for (size_t i = 0; i < labels.size(); ++i) {
    const float label = labels[i];
    if (label != 0.0F && label != 1.0F) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": label ", label, " at row ", i, " is not 0 or 1"));
    }
    counts.positives += label == 1.0F ? 1 : 0;
    const float score = scores[i];
    if (!std::isfinite(score)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": score ", score, " at row ", i, " is not finite"));
    }
    if (range == ScoreRange::kProbability && (score < 0.0F || score > 1.0F)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": score ", score, " at row ", i, " is outside [0, 1]"));
    }
  }
  return counts;
}

absl::Status RequirePositives(absl::string_view what, const Counts& counts) {
  if (counts.positives == 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": undefined without positive labels (",
                                                   counts.rows, " rows, all negative)"));
  }
  return absl::OkStatus();
}

absl::Status RequireBothClasses(absl::string_view what, const Counts& counts) {
  if (counts.positives == 0 || counts.positives == counts.rows) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ROC-AUC is undefined with one class only (", counts.positives,
                     " positives of ", counts.rows, " rows)"));
  }
  return absl::OkStatus();
}

// sklearn's _binary_clf_curve: the distinct scores in descending order and, at each, how many
// positive and negative rows score at least that much. Ties form one point.
struct Curve {
  std::vector<double> thresholds;
  std::vector<uint64_t> tps;
  std::vector<uint64_t> fps;
  uint64_t positives = 0;
  uint64_t negatives = 0;
};

Curve BuildCurve(absl::Span<const float> labels, absl::Span<const float> scores) {
  struct Row {
    double score = 0.0;
    bool positive = false;
  };

  std::vector<Row> rows(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    rows[i] = {.score = static_cast<double>(scores[i]), .positive = labels[i] == 1.0F};
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.score > b.score; });
  Curve curve;
  uint64_t tp = 0;
  uint64_t fp = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    tp += rows[i].positive ? 1 : 0;
    fp += rows[i].positive ? 0 : 1;
    if (i + 1 == rows.size() || rows[i + 1].score != rows[i].score) {
      curve.thresholds.push_back(rows[i].score);
      curve.tps.push_back(tp);
      curve.fps.push_back(fp);
    }
  }
  curve.positives = tp;
  curve.negatives = fp;
  return curve;
}

// The trapezoids under the ROC curve through (0, 0) and every point, in counts: a tie group's
// trapezoid is where its positive-negative pairs count one half. Each term is an integer, so the
// sum is exact while it stays below 2^53 (2 * positives * negatives).
double AucOf(const Curve& curve) {
  double twice_area = 0.0;
  uint64_t tp_prev = 0;
  uint64_t fp_prev = 0;
  for (size_t k = 0; k < curve.thresholds.size(); ++k) {
    twice_area +=
        static_cast<double>(curve.fps[k] - fp_prev) * static_cast<double>(curve.tps[k] + tp_prev);
    tp_prev = curve.tps[k];
    fp_prev = curve.fps[k];
  }
  return twice_area /
         (2.0 * static_cast<double>(curve.positives) * static_cast<double>(curve.negatives));
}

// sklearn's step integral: sum over thresholds (descending) of (R_k - R_{k-1}) * P_k, recall
// and precision computed as sklearn does (tp / positives, tp / (tp + fp)).
double AveragePrecisionOf(const Curve& curve) {
  const auto positives = static_cast<double>(curve.positives);
  double ap = 0.0;
  double recall_prev = 0.0;
  for (size_t k = 0; k < curve.thresholds.size(); ++k) {
    const auto tp = static_cast<double>(curve.tps[k]);
    const double recall = tp / positives;
    ap += (recall - recall_prev) * (tp / (tp + static_cast<double>(curve.fps[k])));
    recall_prev = recall;
  }
  return ap;
}

// Precision, recall and F1 at point `k`, with the reference training script's arithmetic
// (2 * p * r / (p + r), 0 when p + r is 0) so that ties in F1 break as there.
ThresholdChoice ChoiceAt(const Curve& curve, size_t k) {
  const auto tp = static_cast<double>(curve.tps[k]);
  ThresholdChoice choice;
  choice.threshold = curve.thresholds[k];
  choice.precision = tp / (tp + static_cast<double>(curve.fps[k]));
  choice.recall = tp / static_cast<double>(curve.positives);
  const double sum = choice.precision + choice.recall;
  choice.f1 = sum == 0.0 ? 0.0 : 2.0 * choice.precision * choice.recall / sum;
  return choice;
}

// numpy.argmax over sklearn's precision_recall_curve, whose points run from the lowest
// threshold up: the first maximum found walking up is kept.
ThresholdChoice MaxF1Of(const Curve& curve) {
  ThresholdChoice best = ChoiceAt(curve, curve.thresholds.size() - 1);
  for (size_t k = curve.thresholds.size() - 1; k-- > 0;) {
    const ThresholdChoice c = ChoiceAt(curve, k);
    if (c.f1 > best.f1) {
      best = c;
    }
  }
  return best;
}

// The first point, walking down from the highest threshold, whose recall reaches the target.
// The lowest threshold has recall 1, so there is always one.
ThresholdChoice AtRecallOf(const Curve& curve, double target_recall) {
  for (size_t k = 0; k + 1 < curve.thresholds.size(); ++k) {
    const ThresholdChoice c = ChoiceAt(curve, k);
    if (c.recall >= target_recall) {
      return c;
    }
  }
  return ChoiceAt(curve, curve.thresholds.size() - 1);
}

double LogLossOf(absl::Span<const float> labels, absl::Span<const float> scores, double eps) {
  double sum = 0.0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const double p = std::clamp(static_cast<double>(scores[i]), eps, 1.0 - eps);
    sum -= labels[i] == 1.0F ? std::log(p) : std::log(1.0 - p);
  }
  return sum / static_cast<double>(labels.size());
}

double BrierOf(absl::Span<const float> labels, absl::Span<const float> scores) {
  double sum = 0.0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const double d = static_cast<double>(labels[i]) - static_cast<double>(scores[i]);
    sum += d * d;
  }
  return sum / static_cast<double>(labels.size());
}

Confusion ConfusionOf(absl::Span<const float> labels, absl::Span<const float> scores,
                      double threshold) {
  Confusion c;
  for (size_t i = 0; i < labels.size(); ++i) {
    const bool predicted = static_cast<double>(scores[i]) >= threshold;
    if (labels[i] == 1.0F) {
      ++(predicted ? c.tp : c.fn);
    } else {
      ++(predicted ? c.fp : c.tn);
    }
  }
  return c;
}

// sklearn 1.2.1's calibration_curve(strategy="uniform"): edges numpy.linspace(0, 1, bins + 1)
// (i * (1 / bins), the last exactly 1) and bin = numpy.searchsorted(inner edges, p), i.e. the
// number of inner edges strictly below p: bins are (lower, upper], the first one [0, upper].
CalibrationCurve CalibrationOf(absl::Span<const float> labels, absl::Span<const float> scores,
                               int bins) {
  const auto nbins = static_cast<size_t>(bins);
  const double step = 1.0 / static_cast<double>(bins);
  std::vector<double> edges(nbins + 1);
  for (size_t i = 0; i < nbins; ++i) {
    edges[i] = static_cast<double>(i) * step;
  }
  edges[nbins] = 1.0;
  std::vector<double> sum_predicted(nbins, 0.0);
  std::vector<double> sum_positive(nbins, 0.0);
  std::vector<uint64_t> count(nbins, 0);
  const auto inner_begin = edges.begin() + 1;
  const auto inner_end = edges.end() - 1;
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto p = static_cast<double>(scores[i]);
    const auto b = static_cast<size_t>(std::lower_bound(inner_begin, inner_end, p) - inner_begin);
    sum_predicted[b] += p;
    sum_positive[b] += static_cast<double>(labels[i]);
    ++count[b];
  }
  CalibrationCurve curve;
  const auto rows = static_cast<double>(labels.size());
  for (size_t b = 0; b < nbins; ++b) {
    if (count[b] == 0) {
      continue;
    }
    const auto n = static_cast<double>(count[b]);
    curve.bin_lower.push_back(edges[b]);
    curve.bin_upper.push_back(edges[b + 1]);
    curve.mean_predicted.push_back(sum_predicted[b] / n);
    curve.fraction_positive.push_back(sum_positive[b] / n);
    curve.counts.push_back(count[b]);
    curve.ece += n / rows * std::abs(curve.fraction_positive.back() - curve.mean_predicted.back());
  }
  return curve;
}

absl::Status CheckEps(absl::string_view what, double eps) {
  if (!(eps >= 0.0 && eps < 0.5)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": eps ", eps, " is outside [0, 0.5)"));
  }
  return absl::OkStatus();
}

absl::Status CheckThreshold(absl::string_view what, double threshold) {
  if (std::isnan(threshold)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": threshold is NaN"));
  }
  return absl::OkStatus();
}

absl::Status CheckBins(absl::string_view what, int bins) {
  if (bins <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": calibration bins must be positive, got ", bins));
  }
  return absl::OkStatus();
}

json CalibrationJson(const CalibrationCurve& c) {
  return {{"bin_lower", c.bin_lower},
          {"bin_upper", c.bin_upper},
          {"mean_predicted", c.mean_predicted},
          {"fraction_positive", c.fraction_positive},
          {"counts", c.counts},
          {"ece", c.ece}};
}

}  // namespace

double Confusion::Precision() const {
  return tp + fp == 0 ? 0.0 : static_cast<double>(tp) / static_cast<double>(tp + fp);
}

double Confusion::Recall() const {
  return tp + fn == 0 ? 0.0 : static_cast<double>(tp) / static_cast<double>(tp + fn);
}

double Confusion::F1() const {
  return tp == 0 ? 0.0 : 2.0 * static_cast<double>(tp) / static_cast<double>(2 * tp + fp + fn);
}

absl::StatusOr<double> RocAuc(absl::Span<const float> labels, absl::Span<const float> scores) {
  CHURN_ASSIGN_OR_RETURN(const Counts counts,
                         Validate("RocAuc", labels, scores, ScoreRange::kFinite));
  CHURN_RETURN_IF_ERROR(RequireBothClasses("RocAuc", counts));
  return AucOf(BuildCurve(labels, scores));
}

absl::StatusOr<double> AveragePrecision(absl::Span<const float> labels,
                                        absl::Span<const float> scores) {
  CHURN_ASSIGN_OR_RETURN(const Counts counts,
                         Validate("AveragePrecision", labels, scores, ScoreRange::kFinite));
  CHURN_RETURN_IF_ERROR(RequirePositives("AveragePrecision", counts));
  return AveragePrecisionOf(BuildCurve(labels, scores));
}

absl::StatusOr<double> LogLoss(absl::Span<const float> labels, absl::Span<const float> scores,
                               double eps) {
  CHURN_RETURN_IF_ERROR(CheckEps("LogLoss", eps));
  CHURN_RETURN_IF_ERROR(Validate("LogLoss", labels, scores, ScoreRange::kProbability).status());
  return LogLossOf(labels, scores, eps);
}

absl::StatusOr<double> BrierScore(absl::Span<const float> labels, absl::Span<const float> scores) {
  CHURN_RETURN_IF_ERROR(Validate("BrierScore", labels, scores, ScoreRange::kProbability).status());
  return BrierOf(labels, scores);
}

absl::StatusOr<Confusion> ConfusionAt(absl::Span<const float> labels,
                                      absl::Span<const float> scores, double threshold) {
  CHURN_RETURN_IF_ERROR(CheckThreshold("ConfusionAt", threshold));
  CHURN_RETURN_IF_ERROR(Validate("ConfusionAt", labels, scores, ScoreRange::kFinite).status());
  return ConfusionOf(labels, scores, threshold);
}

absl::StatusOr<ThresholdChoice> ThresholdForMaxF1(absl::Span<const float> labels,
                                                  absl::Span<const float> scores) {
  CHURN_ASSIGN_OR_RETURN(const Counts counts,
                         Validate("ThresholdForMaxF1", labels, scores, ScoreRange::kFinite));
  CHURN_RETURN_IF_ERROR(RequirePositives("ThresholdForMaxF1", counts));
  return MaxF1Of(BuildCurve(labels, scores));
}

absl::StatusOr<ThresholdChoice> ThresholdForRecall(absl::Span<const float> labels,
                                                   absl::Span<const float> scores,
                                                   double target_recall) {
  if (!(target_recall > 0.0 && target_recall <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ThresholdForRecall: target recall ", target_recall, " is outside (0, 1]"));
  }
  CHURN_ASSIGN_OR_RETURN(const Counts counts,
                         Validate("ThresholdForRecall", labels, scores, ScoreRange::kFinite));
  CHURN_RETURN_IF_ERROR(RequirePositives("ThresholdForRecall", counts));
  return AtRecallOf(BuildCurve(labels, scores), target_recall);
}

absl::StatusOr<CalibrationCurve> Calibration(absl::Span<const float> labels,
                                             absl::Span<const float> scores, int bins) {
  CHURN_RETURN_IF_ERROR(CheckBins("Calibration", bins));
  CHURN_RETURN_IF_ERROR(Validate("Calibration", labels, scores, ScoreRange::kProbability).status());
  return CalibrationOf(labels, scores, bins);
}

absl::StatusOr<Evaluation> Evaluate(absl::Span<const float> labels, absl::Span<const float> scores,
                                    double threshold, int calibration_bins) {
  CHURN_RETURN_IF_ERROR(CheckThreshold("Evaluate", threshold));
  CHURN_RETURN_IF_ERROR(CheckBins("Evaluate", calibration_bins));
  CHURN_ASSIGN_OR_RETURN(const Counts counts,
                         Validate("Evaluate", labels, scores, ScoreRange::kProbability));
  CHURN_RETURN_IF_ERROR(RequireBothClasses("Evaluate", counts));
  const Curve curve = BuildCurve(labels, scores);  // the one sort, shared by AUC and AP
  Evaluation e;
  e.rows = counts.rows;
  e.positives = counts.positives;
  e.roc_auc = AucOf(curve);
  e.pr_auc = AveragePrecisionOf(curve);
  e.log_loss = LogLossOf(labels, scores, /*eps=*/1e-15);
  e.brier = BrierOf(labels, scores);
  e.threshold = threshold;
  e.confusion = ConfusionOf(labels, scores, threshold);
  e.precision = e.confusion.Precision();
  e.recall = e.confusion.Recall();
  e.f1 = e.confusion.F1();
  e.calibration = CalibrationOf(labels, scores, calibration_bins);
  e.ece = e.calibration.ece;
  return e;
}

std::string Evaluation::ToJson() const {
  const json j = {
      {"rows", rows},
      {"positives", positives},
      {"roc_auc", roc_auc},
      {"pr_auc", pr_auc},
      {"log_loss", log_loss},
      {"brier", brier},
      {"threshold", threshold},
      {"precision", precision},
      {"recall", recall},
      {"f1", f1},
      {"ece", ece},
      {"confusion",
       {{"tp", confusion.tp}, {"fp", confusion.fp}, {"tn", confusion.tn}, {"fn", confusion.fn}}},
      {"calibration", CalibrationJson(calibration)}};
  return j.dump(1);
}

}  // namespace churn::metrics
