// File: churn/data/split.h
//
// Train/validation/test splits. StratifiedSplit keeps each class's share in every part (60/20/20
// by default) and is a pure function of (labels, options): the shuffle is our own Fisher-Yates
// over std::mt19937_64, whose output the C++ standard fixes, so a seed gives the same split with
// any standard library on any machine.
//
//   CHURN_ASSIGN_OR_RETURN(Split split, StratifiedSplit(labels, {.seed = 42}));
//   Table train = TakeRows(table, split.train);
#ifndef CHURN_DATA_SPLIT_H_
#define CHURN_DATA_SPLIT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

#include "churn/data/table.h"

namespace churn::data {

struct SplitOptions {
  double train_fraction = 0.6;
  double valid_fraction = 0.2;  // the test part gets the rest
  uint64_t seed = 42;
};

// Row indices of each part, ascending; together they are every row exactly once.
struct Split {
  std::vector<size_t> train{};
  std::vector<size_t> valid{};
  std::vector<size_t> test{};

  // A digest of the three index lists (16 hex digits), recorded with a study so a resumed or
  // repeated study can prove it trains on the same rows.
  std::string Fingerprint() const;
};

// Labels are 0/1. InvalidArgument for fractions outside (0, 1) or summing to 1 or more, a label
// that is not 0/1, or a class too small to put at least one row in every part.
absl::StatusOr<Split> StratifiedSplit(absl::Span<const float> labels, const SplitOptions& options);

// The rows of `table` at `rows`, in that order.
Table TakeRows(const Table& table, absl::Span<const size_t> rows);

// The same for a row-major matrix with `cols` columns.
std::vector<float> TakeRows(absl::Span<const float> matrix, size_t cols,
                            absl::Span<const size_t> rows);

}  // namespace churn::data

#endif  // CHURN_DATA_SPLIT_H_
