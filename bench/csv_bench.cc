// Throughput of the CSV reader on synthetic BankChurners data: the byte checks, the bare RFC 4180
// parser, and the full schema-validated read into a typed table. Run: build/release/bench/csv_bench
#include <cstdlib>
#include <filesystem>

#include <benchmark/benchmark.h>

#include "churn/data/csv.h"
#include "churn/data/csv_table.h"
#include "churn/data/schema.h"
#include "churn/data/synth.h"

namespace {

const std::string& Data() {
  static const auto* const kCsv = [] {
    churn::data::SynthOptions options;
    options.rows = 100000;
    return new std::string(*churn::data::GenerateSynthCsv(options));
  }();
  return *kCsv;
}

const churn::data::Schema& BankChurners() {
  static const auto* const kSchema = [] {
    const std::filesystem::path here(__FILE__);
    auto s = churn::data::LoadSchemaFile(
        (here.parent_path().parent_path() / "configs" / "bank_churners.yaml").string());
    if (!s.ok()) {
      std::abort();
    }
    return new churn::data::Schema(*s);
  }();
  return *kSchema;
}

void BenchCheckCsvBytes(benchmark::State& state) {
  const std::string& csv = Data();
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    benchmark::DoNotOptimize(churn::data::CheckCsvBytes(csv, {}));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * csv.size()));
}

BENCHMARK(BenchCheckCsvBytes)->Unit(benchmark::kMillisecond);

void BenchParseRecords(benchmark::State& state) {
  const std::string& csv = Data();
  std::vector<absl::string_view> fields;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    churn::data::CsvParser parser(csv, {});
    int64_t records = 0;
    while (*parser.Next(&fields)) {
      ++records;
    }
    benchmark::DoNotOptimize(records);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * csv.size()));
}

BENCHMARK(BenchParseRecords)->Unit(benchmark::kMillisecond);

void BenchReadCsvTable(benchmark::State& state) {
  const std::string& csv = Data();
  int64_t rows = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    auto result = churn::data::ReadCsvTable(csv, BankChurners(), {});
    rows = static_cast<int64_t>(result->table.NumRows());
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * csv.size()));
  state.SetItemsProcessed(state.iterations() * rows);
}

BENCHMARK(BenchReadCsvTable)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
