#include "churn/data/split.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"

#include "churn/base/sha256.h"

namespace churn::data {
namespace {

// A uniform integer in [0, n) by rejection over mt19937_64's fully specified output (the
// distributions of <random> are implementation-defined, so they would tie a seed's split to
// one standard library).
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x = 0;
  do {
    x = rng();
  } while (x >= limit);
  return x % n;
}

void Shuffle(std::vector<size_t>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) {
    std::swap(v[i - 1], v[UniformBelow(rng, i)]);
  }
}

template <typename T>
void AppendRows(const std::vector<T>& from, absl::Span<const size_t> rows, std::vector<T>* to) {
  if (from.empty()) {
    return;
  }
  to->reserve(rows.size());
  for (const size_t r : rows) {
    to->push_back(from[r]);
  }
}

}  // namespace

std::string Split::Fingerprint() const {
  base::Sha256 hash;
  for (const std::vector<size_t>* part : {&train, &valid, &test}) {
    hash.Update(absl::StrCat(part->size(), ":"));
    for (const size_t r : *part) {
      hash.Update(absl::StrCat(r, ","));
    }
  }
  return hash.FinishHex().substr(0, 16);
}

absl::StatusOr<Split> StratifiedSplit(absl::Span<const float> labels, const SplitOptions& options) {
  const double train = options.train_fraction;
  const double valid = options.valid_fraction;
  if (!(train > 0 && train < 1) || !(valid > 0 && valid < 1) || !(train + valid < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("split fractions must be in (0, 1) and leave a test part: train ", train,
                     ", valid ", valid));
  }
  std::vector<size_t> by_class[2];
  for (size_t r = 0; r < labels.size(); ++r) {
    if (labels[r] != 0.0F && labels[r] != 1.0F) {
      return absl::InvalidArgumentError(
          absl::StrCat("label of row ", r, " is ", labels[r], ", not 0 or 1"));
    }
    by_class[labels[r] == 1.0F ? 1 : 0].push_back(r);
  }
  std::mt19937_64 rng(options.seed);
  Split split;
  for (int c = 0; c < 2; ++c) {
    std::vector<size_t>& rows = by_class[c];
    const auto n = static_cast<double>(rows.size());
    const auto n_train = static_cast<size_t>(std::llround(n * train));
    const auto n_valid = static_cast<size_t>(std::llround(n * valid));
    if (n_train == 0 || n_valid == 0 || n_train + n_valid >= rows.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "class ", c, " has ", rows.size(), " rows: too few to stratify into three parts"));
    }
    Shuffle(rows, rng);
    const auto mid = rows.begin() + static_cast<std::ptrdiff_t>(n_train);
    const auto end_valid = mid + static_cast<std::ptrdiff_t>(n_valid);
    split.train.insert(split.train.end(), rows.begin(), mid);
    split.valid.insert(split.valid.end(), mid, end_valid);
    split.test.insert(split.test.end(), end_valid, rows.end());
  }
  for (std::vector<size_t>* part : {&split.train, &split.valid, &split.test}) {
    std::sort(part->begin(), part->end());
  }
  return split;
}

Table TakeRows(const Table& table, absl::Span<const size_t> rows) {
  Table out;
  for (const Column& from : table.Columns()) {
    Column column;
    column.spec = from.spec;
    AppendRows(from.ints, rows, &column.ints);
    AppendRows(from.floats, rows, &column.floats);
    AppendRows(from.codes, rows, &column.codes);
    AppendRows(from.strings, rows, &column.strings);
    AppendRows(from.missing, rows, &column.missing);
    out.MutableColumns().push_back(std::move(column));
  }
  out.SetNumRows(rows.size());
  return out;
}

std::vector<float> TakeRows(absl::Span<const float> matrix, size_t cols,
                            absl::Span<const size_t> rows) {
  std::vector<float> out;
  out.reserve(rows.size() * cols);
  for (const size_t r : rows) {
    const auto* const begin = matrix.begin() + static_cast<std::ptrdiff_t>(r * cols);
    out.insert(out.end(), begin, begin + static_cast<std::ptrdiff_t>(cols));
  }
  return out;
}

}  // namespace churn::data
