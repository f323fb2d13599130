// Drift over the 19 BankChurners features (issue 7): Evidently's tests on two tables
// (CompareTables, the offline `churn drift` path) and on the live monitor's windows
// (DriftMonitor::Compute: RunTest on the reference's expanded values per column), the cost of
// DriftMonitor::Observe per prediction (with and without ids, one and two threads), and the
// memory a monitor's windows take. bench/drift_vs_evidently.py runs it side by side with SciPy
// doing what Evidently does, on the same synthetic rows (`churn data synth --seed 1` reference,
// `--seed 2` current).
//
//   build/release/bench/drift_bench [--scores_out=FILE] [benchmark flags]
//
// --scores_out writes the per-column tests and scores of CompareTables for 10,000 x 10,000 and
// 1,000 x 1,000 rows as JSON lines, for the script to check the baseline against.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include <benchmark/benchmark.h>

#include "churn/data/csv_table.h"
#include "churn/data/schema.h"
#include "churn/data/synth.h"
#include "churn/data/table.h"
#include "churn/drift/monitor.h"
#include "churn/drift/reference.h"
#include "churn/drift/report.h"
#include "churn/drift/stats.h"

namespace {

using churn::drift::ColumnKind;
using churn::drift::DriftMonitor;
using churn::drift::MonitoredFeature;
using churn::drift::MonitorOptions;
using churn::drift::ReferenceProfile;

// The script generates its CSVs with these seeds: the same bytes (GenerateSynthCsv is
// deterministic).
constexpr uint64_t kReferenceSeed = 1;
constexpr uint64_t kCurrentSeed = 2;
const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "drift_bench: %s\n", what.c_str());
  std::abort();
}

const churn::data::Schema& BankChurners() {
  static const auto* const kSchema = [] {
    const std::filesystem::path here(__FILE__);
    auto s = churn::data::LoadSchemaFile(
        (here.parent_path().parent_path() / "configs" / "bank_churners.yaml").string());
    if (!s.ok()) {
      Die(s.status().ToString());
    }
    return new churn::data::Schema(*s);
  }();
  return *kSchema;
}

churn::data::Table Synth(int64_t rows, uint64_t seed) {
  const absl::StatusOr<std::string> csv =
      churn::data::GenerateSynthCsv({.rows = rows, .seed = seed});
  if (!csv.ok()) {
    Die(csv.status().ToString());
  }
  absl::StatusOr<churn::data::ReadTableResult> read =
      churn::data::ReadCsvTable(*csv, BankChurners(), {});
  if (!read.ok()) {
    Die(read.status().ToString());
  }
  return std::move(read->table);
}

// Tables by (rows, seed), made once.
const churn::data::Table& TableOf(int64_t rows, uint64_t seed) {
  static auto* const kTables = new std::map<std::pair<int64_t, uint64_t>, churn::data::Table>();
  auto it = kTables->find({rows, seed});
  if (it == kTables->end()) {
    it = kTables->emplace(std::pair{rows, seed}, Synth(rows, seed)).first;
  }
  return it->second;
}

// --- The monitor's view of a table: as tests/drift/drift_fixture.h and monitor_test.cc --------

std::vector<MonitoredFeature> FeaturesOf(const churn::data::Schema& schema) {
  std::vector<MonitoredFeature> out;
  for (const churn::data::ColumnSpec* spec : schema.Features()) {
    const bool categorical = spec->type == churn::data::ColumnType::kCategorical;
    out.push_back({.name = spec->name,
                   .kind = categorical ? ColumnKind::kCategorical : ColumnKind::kNumeric,
                   .index = out.size(),
                   .levels = categorical ? spec->levels : std::vector<std::string>{}});
  }
  return out;
}

// Row-major, one float per feature (categories as their codes, NaN when missing).
std::vector<float> MatrixOf(const churn::data::Table& table) {
  const std::vector<const churn::data::ColumnSpec*> features = BankChurners().Features();
  std::vector<float> out(table.NumRows() * features.size());
  for (size_t c = 0; c < features.size(); ++c) {
    const churn::data::Column* column = table.Find(features[c]->name);
    for (size_t r = 0; r < table.NumRows(); ++r) {
      out[r * features.size() + c] = column == nullptr || column->IsMissing(r)
                                         ? std::nanf("")
                                         : static_cast<float>(column->AsDouble(r));
    }
  }
  return out;
}

// A probability that follows the rows (a logistic function of the transaction count).
std::vector<float> ScoresOf(const churn::data::Table& table) {
  const churn::data::Column* ct = table.Find("Total_Trans_Ct");
  std::vector<float> out(table.NumRows());
  for (size_t r = 0; r < out.size(); ++r) {
    out[r] = static_cast<float>(1.0 / (1.0 + std::exp((ct->AsDouble(r) - 55.0) / 8.0)));
  }
  return out;
}

std::vector<float> LabelsOf(const churn::data::Table& table) {
  const churn::data::Column* y = table.Find("Attrition_Flag");
  std::vector<float> out(table.NumRows());
  for (size_t r = 0; r < out.size(); ++r) {
    out[r] = y->spec.levels[static_cast<size_t>(y->codes[r])] == "Attrited Customer" ? 1.0f : 0.0f;
  }
  return out;
}

std::shared_ptr<const ReferenceProfile> ReferenceOf(int64_t rows) {
  const churn::data::Table& table = TableOf(rows, kReferenceSeed);
  const std::vector<float> matrix = MatrixOf(table);
  const std::vector<float> scores = ScoresOf(table);
  const std::vector<float> labels = LabelsOf(table);
  const std::vector<MonitoredFeature> features = FeaturesOf(BankChurners());
  absl::StatusOr<ReferenceProfile> ref = churn::drift::BuildReference({.features = features,
                                                                       .matrix = matrix,
                                                                       .width = features.size(),
                                                                       .scores = scores,
                                                                       .labels = labels,
                                                                       .decision_threshold = 0.5});
  if (!ref.ok()) {
    Die(ref.status().ToString());
  }
  return std::make_shared<const ReferenceProfile>(*std::move(ref));
}

// Feeds the current table, one prediction per row, `step` apart.
void Feed(DriftMonitor& monitor, const churn::data::Table& table, absl::Duration step) {
  const std::vector<float> matrix = MatrixOf(table);
  const std::vector<float> scores = ScoresOf(table);
  const size_t width = BankChurners().Features().size();
  for (size_t r = 0; r < table.NumRows(); ++r) {
    monitor.Observe(absl::MakeConstSpan(&matrix[r * width], width), scores[r], "", "",
                    kStart + step * static_cast<double>(r));
  }
}

// Bytes malloc has handed out and not had back (small chunks and mmapped ones).
int64_t HeapBytes() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<int64_t>(m.uordblks + m.hblkhd);
}

// Resident set size, from /proc/self/statm.
int64_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0;
  int64_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

// --- 1. Drift over 19 features -----------------------------------------------------------------

// Args: rows of each side. The offline path: two tables, every feature column, Evidently's choice.
void BenchCompareTables(benchmark::State& state) {
  const auto rows = static_cast<int64_t>(state.range(0));
  const churn::data::Table& reference = TableOf(rows, kReferenceSeed);
  const churn::data::Table& current = TableOf(rows, kCurrentSeed);
  size_t drifted = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    absl::StatusOr<churn::drift::DatasetReport> r =
        churn::drift::CompareTables(BankChurners(), reference, current, {});
    if (!r.ok()) {
      Die(r.status().ToString());
    }
    drifted = r->dataset.drifted_columns;
    benchmark::DoNotOptimize(r);
  }
  state.counters["columns"] = static_cast<double>(BankChurners().Features().size());
  state.counters["drifted"] = static_cast<double>(drifted);
}

BENCHMARK(BenchCompareTables)->Arg(10000)->Arg(1000)->Unit(benchmark::kMillisecond);

// The monitor's per-column work, without the monitor around it: RunTest on the reference's
// expanded values (sorted ascending) against the current window's values, with the test and
// threshold the reference chose, for the 19 features (not the prediction column).
void BenchMonitorRunTests(benchmark::State& state) {
  const auto rows = static_cast<int64_t>(state.range(0));
  const std::shared_ptr<const ReferenceProfile> ref = ReferenceOf(rows);
  const std::vector<float> matrix = MatrixOf(TableOf(rows, kCurrentSeed));
  const size_t width = ref->columns.size();
  std::vector<std::vector<double>> expanded;
  std::vector<std::vector<double>> current(width);
  for (size_t c = 0; c < width; ++c) {
    expanded.push_back(ref->columns[c].Expanded());
    for (size_t r = 0; r < matrix.size() / width; ++r) {
      if (!std::isnan(matrix[r * width + c])) {
        current[c].push_back(matrix[r * width + c]);
      }
    }
  }
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    for (size_t c = 0; c < width; ++c) {
      const churn::drift::ReferenceColumn& column = ref->columns[c];
      benchmark::DoNotOptimize(churn::drift::RunTest(
          expanded[c], current[c], {.test = column.test, .threshold = column.threshold}));
    }
  }
  state.counters["columns"] = static_cast<double>(width);
}

BENCHMARK(BenchMonitorRunTests)->Arg(10000)->Arg(1000)->Unit(benchmark::kMillisecond);

// DriftMonitor::Compute with the count window holding `rows` rows against a reference of `rows`
// rows. time_window 0: a time window too small to compute (30 rows kept), so Compute is the count
// window (19 features + the prediction column + CBPE); 1: the time window holds the same rows
// too (rows spread over the 5 minutes), two windows' work.
void BenchMonitorCompute(benchmark::State& state) {
  const auto rows = static_cast<int64_t>(state.range(0));
  const bool time_window = state.range(1) != 0;
  MonitorOptions options{.count_rows = static_cast<size_t>(rows)};
  if (!time_window) {
    options.time_max_rows = static_cast<size_t>(options.time_buckets);
  }
  DriftMonitor monitor(ReferenceOf(rows), options);
  const absl::Duration step = options.time_span / static_cast<double>(rows + 1);
  Feed(monitor, TableOf(rows, kCurrentSeed), step);
  const absl::Time now = kStart + step * static_cast<double>(rows);
  size_t windows = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    const churn::drift::MonitorReport r = monitor.Compute(now);
    windows = 0;
    for (const churn::drift::WindowReport& w : r.windows) {
      windows += w.computed ? 1 : 0;
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["windows_computed"] = static_cast<double>(windows);
}

BENCHMARK(BenchMonitorCompute)
    ->Args({10000, 0})
    ->Args({10000, 1})
    ->Args({1000, 0})
    ->Unit(benchmark::kMillisecond);

// The live default: a 10,000-row reference, the default options (count window 1,000, time window
// 5 minutes of up to 30,000 rows), both windows full (30,000 predictions over 5 minutes).
void BenchMonitorComputeDefaults(benchmark::State& state) {
  DriftMonitor monitor(ReferenceOf(10000), {});
  const churn::data::Table& current = TableOf(30000, kCurrentSeed);
  const absl::Duration step = absl::Minutes(5) / 30001.0;
  Feed(monitor, current, step);
  const absl::Time now = kStart + step * 30000.0;
  size_t time_rows = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    const churn::drift::MonitorReport r = monitor.Compute(now);
    time_rows = r.windows[1].rows;
    benchmark::DoNotOptimize(r);
  }
  state.counters["time_window_rows"] = static_cast<double>(time_rows);
}

BENCHMARK(BenchMonitorComputeDefaults)->Unit(benchmark::kMillisecond);

// One column, the KS case: a continuous column of 1,000 x 1,000 (exact p-value) and, for scale,
// 10,000 x 10,000 (SciPy's method="auto" is still exact at 10,000). The iterations go round 8
// pairs of samples (seeds 1 and 2, 3 and 4, ...): sorting the very same 1,000 values over and
// over lets the branch predictor learn them, which flatters comparison sorts several-fold.
void BenchKsTwoSample(benchmark::State& state) {
  const auto rows = static_cast<int64_t>(state.range(0));
  constexpr uint64_t kPairs = 8;
  std::vector<std::pair<std::vector<double>, std::vector<double>>> samples;
  for (uint64_t k = 0; k < kPairs; ++k) {
    samples.emplace_back(
        churn::drift::NumericValues(*TableOf(rows, kReferenceSeed + 2 * k).Find("Total_Trans_Amt")),
        churn::drift::NumericValues(*TableOf(rows, kCurrentSeed + 2 * k).Find("Total_Trans_Amt")));
  }
  size_t i = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    const auto& [a, b] = samples[i++ % kPairs];
    benchmark::DoNotOptimize(churn::drift::KsTwoSample(a, b));
  }
}

BENCHMARK(BenchKsTwoSample)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

// --- 2. Observe per prediction -------------------------------------------------------------

struct ObserveInput {
  std::vector<float> matrix;
  std::vector<float> scores;
  std::vector<std::string> request_ids;
  std::vector<std::string> customer_ids;
  size_t width = 0;
  size_t rows = 0;
};

const ObserveInput& Traffic() {
  static const auto* const kInput = [] {
    auto* in = new ObserveInput;
    const churn::data::Table& table = TableOf(10000, kCurrentSeed);
    in->matrix = MatrixOf(table);
    in->scores = ScoresOf(table);
    in->width = BankChurners().Features().size();
    in->rows = table.NumRows();
    // Ids like the server's: a request id per prediction (more distinct ones than label_lookup
    // remembers, so the maps evict), a customer id from a population of 50,000.
    for (int i = 0; i < 250000; ++i) {
      in->request_ids.push_back(absl::StrCat("req-6f1c2a9e-", 100000000 + i));
      in->customer_ids.push_back(absl::StrCat(700000000 + (i * 7919) % 50000));
    }
    return in;
  }();
  return *kInput;
}

DriftMonitor& SharedMonitor() {
  static auto* const kMonitor = new DriftMonitor(ReferenceOf(10000), {});
  return *kMonitor;
}

// Arg: 1 with a request id and a customer id, 0 without (the monitor then remembers nothing).
// Predictions 100 µs apart (10,000 a second: the buckets turn over and the reservoirs replace).
void BenchObserve(benchmark::State& state) {
  const ObserveInput& in = Traffic();
  const bool ids = state.range(0) != 0;
  DriftMonitor& monitor = SharedMonitor();
  auto i = static_cast<size_t>(state.thread_index()) * 7777;
  absl::Time now = kStart + absl::Hours(state.thread_index());
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    const size_t r = i % in.rows;
    const size_t id = i % in.request_ids.size();
    monitor.Observe(absl::MakeConstSpan(&in.matrix[r * in.width], in.width), in.scores[r],
                    ids ? absl::string_view(in.request_ids[id]) : absl::string_view(),
                    ids ? absl::string_view(in.customer_ids[id]) : absl::string_view(), now);
    now += absl::Microseconds(100);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BenchObserve)->Arg(0)->Arg(1)->Threads(1)->Threads(2)->UseRealTime();

// --- 3. Memory ---------------------------------------------------------------------------------

// CapacityBytes (the bound the monitor states) against what a monitor really takes once every
// window and id map is full: the heap bytes it adds (mallinfo2) and the RSS growth (valid for the
// first monitor of a process only: run one configuration per process). Args: count_rows, time
// span in seconds; the rest the defaults (30 buckets, 30,000 time rows, 100,000 ids remembered).
// 1000, 300 are the defaults.
void BenchMonitorMemory(benchmark::State& state) {
  const ObserveInput& in = Traffic();
  const std::shared_ptr<const ReferenceProfile> ref = ReferenceOf(10000);
  MonitorOptions options{.count_rows = static_cast<size_t>(state.range(0)),
                         .time_span = absl::Seconds(static_cast<double>(state.range(1)))};
  size_t capacity = 0;
  int64_t growth = 0;
  int64_t heap = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    const int64_t heap_before = HeapBytes();
    const int64_t before = RssBytes();
    auto monitor = std::make_unique<DriftMonitor>(ref, options);
    // Enough predictions, spread over the span, to fill every bucket's reservoir, the count ring
    // and the id maps (label_lookup of them).
    const size_t n =
        std::max({options.time_max_rows * 2, options.label_lookup + 1, options.count_rows});
    const absl::Duration step = options.time_span / static_cast<double>(n);
    for (size_t k = 0; k < n; ++k) {
      const size_t r = k % in.rows;
      const size_t id = k % in.request_ids.size();
      monitor->Observe(absl::MakeConstSpan(&in.matrix[r * in.width], in.width), in.scores[r],
                       in.request_ids[id], in.customer_ids[id],
                       kStart + step * static_cast<double>(k));
    }
    growth = RssBytes() - before;
    heap = HeapBytes() - heap_before;
    capacity = monitor->CapacityBytes();
    benchmark::DoNotOptimize(monitor);
  }
  state.counters["capacity_MiB"] = static_cast<double>(capacity) / (1 << 20);
  state.counters["heap_MiB"] = static_cast<double>(heap) / (1 << 20);
  // Only meaningful for the first monitor of a process: later ones reuse freed pages.
  state.counters["rss_growth_MiB"] = static_cast<double>(growth) / (1 << 20);
}

BENCHMARK(BenchMonitorMemory)
    ->Args({1000, 300})
    ->Args({10000, 300})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// --- The scores, for the baseline to check -----------------------------------------------------

void WriteScores(const std::string& path) {
  std::ofstream out(path);
  for (const int64_t rows : {10000, 1000}) {
    absl::StatusOr<churn::drift::DatasetReport> r = churn::drift::CompareTables(
        BankChurners(), TableOf(rows, kReferenceSeed), TableOf(rows, kCurrentSeed), {});
    if (!r.ok()) {
      Die(r.status().ToString());
    }
    for (const churn::drift::ColumnReport& c : r->columns) {
      out << absl::StrFormat(R"({"rows":%d,"column":"%s","test":"%s","score":%.17g})", rows,
                             c.column, c.result.test_name, c.result.score)
          << "\n";
    }
  }
  if (!out) {
    Die(absl::StrCat("cannot write ", path));
  }
}

}  // namespace

int main(int argc, char** argv) {
  constexpr absl::string_view kScoresFlag = "--scores_out=";
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    const absl::string_view arg(argv[i]);
    if (absl::StartsWith(arg, kScoresFlag)) {
      WriteScores(std::string(arg.substr(kScoresFlag.size())));
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
