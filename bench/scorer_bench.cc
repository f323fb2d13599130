// The compiled tree scorer against XGBoost's own predictor, in one binary, on one model:
// trained here on synthetic data shaped like BankChurners (19 features, 300 rounds of depth 5,
// nthread=1), or the XGBoost JSON model in $CHURN_BENCH_MODEL (XGBoost then uses its default
// thread count). Both score the same rows, checked to agree first (VerifyAgainstXgboost): one
// row at a time (a /predict request), 10,000 at a time (/predict/batch), and the SHAP
// contributions of one row (for XGBoost including the one-row DMatrix it needs). per_row is the
// CPU time per row. OMP_WAIT_POLICY=passive keeps XGBoost's idle OpenMP threads from spinning on
// the cores the benchmark runs on.
//
//   cmake --preset release -B build/rel -DCHURN_BUILD_BENCH=ON
//   cmake --build build/rel --target scorer_bench
//   OMP_WAIT_POLICY=passive build/rel/bench/scorer_bench --benchmark_repetitions=5
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "churn/base/file.h"
#include "churn/base/status_macros.h"
#include "churn/model/scorer.h"
#include "churn/model/xgboost.h"

namespace churn::model {
namespace {

constexpr size_t kFeatures = 19;
constexpr size_t kRows = 10000;

// A churn-like feature value from a standard normal draw: counts, indicators, continuous.
float FeatureValue(size_t column, float z) {
  if (column % 3 == 0) {
    return std::round(3.0F + 2.0F * z);
  }
  if (column % 5 == 4) {
    return z > 0.5F ? 1.0F : 0.0F;
  }
  return z;
}

// Rows like the churn features, ~5% missing; labels (when wanted) from a logistic model.
std::vector<float> MakeRows(size_t rows, size_t cols, uint32_t seed, std::vector<float>* labels) {
  if (cols == 0) {
    return {};
  }
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform(0.0F, 1.0F);
  std::vector<float> x(rows * cols);
  for (size_t r = 0; r < rows; ++r) {
    float* row = &x[r * cols];
    for (size_t c = 0; c < cols; ++c) {
      row[c] = FeatureValue(c, normal(rng));
    }
    const double logit = -1.5 + 1.2 * row[1 % cols] - 0.8 * row[2 % cols] +
                         0.5 * row[3 % cols] * row[4 % cols] + 0.3 * std::sin(3.0 * row[5 % cols]);
    const float label = uniform(rng) < 1.0 / (1.0 + std::exp(-logit)) ? 1.0F : 0.0F;
    if (labels != nullptr) {
      labels->push_back(label);
    }
    for (size_t c = 0; c < cols; ++c) {
      row[c] = uniform(rng) < 0.05F ? std::numeric_limits<float>::quiet_NaN() : row[c];
    }
  }
  return x;
}

struct Setup {
  Booster booster;
  std::unique_ptr<CompiledModel> compiled;
  std::vector<float> rows;  // kRows x NumFeatures()
  size_t cols = 0;
};

absl::StatusOr<Booster> TrainModel() {
  constexpr size_t kTrainRows = 20000;
  std::vector<float> labels;
  const std::vector<float> x = MakeRows(kTrainRows, kFeatures, 1, &labels);
  CHURN_ASSIGN_OR_RETURN(const DMatrix train, DMatrix::FromDense(x, kTrainRows, kFeatures, labels));
  CHURN_ASSIGN_OR_RETURN(const DMatrix valid, DMatrix::FromDense(x, kTrainRows, kFeatures, labels));
  CHURN_ASSIGN_OR_RETURN(TrainResult result, Train({.params = {{"max_depth", "5"}, {"eta", "0.05"}},
                                                    .max_rounds = 300,
                                                    .early_stopping_rounds = 0},
                                                   train, valid));
  return std::move(result.booster);
}

absl::StatusOr<Booster> LoadOrTrain() {
  const char* path = std::getenv("CHURN_BENCH_MODEL");  // NOLINT(concurrency-mt-unsafe): 1 thread
  if (path == nullptr || *path == '\0') {
    return TrainModel();
  }
  CHURN_ASSIGN_OR_RETURN(const std::string bytes, base::ReadFile(path));
  return Booster::Load(bytes);
}

absl::StatusOr<std::unique_ptr<Setup>> MakeSetup() {
  auto s = std::make_unique<Setup>();
  CHURN_ASSIGN_OR_RETURN(s->booster, LoadOrTrain());
  CHURN_ASSIGN_OR_RETURN(const std::string json, s->booster.SaveJson());
  CHURN_ASSIGN_OR_RETURN(CompiledModel compiled, CompiledModel::FromXgboostJson(json));
  s->compiled = std::make_unique<CompiledModel>(std::move(compiled));
  s->cols = s->compiled->NumFeatures();
  s->rows = MakeRows(kRows, s->cols, 2, nullptr);
  CHURN_RETURN_IF_ERROR(VerifyAgainstXgboost(*s->compiled, s->booster, s->rows, kRows));
  std::fprintf(stderr, "scorer_bench: %zu features, %zu trees, %zu nodes, depth %zu\n", s->cols,
               s->compiled->NumTrees(), s->compiled->NumNodes(), s->compiled->MaxDepth());
  return s;
}

// The shared setup, made once; nullptr (the benchmark skipped with the error) when it failed.
const Setup* Get(benchmark::State& state) {
  static const auto* const kSetup = new absl::StatusOr<std::unique_ptr<Setup>>(MakeSetup());
  if (!kSetup->ok()) {
    state.SkipWithError(kSetup->status().ToString().c_str());
    return nullptr;
  }
  return kSetup->value().get();
}

absl::Span<const float> Row(const Setup& s, size_t i) {
  return absl::MakeConstSpan(s.rows).subspan((i % kRows) * s.cols, s.cols);
}

void PerRow(benchmark::State& state, size_t rows) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows));
  state.counters["per_row"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate |
                                                        benchmark::Counter::kInvert);
}

void BenchCompiledPredictOneRow(benchmark::State& state) {
  const Setup* s = Get(state);
  if (s == nullptr) {
    return;
  }
  size_t i = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    benchmark::DoNotOptimize(s->compiled->Predict(Row(*s, i++)));
  }
  PerRow(state, 1);
}

BENCHMARK(BenchCompiledPredictOneRow);

void BenchXgboostPredictOneRow(benchmark::State& state) {
  const Setup* s = Get(state);
  if (s == nullptr) {
    return;
  }
  size_t i = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    auto p = s->booster.PredictDense(Row(*s, i++), 1, s->cols);
    benchmark::DoNotOptimize(p);
  }
  PerRow(state, 1);
}

BENCHMARK(BenchXgboostPredictOneRow);

void BenchCompiledPredictBatch(benchmark::State& state) {
  const Setup* s = Get(state);
  if (s == nullptr) {
    return;
  }
  std::vector<float> out(kRows);
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    s->compiled->PredictBatch(s->rows, kRows, absl::MakeSpan(out));
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  PerRow(state, kRows);
}

BENCHMARK(BenchCompiledPredictBatch)->Unit(benchmark::kMillisecond);

void BenchXgboostPredictBatch(benchmark::State& state) {
  const Setup* s = Get(state);
  if (s == nullptr) {
    return;
  }
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    auto p = s->booster.PredictDense(s->rows, kRows, s->cols);
    benchmark::DoNotOptimize(p);
  }
  PerRow(state, kRows);
}

BENCHMARK(BenchXgboostPredictBatch)->Unit(benchmark::kMillisecond);

void BenchCompiledContributionsOneRow(benchmark::State& state) {
  const Setup* s = Get(state);
  if (s == nullptr) {
    return;
  }
  std::vector<float> out(s->cols + 1);
  size_t i = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    s->compiled->Contributions(Row(*s, i++), absl::MakeSpan(out));
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  PerRow(state, 1);
}

BENCHMARK(BenchCompiledContributionsOneRow);

// What serving one explanation with XGBoost costs: a one-row DMatrix, then pred_contribs.
void BenchXgboostContributionsOneRow(benchmark::State& state) {
  const Setup* s = Get(state);
  if (s == nullptr) {
    return;
  }
  size_t i = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    auto m = DMatrix::FromDense(Row(*s, i++), 1, s->cols, {});
    if (!m.ok()) {
      state.SkipWithError(m.status().ToString().c_str());
      return;
    }
    auto c = s->booster.Contributions(*m);
    benchmark::DoNotOptimize(c);
  }
  PerRow(state, 1);
}

BENCHMARK(BenchXgboostContributionsOneRow);

}  // namespace
}  // namespace churn::model

BENCHMARK_MAIN();
