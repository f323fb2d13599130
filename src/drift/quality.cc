#include "churn/drift/quality.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"

#include "churn/base/status_macros.h"
#include "churn/metrics/classification.h"

namespace churn::drift {
namespace {

double Ratio(double num, double den) {
  return den > 0.0 ? num / den : 0.0;
}

Quality FromCounts(double tp, double fp, double tn, double fn) {
  Quality q;
  q.precision = Ratio(tp, tp + fp);
  q.recall = Ratio(tp, tp + fn);
  q.f1 = Ratio(2.0 * tp, 2.0 * tp + fp + fn);
  q.accuracy = Ratio(tp + tn, tp + fp + tn + fn);
  return q;
}

// The area under the expected ROC curve: rows by descending probability, each adding p to the
// expected true positives and 1 - p to the expected false positives. Tied probabilities move the
// curve along one straight segment, so ties need no grouping.
double ExpectedRocAuc(std::vector<float> p) {
  std::sort(p.begin(), p.end(), std::greater<>());
  double positives = 0.0;
  double negatives = 0.0;
  for (const float v : p) {
    positives += v;
    negatives += 1.0 - v;
  }
  if (positives <= 0.0 || negatives <= 0.0) {
    return 0.0;
  }
  double area = 0.0;
  double tp = 0.0;
  for (const float v : p) {
    const double fp_step = 1.0 - v;
    // Trapezoid: width fp_step / negatives, mean height (tp + (tp + v) / 2) / positives.
    area += fp_step * (tp + 0.5 * v);
    tp += v;
  }
  return area / (positives * negatives);
}

}  // namespace

absl::StatusOr<Quality> EstimateQuality(absl::Span<const float> probabilities, double threshold) {
  if (probabilities.empty()) {
    return absl::InvalidArgumentError("EstimateQuality: no probabilities");
  }
  double tp = 0.0;
  double fp = 0.0;
  double tn = 0.0;
  double fn = 0.0;
  for (const float p : probabilities) {
    if (!(p >= 0.0f && p <= 1.0f)) {
      return absl::InvalidArgumentError(
          absl::StrCat("EstimateQuality: probability ", p, " is outside [0, 1]"));
    }
    if (p >= threshold) {
      tp += p;
      fp += 1.0 - p;
    } else {
      fn += p;
      tn += 1.0 - p;
    }
  }
  Quality q = FromCounts(tp, fp, tn, fn);
  q.roc_auc = ExpectedRocAuc(std::vector<float>(probabilities.begin(), probabilities.end()));
  return q;
}

absl::StatusOr<Quality> RealizedQuality(absl::Span<const float> labels,
                                        absl::Span<const float> probabilities, double threshold) {
  CHURN_ASSIGN_OR_RETURN(const double auc, metrics::RocAuc(labels, probabilities));
  CHURN_ASSIGN_OR_RETURN(const metrics::Confusion c,
                         metrics::ConfusionAt(labels, probabilities, threshold));
  Quality q = FromCounts(static_cast<double>(c.tp), static_cast<double>(c.fp),
                         static_cast<double>(c.tn), static_cast<double>(c.fn));
  q.roc_auc = auc;
  return q;
}

}  // namespace churn::drift
