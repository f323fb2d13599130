// churn data synth: write a synthetic BankChurners-shaped CSV.
#include "cli/commands.h"

#include "churn/base/file.h"
#include "churn/base/status_macros.h"
#include "churn/data/synth.h"

namespace churn::cli {

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
}

}  // namespace churn::cli
