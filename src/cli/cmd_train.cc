// churn train --dataset NAME [--snapshot ID] [--trials N] [--timeout D] [--seed S] [--space FILE]
//             [--resume STUDY]: a hyperparameter study on a feature-store snapshot; the most
// efficient model becomes the next version of the registered model with alias `candidate`.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"
#include "churn/base/time.h"
#include "churn/features/feature_store.h"
#include "churn/flows/train_flow.h"

namespace churn::cli {
namespace {

// "90", "90s", "5m", "1h30m" -> seconds.
absl::StatusOr<double> ParseTimeout(const std::string& text) {
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds) && seconds >= 0) {
    return seconds;
  }
  absl::Duration d;
  if (absl::ParseDuration(text, &d) && d >= absl::ZeroDuration()) {
    return absl::ToDoubleSeconds(d);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--timeout '", text, "': expected seconds or a duration such as 90s, 5m, 1h"));
}

std::string Clock(double seconds) {
  const int64_t s = std::llround(seconds);
  return s >= 3600 ? absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60)
                   : absl::StrFormat("%dm%02ds", s / 60, s % 60);
}

// A bar on a terminal, one line per trial otherwise (both on stderr: stdout has the result).
train::ProgressCallback Progress(bool bar) {
  return [bar](const train::StudyProgress& p) {
    const double eta = p.finished > 0 && p.finished < p.total
                           ? p.elapsed_seconds / p.finished * (p.total - p.finished)
                           : 0.0;
    const std::string best =
        p.best_trial < 0 ? "-" : absl::StrFormat("%.5f (#%d)", p.best_valid_auc, p.best_trial);
    if (bar) {
      constexpr int kWidth = 24;
      const int filled = p.total > 0 ? kWidth * p.finished / p.total : 0;
      std::fprintf(stderr, "\r[%s%s] trial %d/%d  best %s  pruned %d  %s  ETA %s \033[K",
                   std::string(static_cast<size_t>(filled), '#').c_str(),
                   std::string(static_cast<size_t>(kWidth - filled), '.').c_str(), p.finished,
                   p.total, best.c_str(), p.pruned, Clock(p.elapsed_seconds).c_str(),
                   Clock(eta).c_str());
      if (p.finished == p.total) {
        std::fputc('\n', stderr);
      }
    } else if (p.last != nullptr) {
      const train::TrialRecord& t = *p.last;
      absl::FPrintF(stderr,
                    "[%d/%d] trial %d %s valid_auc=%.5f rounds=%d nodes=%d fit=%.2fs best=%s "
                    "pruned=%d elapsed=%s eta=%s\n",
                    p.finished, p.total, t.number, train::TrialStateName(t.state), t.valid_auc,
                    t.rounds, t.size.nodes, t.fit_seconds, best, p.pruned, Clock(p.elapsed_seconds),
                    Clock(eta));
    }
    std::fflush(stderr);
  };
}

std::string Summary(const flows::TrainOutcome& out) {
  const train::StudyResult& s = out.study;
  const train::TrialRecord& w = s.trials[s.winner];
  const train::TrialRecord& b = s.trials[s.best];
  int pruned = 0;
  int resumed = 0;
  for (const train::TrialRecord& t : s.trials) {
    pruned += t.state == train::TrialState::kPruned ? 1 : 0;
    resumed += t.resumed ? 1 : 0;
  }
  std::string text = absl::StrFormat(
      "study %s on %s\n"
      "  rows         train %s, valid %s, test %s\n"
      "  trials       %d (%d pruned, %d kept from before) in %.1f s%s\n"
      "  best         trial %d: valid_auc %.5f, %d nodes\n"
      "  winner       trial %d: valid_auc %.5f, %d nodes, %d trees, %.2f us/row (run %s)\n"
      "  threshold    %.6f (%s on valid: F1 %.4f)\n"
      "  test         auc %.5f  pr_auc %.5f  f1 %.4f  precision %.4f  recall %.4f\n"
      "               logloss %.5f  brier %.5f  ece %.5f\n"
      "  registered   %s version %d, alias candidate\n",
      out.study_run_id, out.dataset_snapshot, WithCommas(out.train_rows),
      WithCommas(out.valid_rows), WithCommas(out.test_rows), static_cast<int>(s.trials.size()),
      pruned, resumed, s.wall_seconds,
      s.timed_out ? " (time budget reached)" : (s.stopped_by_patience ? " (patience ran out)" : ""),
      b.number, b.valid_auc, b.size.nodes, w.number, w.valid_auc, w.size.nodes, w.size.trees,
      w.us_per_row, w.run_id, out.threshold.threshold, "chosen", out.threshold.f1, out.test.roc_auc,
      out.test.pr_auc, out.test.f1, out.test.precision, out.test.recall, out.test.log_loss,
      out.test.brier, out.test.ece, out.version.name, out.version.version);
  absl::StrAppend(&text, "  front        trial   valid_auc   nodes\n");
  for (const size_t i : s.pareto) {
    const train::TrialRecord& t = s.trials[i];
    absl::StrAppendFormat(&text, "               %5d   %.5f   %6d%s\n", t.number, t.valid_auc,
                          t.size.nodes, i == s.winner ? "  <- winner" : "");
  }
  return text;
}

std::string OutcomeJson(const flows::TrainOutcome& out) {
  const train::StudyResult& s = out.study;
  nlohmann::ordered_json j;
  j["study_run_id"] = out.study_run_id;
  j["experiment_id"] = out.experiment_id;
  j["dataset_snapshot"] = out.dataset_snapshot;
  j["trials"] = s.trials.size();
  j["wall_seconds"] = s.wall_seconds;
  j["winner_trial"] = s.trials[s.winner].number;
  j["winner_run_id"] = out.winner_run_id;
  j["best_trial"] = s.trials[s.best].number;
  j["valid_auc"] = s.trials[s.winner].valid_auc;
  j["threshold"] = out.threshold.threshold;
  j["test"] = nlohmann::ordered_json::parse(out.test.ToJson());
  j["model"] = {
      {"name", out.version.name}, {"version", out.version.version}, {"alias", "candidate"}};
  j["trials_detail"] = nlohmann::ordered_json::array();
  for (const train::TrialRecord& t : s.trials) {
    j["trials_detail"].push_back({{"trial", t.number},
                                  {"state", std::string(train::TrialStateName(t.state))},
                                  {"valid_auc", t.valid_auc},
                                  {"nodes", t.size.nodes},
                                  {"rounds", t.rounds},
                                  {"fit_seconds", t.fit_seconds},
                                  {"finished_at_seconds", t.finished_at_seconds},
                                  {"resumed", t.resumed}});
  }
  return j.dump(2);
}

// The settings flags: each, when given, wins over the config; none may change a resumed study.
struct TrainFlags {
  std::optional<int> trials;
  std::optional<std::string> timeout;
  std::optional<uint64_t> seed;
  std::optional<std::string> space;
  std::optional<int> workers;
  std::optional<std::string> sampler;
  std::optional<std::string> pruner;
  std::optional<int> patience;
  std::optional<std::string> threshold;
  bool json = false;
  bool no_progress = false;

  absl::Status Apply(bool resuming, base::TrainSettings* s) const {
    const bool any =
        trials || timeout || seed || space || workers || sampler || pruner || patience || threshold;
    if (resuming && any) {
      return absl::InvalidArgumentError(
          "--resume takes no settings flags (--trials, --seed, ...): a study keeps its settings");
    }
    s->trials = trials.value_or(s->trials);
    s->seed = seed.value_or(s->seed);
    s->space = space.value_or(s->space);
    s->workers = workers.value_or(s->workers);
    s->sampler = sampler.value_or(s->sampler);
    s->pruner = pruner.value_or(s->pruner);
    s->patience = patience.value_or(s->patience);
    s->threshold = threshold.value_or(s->threshold);
    if (timeout) {
      CHURN_ASSIGN_OR_RETURN(s->timeout_seconds, ParseTimeout(*timeout));
    }
    return absl::OkStatus();
  }
};

}  // namespace

void AddTrainCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand(
      "train", "Search XGBoost hyperparameters on a snapshot; register the most efficient model");
  auto request = std::make_shared<flows::TrainRequest>();
  auto flags = std::make_shared<TrainFlags>();
  cmd->add_option("--dataset", request->dataset, "Dataset in the feature store");
  cmd->add_option("--snapshot", request->snapshot,
                  "Snapshot id or unique prefix (default: latest)");
  cmd->add_option("--resume", request->resume_study,
                  "Continue the study of this run id, keeping its finished trials");
  cmd->add_option("--trials", flags->trials, "Trials in the study");
  cmd->add_option("--timeout", flags->timeout,
                  "Time budget: seconds or 90s, 5m, 1h (default: none)");
  cmd->add_option("--seed", flags->seed,
                  "Seed of the sampler and XGBoost (the split has train.split_seed)");
  cmd->add_option("--space", flags->space, "Search space YAML");
  cmd->add_option("--workers", flags->workers, "Trials at once");
  cmd->add_option("--sampler", flags->sampler, "tpe or random");
  cmd->add_option("--pruner", flags->pruner, "median, halving, hyperband or none");
  cmd->add_option("--patience", flags->patience,
                  "Stop after N finished trials without a better one");
  cmd->add_option("--threshold", flags->threshold, "max_f1 or recall:R");
  cmd->add_flag("--json", flags->json, "Print the result as JSON");
  cmd->add_flag("--no-progress", flags->no_progress, "No progress bar or per-trial lines");
  cmd->callback([&ctx, request, flags] {
    ctx.action = [&ctx, request, flags]() -> absl::Status {
      if (request->dataset.empty() == request->resume_study.empty()) {
        return absl::InvalidArgumentError("give --dataset NAME, or --resume STUDY (not both)");
      }
      request->settings = ctx.config.train;
      CHURN_RETURN_IF_ERROR(flags->Apply(!request->resume_study.empty(), &request->settings));
      if (!flags->no_progress) {
        request->progress = Progress(isatty(STDERR_FILENO) != 0);
      }
      CHURN_ASSIGN_OR_RETURN(auto store,
                             features::FeatureStore::Open(ctx.config, base::SystemClock()));
      CHURN_ASSIGN_OR_RETURN(auto registry, OpenConfiguredRegistry(ctx.config));
      CHURN_ASSIGN_OR_RETURN(const flows::TrainOutcome out,
                             flows::RunTrainFlow(store.get(), registry.get(), *request));
      Print(flags->json ? OutcomeJson(out) + "\n" : Summary(out));
      return absl::OkStatus();
    };
  });
}

}  // namespace churn::cli
