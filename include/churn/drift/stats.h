// File: churn/drift/stats.h
//
// The statistics of data drift, computed as Evidently computes them and checked against SciPy on
// fixtures (tests/drift, tests/fixtures/drift/make_fixtures.py, SciPy 1.10.1). Pure functions, no
// I/O. Every function validates its input: InvalidArgument when a sample is empty or holds a
// non-finite value (drop missing values first, as Evidently does), when spans that must align
// differ in length, or when counts are negative. Messages start with the function's name
// ("KsTwoSample: reference is empty").
//
// Two layers:
//   - the statistics themselves (KsTwoSample = scipy.stats.ks_2samp, ChiSquareGoodnessOfFit =
//     scipy.stats.chisquare, ZTestProportions, WassersteinDistance =
//     scipy.stats.wasserstein_distance, JensenShannonDistance =
//     scipy.spatial.distance.jensenshannon, PopulationStabilityIndex) and Evidently's binning
//     (BinNumeric, CountCategories, FillEmptyBins);
//   - Evidently's column tests: ChooseTest picks the test as Evidently's _get_default_stattest,
//     RunTest runs it with its default threshold (or a per-column override) and says whether the
//     column drifted; DatasetDrift turns the per-column verdicts into the dataset verdict.
//
//   CHURN_ASSIGN_OR_RETURN(DriftResult r, RunTest(reference_ages, current_ages));
//   if (r.drifted) ...  // r.test_name "ks", r.score the p-value, r.threshold 0.05
#ifndef CHURN_DRIFT_STATS_H_
#define CHURN_DRIFT_STATS_H_

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace churn::drift {

// A test statistic and its p-value.
struct TestStatistic {
  double statistic = 0.0;
  double p_value = 1.0;
};

// Two-sided two-sample Kolmogorov-Smirnov test, as scipy.stats.ks_2samp(reference, current) with
// method="auto": the exact distribution when both samples have at most 10,000 values (the
// statistic then rounded to a multiple of 1/lcm(n1, n2) as SciPy does), the asymptotic one
// (SciPy's kstwo.sf(D, round(n1 n2 / (n1 + n2)))) otherwise or when the exact computation fails.
absl::StatusOr<TestStatistic> KsTwoSample(absl::Span<const double> reference,
                                          absl::Span<const double> current);

// Pearson's chi-square goodness of fit, as scipy.stats.chisquare(observed, expected): statistic
// sum (o - e)^2 / e, p-value from chi-square with (k - 1) degrees of freedom. A category with
// expected 0 and observed > 0 gives an infinite statistic and p-value 0 (as SciPy); observed 0
// and expected 0 contribute nothing. One category only: statistic 0, p-value 1 (SciPy: NaN).
// InvalidArgument when the sums differ by more than 1e-8 relative (as SciPy).
absl::StatusOr<TestStatistic> ChiSquareGoodnessOfFit(absl::Span<const double> observed,
                                                     absl::Span<const double> expected);

// Evidently's "chisquare" test on aligned per-category counts: the current counts against the
// reference proportions scaled to the current total.
absl::StatusOr<TestStatistic> ChiSquareTest(absl::Span<const double> reference_counts,
                                            absl::Span<const double> current_counts);

// Two-proportion z-test with pooled variance (Evidently's "z"): z = (p1 - p2) /
// sqrt(P (1 - P) (1/n1 + 1/n2)) with p1 = reference_hits / reference_rows, p2 likewise and P the
// pooled proportion; p-value 2 * (1 - Phi(|z|)), computed without cancellation. When P is 0 or 1
// (both samples all one value) z is 0 and the p-value 1, as Evidently's special case.
absl::StatusOr<TestStatistic> ZTestProportions(double reference_hits, double reference_rows,
                                               double current_hits, double current_rows);

// First Wasserstein distance between the empirical distributions, as
// scipy.stats.wasserstein_distance(reference, current).
absl::StatusOr<double> WassersteinDistance(absl::Span<const double> reference,
                                           absl::Span<const double> current);

// Evidently's "wasserstein": WassersteinDistance / max(std(reference), 0.001), std with ddof 0.
absl::StatusOr<double> WassersteinNormed(absl::Span<const double> reference,
                                         absl::Span<const double> current);

// Jensen-Shannon distance as scipy.spatial.distance.jensenshannon(p, q, base): both normalised
// to sum 1, sqrt((KL(p || m) + KL(q || m)) / 2) with m = (p + q) / 2, natural logarithm unless
// `base` is given. InvalidArgument for negative entries, zero sums or base <= 0 or 1.
absl::StatusOr<double> JensenShannonDistance(absl::Span<const double> p, absl::Span<const double> q,
                                             std::optional<double> base = std::nullopt);

// Population stability index sum (r - c) * ln(r / c) over proportions without zeros (apply
// FillEmptyBins first, as Evidently does).
absl::StatusOr<double> PopulationStabilityIndex(absl::Span<const double> reference_percents,
                                                absl::Span<const double> current_percents);

// Two aligned distributions (proportions of each sample in each bin or category).
struct Binned {
  std::vector<double> reference;
  std::vector<double> current;
};

// Evidently's get_binned_data for a numeric column: with more than 20 distinct reference values,
// bins on numpy.histogram_bin_edges(reference + current, bins="sturges") (bins [e_i, e_i+1), the
// last one closed); otherwise one bin per distinct value of reference and current, in ascending
// order. Proportions of each sample's size; empty bins stay 0.
absl::StatusOr<Binned> BinNumeric(absl::Span<const double> reference,
                                  absl::Span<const double> current);

// Per-category counts of two samples over the union of their categories, in ascending order.
struct CategoryCounts {
  std::vector<std::string> keys;
  std::vector<double> reference;
  std::vector<double> current;
};

CategoryCounts CountCategories(absl::Span<const std::string> reference,
                               absl::Span<const std::string> current);

// Counts as proportions of each side's total (the categorical path of get_binned_data).
absl::StatusOr<Binned> ToProportions(const CategoryCounts& counts);

// Evidently's feel_zeroes: empty bins of one side get min(non-zero) / 1e6 when that minimum is
// at most 1e-4, else 1e-4. A side without any non-zero bin is left as is.
void FillEmptyBins(std::vector<double>& percents);

// --- Evidently's column tests ---------------------------------------------------------------

enum class ColumnKind { kNumeric, kCategorical };

enum class DriftTest { kKs, kChiSquare, kZ, kWasserstein, kJensenShannon, kPsi };

// Evidently's names: "ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi".
absl::string_view DriftTestName(DriftTest test);
absl::StatusOr<DriftTest> DriftTestFromName(absl::string_view name);

// Whether the score is a p-value (drift when small) rather than a distance (drift when large).
bool IsPValueTest(DriftTest test);

// Evidently's defaults: 0.05 for the p-value tests (ks, chisquare, z), 0.1 for wasserstein,
// jensenshannon and psi.
double DefaultThreshold(DriftTest test);

// Evidently's _get_default_stattest, with `n_unique` the number of distinct non-missing values of
// reference and current together: reference_rows <= 1000: numeric with n_unique > 5 -> ks,
// otherwise (numeric with <= 5 values, or categorical) chisquare when n_unique > 2, else z.
// reference_rows > 1000: numeric with n_unique > 5 -> wasserstein, otherwise jensenshannon.
DriftTest ChooseTest(ColumnKind kind, size_t reference_rows, size_t n_unique);

// Per-column overrides (Evidently's per_column_stattest / per_column_stattest_threshold).
struct ColumnOptions {
  std::optional<DriftTest> test;
  std::optional<double> threshold;
};

struct DriftResult {
  DriftTest test = DriftTest::kKs;
  std::string test_name;
  // What Evidently reports as drift_score: the p-value of ks, chisquare and z, the distance of
  // wasserstein and jensenshannon, the index of psi.
  double score = 0.0;
  double threshold = 0.0;
  // ks: score <= threshold; chisquare, z: score < threshold; the others: score >= threshold.
  bool drifted = false;
};

// Runs the chosen (or overridden) test on a numeric column. Chi-square, z, jensenshannon and psi
// see the values as Evidently does (distinct values as categories, or Sturges bins);
// InvalidArgument for a test that does not apply (none: all apply to numeric columns).
absl::StatusOr<DriftResult> RunTest(absl::Span<const double> reference,
                                    absl::Span<const double> current,
                                    const ColumnOptions& options = {});

// Runs the chosen (or overridden) test on a categorical column; InvalidArgument for ks and
// wasserstein, which need numbers (as Evidently refuses them for "cat").
absl::StatusOr<DriftResult> RunTest(absl::Span<const std::string> reference,
                                    absl::Span<const std::string> current,
                                    const ColumnOptions& options = {});

struct DatasetDriftResult {
  size_t columns = 0;
  size_t drifted_columns = 0;
  double share = 0.0;
  double threshold = 0.5;
  // share >= threshold, as Evidently's DatasetDriftMetric.
  bool drifted = false;
};

// InvalidArgument without columns or for a threshold outside [0, 1].
absl::StatusOr<DatasetDriftResult> DatasetDrift(absl::Span<const DriftResult> columns,
                                                double share_threshold = 0.5);

}  // namespace churn::drift

#endif  // CHURN_DRIFT_STATS_H_
