// File: churn/metrics/percentile.h
//
// The nearest-rank percentile of a sample (latency summaries: the deploy gates' canary, the HTTP
// simulator's report).
#ifndef CHURN_METRICS_PERCENTILE_H_
#define CHURN_METRICS_PERCENTILE_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace churn::metrics {

// The smallest value with at least q of the sample at or below it (q in [0, 1]; q = 1 is the
// maximum); 0 for an empty sample.
inline double NearestRankPercentile(std::vector<double> values, double q) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

}  // namespace churn::metrics

#endif  // CHURN_METRICS_PERCENTILE_H_
