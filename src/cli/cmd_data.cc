// churn data synth: write a synthetic BankChurners-shaped CSV.
// churn data validate: check a CSV against a schema without ingesting it.
#include "cli/commands.h"
#include "nlohmann/json.hpp"

#include "churn/base/file.h"
#include "churn/base/status_macros.h"
#include "churn/data/csv_table.h"
#include "churn/data/synth.h"
#include "churn/features/feature_store.h"

namespace churn::cli {

namespace {

struct ValidateArgs {
  std::string source;
  std::string schema;
  std::string dataset = "bank_churners";
  bool json = false;
};

absl::Status Validate(const base::Config& config, const ValidateArgs& args) {
  CHURN_ASSIGN_OR_RETURN(const data::Schema schema, args.schema.empty()
                                                        ? features::BuiltinSchema(args.dataset)
                                                        : data::LoadSchemaFile(args.schema));
  CHURN_ASSIGN_OR_RETURN(const base::UriBytes bytes, base::ReadUri(args.source, config.s3));
  data::ReadTableOptions options;
  options.csv.max_record_bytes = config.max_record_bytes;
  options.max_reported = config.max_reported_violations;
  auto result = data::ReadCsvTable(bytes.View(), schema, options);
  if (!result.ok()) {
    return base::WithContext(result.status(), args.source);
  }
  const data::ValidationReport& r = result->report;
  if (args.json) {
    const nlohmann::ordered_json out = {
        {"source", args.source},           {"schema", schema.name},
        {"rows_read", r.rows_read},        {"rows_accepted", r.rows_accepted},
        {"rows_dropped", r.rows_dropped},  {"cells_set_missing", r.cells_set_missing},
        {"violations", r.violations_total}};
    Print(out.dump(2) + "\n");
  } else {
    Print(absl::StrCat(args.source, ": valid under schema '", schema.name, "': ", r.ToString(),
                       "\n"));
  }
  return absl::OkStatus();
}

}  // namespace

void AddDataCommand(CLI::App& app, Context& ctx) {
  CLI::App* data = app.add_subcommand("data", "Work with data files");
  data->require_subcommand(1);
  CLI::App* synth =
      data->add_subcommand("synth", "Write a synthetic BankChurners-shaped CSV (deterministic)");

  struct Args {
    int64_t rows = 10000;
    uint64_t seed = 42;
    std::string out;
    std::vector<std::string> drift;
    bool no_label = false;
  };

  auto args = std::make_shared<Args>();
  synth->add_option("--rows", args->rows, "Number of rows")->capture_default_str();
  synth->add_option("--seed", args->seed, "PRNG seed")->capture_default_str();
  synth->add_option("--out", args->out, "Output file ('-' for stdout)")->required();
  synth->add_option("--drift", args->drift,
                    "Drift scenario, repeatable: shift:COL=AMOUNT, scale:COL=FACTOR, "
                    "mix:COL=LEVEL:W,LEVEL:W");
  synth->add_flag("--no-label", args->no_label, "Leave out the label column (simulator traffic)");
  synth->callback([&ctx, args] {
    ctx.action = [args]() -> absl::Status {
      data::SynthOptions options{.rows = args->rows, .seed = args->seed};
      options.with_label = !args->no_label;
      for (const auto& spec : args->drift) {
        CHURN_ASSIGN_OR_RETURN(data::SynthDrift drift, data::ParseSynthDrift(spec));
        options.drift.push_back(std::move(drift));
      }
      CHURN_ASSIGN_OR_RETURN(const std::string csv, data::GenerateSynthCsv(options));
      if (args->out == "-") {
        Print(csv);
        return absl::OkStatus();
      }
      CHURN_RETURN_IF_ERROR(base::WriteFileAtomic(args->out, csv));
      Print(absl::StrCat("wrote ", WithCommas(static_cast<uint64_t>(args->rows)), " rows (",
                         WithCommas(csv.size()), " bytes) to ", args->out, "\n"));
      return absl::OkStatus();
    };
  });
  auto vargs = std::make_shared<ValidateArgs>();
  CLI::App* validate = data->add_subcommand(
      "validate", "Check a CSV (path or s3://bucket/key) against a schema; writes nothing");
  validate->add_option("source", vargs->source, "CSV file or s3://bucket/key")->required();
  validate->add_option("--schema", vargs->schema, "Schema YAML (default: the built-in one)");
  validate->add_option("--dataset", vargs->dataset, "Built-in schema to use without --schema")
      ->capture_default_str();
  validate->add_flag("--json", vargs->json, "Print the report as JSON");
  validate->callback(
      [&ctx, vargs] { ctx.action = [&ctx, vargs] { return Validate(ctx.config, *vargs); }; });
}

}  // namespace churn::cli
