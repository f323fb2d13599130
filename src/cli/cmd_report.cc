// churn report [--since T] [--until T] [--model REF] [--out DIR] [--json]: the report flow now
// (flows/report_flow.h): one window of the prediction log against the model's drift reference
// and the window before it, as an HTML page in the reports folder, and the folder's index
// rewritten. Drift is a result, not a failure: exit 0 either way; 2 for bad arguments or an
// empty window (nothing is written then).
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands.h"

#include "churn/base/logging.h"
#include "churn/base/status_macros.h"
#include "churn/base/time.h"
#include "churn/drift/reference.h"
#include "churn/flows/report_flow.h"
#include "churn/serving/logged_inputs.h"

namespace churn::cli {
namespace {

struct ReportFlags {
  std::optional<std::string> since;
  std::optional<std::string> until;
  std::optional<std::string> model;
  std::optional<std::string> out;
  bool json = false;
};

// T as `--current log:WINDOW` reads its sides: an RFC 3339 time, or a duration before now
// ("3h": three hours ago); also "now".
absl::StatusOr<absl::Time> ParseReportTime(absl::string_view flag, const std::string& text,
                                           absl::Time now) {
  if (text == "now") {
    return now;
  }
  if (text.find("..") == std::string::npos && !text.empty()) {
    if (absl::StatusOr<serving::LogWindow> ago = serving::ParseLogWindow(text, now); ago.ok()) {
      return ago->since;
    }
    if (absl::StatusOr<serving::LogWindow> at = serving::ParseLogWindow(text + "..", now);
        at.ok()) {
      return at->since;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(flag, " '", text,
                   "': expected an RFC 3339 time (2026-12-02T15:00:00Z), a duration before now "
                   "(3h, 90m) or now"));
}

absl::StatusOr<flows::ReportFlowOptions> ReportOptions(const base::Config& config,
                                                       const ReportFlags& f, absl::Time now) {
  const base::ReportSettings& s = config.report;
  if (!(s.window_seconds > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("report.window_seconds ", s.window_seconds, " must be positive"));
  }
  flows::ReportFlowOptions o{
      .model = f.model.value_or(s.model.empty() ? config.serve.model : s.model),
      .reports_dir = f.out.value_or(config.ReportsDir()),
      .window = absl::Seconds(s.window_seconds),
      .share_threshold = config.drift.share};
  if (f.since.has_value()) {
    CHURN_ASSIGN_OR_RETURN(o.since, ParseReportTime("--since", *f.since, now));
  }
  o.until = now;
  if (f.until.has_value()) {
    CHURN_ASSIGN_OR_RETURN(o.until, ParseReportTime("--until", *f.until, now));
  }
  if (o.since != absl::InfinitePast() && o.since >= o.until) {
    return absl::InvalidArgumentError(absl::StrCat("--since ", base::FormatRfc3339(o.since),
                                                   " is not before --until ",
                                                   base::FormatRfc3339(o.until)));
  }
  CHURN_ASSIGN_OR_RETURN(o.per_column, drift::ParseColumnOverrides(config.drift.tests));
  return o;
}

std::string ReportLine(const flows::ReportFlowResult& r) {
  const report::ReportInput& in = r.report;
  return absl::StrFormat(
      "wrote %s (%s kB): %s predictions, %d of %d features drifted, dataset %s\n", r.path,
      WithCommas(static_cast<uint64_t>((r.bytes + 500) / 1000)), WithCommas(in.rows),
      in.dataset.drifted_columns, in.dataset.columns,
      in.dataset.drifted ? "drifted" : "not drifted");
}

absl::Status Report(const base::Config& config, const ReportFlags& flags) {
  // One clock reading for the defaults, so "--until now" and the default agree.
  const base::FakeClock clock(base::SystemClock()->Now());
  CHURN_ASSIGN_OR_RETURN(flows::ReportFlowOptions options,
                         ReportOptions(config, flags, clock.Now()));
  options.clock = &clock;
  CHURN_ASSIGN_OR_RETURN(auto registry, OpenConfiguredRegistry(config));
  CHURN_ASSIGN_OR_RETURN(auto log, OpenConfiguredPredictionLog(config));
  absl::StatusOr<flows::ReportFlowResult> result = flows::RunReportFlow(options, *registry, *log);
  log->Close();
  if (!result.ok()) {
    return result.status();
  }
  for (const std::string& note : result->notes) {
    base::LogInfo(absl::StrCat("report: ", note));
  }
  Print(flags.json ? flows::ReportFlowResultJson(*result) : ReportLine(*result));
  return absl::OkStatus();
}

}  // namespace

void AddReportCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<ReportFlags>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write an HTML drift report of a window of the prediction log (default: the last "
      "report.window_seconds) and rewrite the reports index; exit 0 whether or not drift is found");
  cmd->add_option("--since", f->since,
                  "Window start: RFC 3339 (2026-12-02T15:00:00Z) or a duration before now (3h); "
                  "default --until minus report.window_seconds");
  cmd->add_option("--until", f->until, "Window end (exclusive), the same forms; default now");
  cmd->add_option("--model", f->model,
                  "The model whose drift reference the window is compared with (default "
                  "report.model, else serve.model: churn@production)");
  cmd->add_option("--out", f->out, "Reports folder (default report.dir: <data_dir>/reports)");
  cmd->add_flag("--json", f->json, "Print the result as JSON");
  cmd->callback([&ctx, f] { ctx.action = [&ctx, f] { return Report(ctx.config, *f); }; });
}

}  // namespace churn::cli
