// churn deploy NAME@VERSION | --run RUN_ID [--reason R] [--actor A] [--dry-run] [--force] [--json]
// churn deploy --rollback [--model NAME] [--reason R] [--dry-run] [--json]
// The gated deployment: every gate computed and shown, then the alias `production` moved (or not).
// Exit codes: 0 deployed, rolled back, already current or a dry run whose gates passed;
// kExitGateFailed (3) a gate failed and nothing moved; 2 bad input; 1 anything else.
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands.h"

#include "churn/base/status_macros.h"
#include "churn/base/time.h"
#include "churn/cli/cli.h"
#include "churn/features/feature_store.h"
#include "churn/flows/deploy_flow.h"
#include "churn/serving/served_model.h"

namespace churn::cli {
namespace {

struct DeployFlags {
  std::string candidate{};
  std::string run_id{};
  std::string model{};
  std::string reason{};
  std::string actor{};
  bool dry_run = false;
  bool force = false;
  bool rollback = false;
  bool json = false;
};

std::string DeployDefaultActor() {
  const char* user = std::getenv("USER");  // NOLINT(concurrency-mt-unsafe): read once, at start
  return user != nullptr && *user != '\0' ? user : "unknown";
}

absl::StatusOr<flows::DeployRequest> DeployRequestFromFlags(const base::Config& config,
                                                            const DeployFlags& f) {
  flows::DeployRequest r;
  r.model_name = f.model.empty() ? config.train.model_name : f.model;
  if (!f.candidate.empty()) {
    CHURN_ASSIGN_OR_RETURN(const serving::ModelRef ref, serving::ParseModelRef(f.candidate));
    if (!f.model.empty() && f.model != ref.name) {
      return absl::InvalidArgumentError(absl::StrCat("--model ", f.model, " and the candidate ",
                                                     f.candidate, " name different models"));
    }
    r.model_name = ref.name;
    r.version = ref.version;
    r.alias_ref = ref.alias;
  }
  r.run_id = f.run_id;
  r.rollback = f.rollback;
  r.dry_run = f.dry_run;
  r.force = f.force;
  r.actor = f.actor.empty() ? DeployDefaultActor() : f.actor;
  r.reason = f.reason;
  r.settings = config.deploy;
  r.reasons = config.serve.reasons;
  return r;
}

std::string DeployNumber(double v, const std::string& unit) {
  if (std::isnan(v)) {
    return "-";
  }
  return unit.empty() ? absl::StrFormat("%.6g", v) : absl::StrFormat("%.3f %s", v, unit);
}

std::string DeployGateTable(const flows::DeployOutcome& out) {
  std::string text = absl::StrFormat("%-22s  %-6s  %-12s  %-14s  %s\n", "GATE", "RESULT",
                                     "MEASURED", "LIMIT", "DETAIL");
  for (const flows::GateResult& g : out.gates) {
    const char* result = g.skipped ? "skip" : (g.passed ? "pass" : "FAIL");
    absl::StrAppendFormat(
        &text, "%-22s  %-6s  %-12s  %-14s  %s\n", g.name, result, DeployNumber(g.measured, g.unit),
        std::isnan(g.limit)
            ? "-"
            : absl::StrFormat("%s %.6g%s", g.op, g.limit, g.unit.empty() ? "" : " " + g.unit),
        g.message);
  }
  return text;
}

std::string DeployVersionText(const std::optional<int64_t>& v) {
  return v ? absl::StrCat("v", *v) : "nothing";
}

// What happened to the alias, one line.
std::string DeployVerdict(const flows::DeployOutcome& out) {
  const std::string alias = absl::StrCat(out.model_name, "@", out.alias);
  const std::string before = DeployVersionText(out.previous_version);
  if (out.already_current) {
    return absl::StrCat(alias, " already is v", out.version, ": nothing to do\n");
  }
  if (out.dry_run) {
    return out.gates_passed ? absl::StrCat("dry run: every gate passed; ", alias, " would move ",
                                           before, " -> v", out.version, " (nothing moved)\n")
                            : absl::StrCat("dry run: gates failed (", out.FailedGates(), "); ",
                                           alias, " would stay ", before, " (nothing moved)\n");
  }
  if (!out.deployed) {
    return absl::StrCat("refused: gates failed (", out.FailedGates(), "); ", alias, " stays ",
                        before, ". Fix the candidate, or override with --force --reason R\n");
  }
  return absl::StrCat(alias, ": ", before, " -> v", out.version, out.forced ? " (FORCED)" : "",
                      "  actor ", out.actor, ", reason \"", out.reason, "\"\n");
}

std::string DeployHuman(const flows::DeployOutcome& out) {
  if (out.rollback) {
    const std::string move =
        absl::StrCat(out.model_name, "@", out.alias, " ", DeployVersionText(out.previous_version),
                     " -> v", out.version);
    return absl::StrCat(out.dry_run ? "dry run: would roll back " : "rolled back ", move,
                        "\nno gates run: a rollback returns to the version served before its "
                        "last move\nreason \"",
                        out.reason, "\"\n");
  }
  std::string text = absl::StrCat("candidate ", out.model_name, " v", out.version, " (run ",
                                  out.run_id.empty() ? "-" : out.run_id, ") for ", out.alias,
                                  ", now ", DeployVersionText(out.previous_version), "\n");
  if (!out.holdout.empty()) {
    absl::StrAppend(&text, "holdout ", out.holdout, "\n");
  }
  if (!out.gates.empty()) {
    absl::StrAppend(&text, "\n", DeployGateTable(out), "\n");
  }
  absl::StrAppend(&text, DeployVerdict(out));
  return text;
}

absl::Status DeployRun(const base::Config& config, const DeployFlags& flags) {
  CHURN_ASSIGN_OR_RETURN(const flows::DeployRequest request, DeployRequestFromFlags(config, flags));
  CHURN_ASSIGN_OR_RETURN(auto registry, OpenConfiguredRegistry(config));
  std::unique_ptr<features::FeatureStore> store;
  if (!request.rollback) {
    CHURN_ASSIGN_OR_RETURN(store, features::FeatureStore::Open(config, base::SystemClock()));
  }
  CHURN_ASSIGN_OR_RETURN(const flows::DeployOutcome out,
                         flows::RunDeployFlow(registry.get(), store.get(), request));
  Print(flags.json ? out.ToJson(2) + "\n" : DeployHuman(out));
  const bool refused = !out.rollback && !out.already_current && !out.gates_passed && !out.deployed;
  if (refused) {
    return GateFailedError(absl::StrCat(
        out.dry_run ? "dry run: " : "deploy refused: ", "gate(s) failed: ", out.FailedGates(), "; ",
        out.model_name, "@", out.alias, " unchanged"));
  }
  return absl::OkStatus();
}

}  // namespace

void AddDeployCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand(
      "deploy", "Move alias production to a version once every gate passes (or roll it back)");
  cmd->footer(
      "Gates (all computed, settings under deploy: in churn.yaml): contract, auc_floor, "
      "no_regression, latency, scorer_equals_xgboost.\nExit codes: 0 deployed / rolled back / "
      "dry run passed, 3 a gate failed (nothing moved), 2 bad input, 1 other failures.");
  auto flags = std::make_shared<DeployFlags>();
  cmd->add_option("candidate", flags->candidate,
                  "The version to deploy: NAME@VERSION (or NAME@ALIAS, e.g. churn@candidate)");
  cmd->add_option("--run", flags->run_id,
                  "Deploy the version registered from this run (its trial or study run id)");
  cmd->add_option("--model", flags->model,
                  "Registered model for --run and --rollback (default train.model_name)");
  cmd->add_option("--reason", flags->reason,
                  "Why (kept in the alias history; required with --force)");
  cmd->add_option("--actor", flags->actor, "Who deploys (default $USER)");
  cmd->add_flag("--dry-run", flags->dry_run, "Compute the gates; move and record nothing");
  cmd->add_flag("--force", flags->force,
                "Move the alias even though a gate failed (needs --reason; recorded)");
  cmd->add_flag("--rollback", flags->rollback,
                "Point the alias back at the version it named before its last move (no gates)");
  cmd->add_flag("--json", flags->json, "Print the outcome as JSON");
  cmd->callback(
      [&ctx, flags] { ctx.action = [&ctx, flags] { return DeployRun(ctx.config, *flags); }; });
}

}  // namespace churn::cli
