// The registry's hot calls on SQLite and PostgreSQL: log-batch of 1,000 metrics, and a filtered,
// ordered search over 10,000 runs with 20 metrics each (the must-show), with the p50 and
// p99 latency of one call as counters. PostgreSQL runs when CHURN_BENCH_POSTGRES_URL (or
// CHURN_TEST_POSTGRES_URL) names a server: `scripts/services start postgres DIR` prints one.
//
//   build/release/bench/registry_bench --benchmark_min_time=2
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include <benchmark/benchmark.h>

#include "churn/base/file.h"
#include "churn/registry/registry.h"

namespace {

using churn::registry::Registry;

constexpr int kRuns = 10000;
constexpr int kMetricsPerRun = 20;

const char* PostgresUrl() {
  for (const char* name : {"CHURN_BENCH_POSTGRES_URL", "CHURN_TEST_POSTGRES_URL"}) {
    const char* url = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): before any thread
    if (url != nullptr && *url != '\0') {
      return url;
    }
  }
  return nullptr;
}

// One registry per backend for the whole process, in a temp dir (SQLite) or a fresh schema
// named after the process (PostgreSQL).
struct Fixture {
  churn::base::TempDir dir;
  std::unique_ptr<Registry> reg;
  std::string experiment;
  bool populated = false;
};

Fixture* Get(const std::string& backend) {
  static auto* const kFixtures = new std::map<std::string, std::unique_ptr<Fixture>>();
  auto& f = (*kFixtures)[backend];
  if (f) {
    return f.get();
  }
  f = std::make_unique<Fixture>();
  std::string url = "sqlite:" + (f->dir.Path() / "registry.db").string();
  if (backend == "postgres") {
    const char* base = PostgresUrl();
    if (base == nullptr) {
      return nullptr;
    }
    url = base;
  }
  auto reg = churn::registry::OpenRegistry(
      {.url = url, .artifact_store_uri = (f->dir.Path() / "objects").string()});
  if (!reg.ok()) {
    std::fprintf(stderr, "registry_bench: %s\n", reg.status().ToString().c_str());
    return nullptr;
  }
  f->reg = *std::move(reg);
  auto exp = f->reg->CreateExperiment(absl::StrCat("bench-", std::random_device()()), "", {});
  if (!exp.ok()) {
    return nullptr;
  }
  f->experiment = *exp;
  return f.get();
}

// 10,000 finished runs, each with 20 metrics, 5 params and 3 tags.
bool Populate(Fixture* f) {
  if (f->populated) {
    return true;
  }
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> auc(0.90, 1.0);
  for (int i = 0; i < kRuns; ++i) {
    auto run = f->reg->CreateRun({.experiment_id = f->experiment, .tags = {{"flow", "train"}}});
    if (!run.ok()) {
      return false;
    }
    std::vector<churn::registry::Metric> metrics;
    metrics.reserve(kMetricsPerRun);
    for (int m = 0; m < kMetricsPerRun; ++m) {
      metrics.push_back(
          {m == 0 ? "valid_auc" : absl::StrCat("m", m), auc(rng), 1764547200000 + i, 0});
    }
    const std::vector<churn::registry::Param> params = {{"max_depth", absl::StrCat(3 + i % 8)},
                                                        {"eta", absl::StrCat(0.01 * (1 + i % 30))},
                                                        {"subsample", "0.8"},
                                                        {"colsample_bytree", "0.8"},
                                                        {"max_bin", "256"}};
    if (!f->reg->LogBatch(run->info.run_id, metrics, params, {{"trial", absl::StrCat(i)}}).ok()) {
      return false;
    }
    (void)f->reg->UpdateRun({.run_id = run->info.run_id,
                             .status = churn::registry::RunStatus::kFinished,
                             .end_time = 1764547200000 + i + 1});
  }
  f->populated = true;
  return true;
}

void ReportPercentiles(benchmark::State& state, std::vector<double>& ms) {
  if (ms.empty()) {
    return;
  }
  std::sort(ms.begin(), ms.end());
  state.counters["p50_ms"] = ms[ms.size() / 2];
  state.counters["p99_ms"] = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
}

void BenchLogBatch1000Metrics(benchmark::State& state, const std::string& backend) {
  Fixture* f = Get(backend);
  if (f == nullptr) {
    state.SkipWithError("no PostgreSQL: set CHURN_BENCH_POSTGRES_URL");
    return;
  }
  auto run = f->reg->CreateRun({.experiment_id = f->experiment});
  std::vector<churn::registry::Metric> metrics;
  std::vector<double> ms;
  int64_t step = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    state.PauseTiming();
    metrics.clear();
    for (int i = 0; i < 1000; ++i) {
      metrics.push_back({absl::StrCat("m", i % 50), 0.5 + 1e-4 * i, 1764547200000 + step, step});
      step += i % 50 == 49 ? 1 : 0;
    }
    state.ResumeTiming();
    const auto start = std::chrono::steady_clock::now();
    if (!f->reg->LogBatch(run->info.run_id, metrics, {}, {}).ok()) {
      state.SkipWithError("log-batch failed");
      return;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  state.SetItemsProcessed(state.iterations() * 1000);
  ReportPercentiles(state, ms);
}

void BenchSearchRuns(benchmark::State& state, const std::string& backend, int64_t max_results) {
  Fixture* f = Get(backend);
  if (f == nullptr || !Populate(f)) {
    state.SkipWithError("no registry (PostgreSQL: set CHURN_BENCH_POSTGRES_URL)");
    return;
  }
  std::vector<double> ms;
  size_t found = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    const auto start = std::chrono::steady_clock::now();
    auto page = f->reg->SearchRuns(
        {.experiment_ids = {f->experiment},
         .filter = "metrics.valid_auc > 0.99 and params.max_depth = '6' and tags.flow = 'train'",
         .order_by = {"metrics.valid_auc DESC"},
         .max_results = max_results});
    if (!page.ok()) {
      state.SkipWithError(page.status().ToString().c_str());
      return;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
    found = page->items.size();
    benchmark::DoNotOptimize(page);
  }
  state.counters["runs_returned"] = static_cast<double>(found);
  ReportPercentiles(state, ms);
}

}  // namespace

BENCHMARK_CAPTURE(BenchLogBatch1000Metrics, sqlite, std::string("sqlite"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BenchSearchRuns, sqlite_max100, std::string("sqlite"), 100)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BenchSearchRuns, sqlite_max1000, std::string("sqlite"), 1000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BenchLogBatch1000Metrics, postgres, std::string("postgres"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BenchSearchRuns, postgres_max100, std::string("postgres"), 100)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BenchSearchRuns, postgres_max1000, std::string("postgres"), 1000)
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
