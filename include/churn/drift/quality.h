// File: churn/drift/quality.h
//
// A model's quality on live traffic: estimated from its probabilities while labels are missing
// (confidence-based performance estimation, NannyML's CBPE: with calibrated probabilities, row i
// is a positive with probability p_i, so the expected confusion matrix at the decision threshold
// and the expected ROC curve follow from the probabilities alone), and realized once labels
// arrive (metrics/classification.h on the labeled rows).
#ifndef CHURN_DRIFT_QUALITY_H_
#define CHURN_DRIFT_QUALITY_H_

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace churn::drift {

struct Quality {
  double roc_auc = 0.0;
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  double accuracy = 0.0;
};

// CBPE at `threshold` (label 1 at p >= threshold): expected TP = sum of p over predicted
// positives, FP = sum of 1 - p over them, FN and TN likewise over predicted negatives; precision,
// recall, F1 and accuracy from those (0 when undefined, as sklearn's zero_division=0); ROC AUC as
// the area under the expected ROC curve (rows by descending p; expected TPR and FPR are the
// running sums of p and 1 - p over their totals). InvalidArgument when `probabilities` is empty
// or holds a value outside [0, 1].
absl::StatusOr<Quality> EstimateQuality(absl::Span<const float> probabilities, double threshold);

// The same metrics on labeled rows (labels 0/1). InvalidArgument when the spans differ in length,
// are empty, or the labels hold one class only (ROC AUC is undefined).
absl::StatusOr<Quality> RealizedQuality(absl::Span<const float> labels,
                                        absl::Span<const float> probabilities, double threshold);

}  // namespace churn::drift

#endif  // CHURN_DRIFT_QUALITY_H_
