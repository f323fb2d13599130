// churn scheduler: the daemon that runs the flows of churn.yaml on their schedules (one leader
// among several schedulers). churn flows list | run | runs | logs | cancel: the flows and their
// runs from the command line (flows/scheduler.h, flows/run_store.h).
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <ctime>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"

#include "churn/base/logging.h"
#include "churn/base/status_macros.h"
#include "churn/flows/run_store.h"
#include "churn/flows/scheduler.h"

namespace churn::cli {
namespace {

using Json = nlohmann::ordered_json;

// The churn binary and the global flags its flow steps get, so they see this process's config.
flows::ChurnInvocation Invocation(const Context& ctx) {
  flows::ChurnInvocation churn;
  std::array<char, 4096> path{};
  const ssize_t n = ::readlink("/proc/self/exe", path.data(), path.size() - 1);
  churn.binary = n > 0 ? std::string(path.data(), static_cast<size_t>(n)) : "churn";
  if (!ctx.config_path.empty()) {
    churn.global_flags.insert(churn.global_flags.end(), {"--config", ctx.config_path});
  }
  if (!ctx.data_dir.empty()) {
    churn.global_flags.insert(churn.global_flags.end(), {"--data-dir", ctx.data_dir});
  }
  if (!ctx.log_level.empty()) {
    churn.global_flags.insert(churn.global_flags.end(), {"--log-level", ctx.log_level});
  }
  return churn;
}

absl::Duration Seconds(double s) {
  return absl::Seconds(s > 0 ? s : 0);
}

flows::RunnerOptions RunnerFor(const base::Config& c, std::string owner) {
  return {.owner = std::move(owner),
          .heartbeat = Seconds(c.scheduler.heartbeat_seconds),
          .kill_grace = Seconds(c.scheduler.shutdown_grace_seconds),
          .echo = nullptr};
}

absl::Status CheckSchedulerSettings(const base::SchedulerSettings& s) {
  if (!(s.heartbeat_seconds > 0) || !(s.stale_seconds > s.heartbeat_seconds)) {
    return absl::InvalidArgumentError(absl::StrCat("scheduler.stale_seconds (", s.stale_seconds,
                                                   ") must exceed scheduler.heartbeat_seconds (",
                                                   s.heartbeat_seconds, "), which must be > 0"));
  }
  if (!(s.leader_poll_seconds > 0) || !(s.shutdown_grace_seconds >= 0) || !(s.retention_days > 0) ||
      s.keep_runs < 0) {
    return absl::InvalidArgumentError(
        "scheduler: leader_poll_seconds and retention_days must be > 0, "
        "shutdown_grace_seconds and keep_runs >= 0");
  }
  return absl::OkStatus();
}

std::string Duration(const flows::FlowRun& r) {
  if (r.start_ms == 0) {
    return "-";
  }
  const int64_t end = r.end_ms > 0 ? r.end_ms : absl::ToUnixMillis(absl::Now());
  return absl::StrFormat("%.1fs", static_cast<double>(end - r.start_ms) / 1000.0);
}

Json RunJson(const flows::FlowRun& r) {
  return {{"id", r.id},
          {"flow", r.flow},
          {"state", flows::RunStateName(r.state)},
          {"trigger", r.trigger},
          {"scheduled", FormatMs(r.scheduled_ms)},
          {"start", FormatMs(r.start_ms)},
          {"end", FormatMs(r.end_ms)},
          {"attempts", r.attempts},
          {"next_attempt", FormatMs(r.next_attempt_ms)},
          {"owner", r.owner},
          {"result", r.result},
          {"log_bytes", r.log_bytes},
          {"parameters", Json::parse(r.parameters, nullptr, false)}};
}

// ---- churn scheduler ----

absl::Status SchedulerRun(const Context& ctx) {
  const base::Config& config = ctx.config;
  CHURN_RETURN_IF_ERROR(CheckSchedulerSettings(config.scheduler));
  CHURN_ASSIGN_OR_RETURN(std::vector<flows::FlowPlan> plans,
                         flows::MakeFlowPlans(config, Invocation(ctx)));
  const sigset_t signals = BlockStopSignals();
  CHURN_ASSIGN_OR_RETURN(std::unique_ptr<flows::RunStore> store,
                         flows::RunStore::Open(config.FlowRunsUrl()));
  CHURN_ASSIGN_OR_RETURN(std::unique_ptr<flows::LeaderLock> lock,
                         flows::LeaderLock::ForStore(config.FlowRunsUrl()));
  std::string lines;
  const absl::Time now = absl::Now();
  for (const flows::FlowPlan& p : plans) {
    absl::StrAppend(
        &lines, "\n  ", p.settings.name, " (", p.settings.kind, "): ", p.schedule.ToString(),
        p.settings.enabled
            ? absl::StrCat(", next ", FormatMs(absl::ToUnixMillis(p.schedule.Next(now))))
            : std::string(", disabled"));
  }
  const flows::SchedulerOptions options{
      .runner = RunnerFor(config, flows::OwnerName("scheduler")),
      .now = [] { return absl::Now(); },
      .leader_poll = Seconds(config.scheduler.leader_poll_seconds),
      .stale = Seconds(config.scheduler.stale_seconds),
      .retention = absl::Hours(24) * config.scheduler.retention_days,
      .keep_runs = config.scheduler.keep_runs};
  Print(absl::StrCat("churn scheduler ", options.runner.owner, ": flow runs in ", store->Describe(),
                     lines, "\n"));
  flows::Scheduler scheduler(std::move(plans), store.get(), options);
  std::atomic<bool> stop{false};
  absl::Status served;
  std::thread serve([&] { served = scheduler.Serve(*lock, stop); });
  WaitForStopSignal(signals);
  base::LogInfo("scheduler: stopping (runs in flight are cancelled)");
  stop = true;
  serve.join();
  return served;
}

// ---- churn flows ----

absl::Status FlowsList(const Context& ctx, bool json) {
  const base::Config& config = ctx.config;
  CHURN_ASSIGN_OR_RETURN(const std::vector<flows::FlowPlan> plans,
                         flows::MakeFlowPlans(config, Invocation(ctx)));
  CHURN_ASSIGN_OR_RETURN(std::unique_ptr<flows::RunStore> store,
                         flows::RunStore::Open(config.FlowRunsUrl()));
  const absl::Time now = absl::Now();
  Json out = Json::array();
  std::string text = absl::StrFormat("%-22s %-18s %-22s %-8s %-24s %s\n", "FLOW", "KIND",
                                     "SCHEDULE", "ENABLED", "NEXT (UTC)", "LAST RUN");
  for (const flows::FlowPlan& p : plans) {
    CHURN_ASSIGN_OR_RETURN(const std::vector<flows::FlowRun> last,
                           store->ListRuns({.flow = p.settings.name, .states = {}, .limit = 1}));
    const std::string next =
        p.settings.enabled ? FormatMs(absl::ToUnixMillis(p.schedule.Next(now))) : "-";
    const std::string last_text =
        last.empty()
            ? "-"
            : absl::StrCat("#", last[0].id, " ", flows::RunStateName(last[0].state), " ",
                           FormatMs(last[0].end_ms > 0 ? last[0].end_ms : last[0].start_ms));
    absl::StrAppendFormat(&text, "%-22s %-18s %-22s %-8s %-24s %s\n", p.settings.name,
                          p.settings.kind, p.schedule.ToString(), p.settings.enabled ? "yes" : "no",
                          next, last_text);
    out.push_back({{"flow", p.settings.name},
                   {"kind", p.settings.kind},
                   {"schedule", p.schedule.ToString()},
                   {"enabled", p.settings.enabled},
                   {"next", next},
                   {"last_run", last.empty() ? Json() : RunJson(last[0])}});
  }
  Print(json ? out.dump(2) + "\n" : text);
  return absl::OkStatus();
}

absl::Status FlowsRun(const Context& ctx, const std::string& name, bool json) {
  const base::Config& config = ctx.config;
  CHURN_ASSIGN_OR_RETURN(const std::vector<flows::FlowPlan> plans,
                         flows::MakeFlowPlans(config, Invocation(ctx)));
  const flows::FlowPlan* plan = nullptr;
  std::vector<std::string> names;
  for (const flows::FlowPlan& p : plans) {
    names.push_back(p.settings.name);
    if (p.settings.name == name) {
      plan = &p;
    }
  }
  if (plan == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no flow '", name, "' (flows: ", absl::StrJoin(names, ", "), ")"));
  }
  const sigset_t signals = BlockStopSignals();
  CHURN_ASSIGN_OR_RETURN(std::unique_ptr<flows::RunStore> store,
                         flows::RunStore::Open(config.FlowRunsUrl()));
  flows::RunnerOptions options = RunnerFor(config, flows::OwnerName("cli"));
  if (!json) {
    options.echo = [](absl::string_view text) { Print(text); };
  }
  flows::FlowRunner runner(store.get(), options);
  CHURN_ASSIGN_OR_RETURN(
      const flows::FlowRun run,
      store->CreateRun(name, "manual", absl::ToUnixMillis(absl::Now()), plan->parameters_json));
  // SIGINT / SIGTERM cancel the run (its processes get SIGTERM, then SIGKILL after the grace).
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    const timespec step{0, 200'000'000L};
    while (!done.load()) {
      if (sigtimedwait(&signals, nullptr, &step) > 0) {
        runner.StopAll("interrupted (SIGINT/SIGTERM)");
      }
    }
  });
  absl::StatusOr<flows::FlowRun> ended = runner.Run(*plan, run);
  done = true;
  watcher.join();
  CHURN_RETURN_IF_ERROR(ended.status());
  if (json) {
    Print(RunJson(*ended).dump(2) + "\n");
  } else {
    Print(absl::StrCat("flow run ", ended->id, " of ", name, ": ",
                       flows::RunStateName(ended->state), " after ", ended->attempts,
                       " attempt(s): ", ended->result, "\n"));
  }
  if (ended->state != flows::RunState::kCompleted) {
    return absl::AbortedError(absl::StrCat("flow run ", ended->id, " ",
                                           flows::RunStateName(ended->state), ": ", ended->result));
  }
  return absl::OkStatus();
}

struct RunsFlags {
  std::string flow;
  std::vector<std::string> states;
  int64_t limit = 20;
  bool json = false;
};

absl::Status FlowsRuns(const Context& ctx, const RunsFlags& f) {
  flows::RunQuery query{.flow = f.flow, .states = {}, .limit = f.limit};
  for (const std::string& s : f.states) {
    CHURN_ASSIGN_OR_RETURN(const flows::RunState state, flows::ParseRunState(s));
    query.states.push_back(state);
  }
  if (f.limit <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("--limit ", f.limit, " must be > 0"));
  }
  CHURN_ASSIGN_OR_RETURN(std::unique_ptr<flows::RunStore> store,
                         flows::RunStore::Open(ctx.config.FlowRunsUrl()));
  CHURN_ASSIGN_OR_RETURN(const std::vector<flows::FlowRun> runs, store->ListRuns(query));
  if (f.json) {
    Json out = Json::array();
    for (const flows::FlowRun& r : runs) {
      out.push_back(RunJson(r));
    }
    Print(out.dump(2) + "\n");
    return absl::OkStatus();
  }
  std::string text =
      absl::StrFormat("%-6s %-22s %-10s %-9s %-25s %-9s %-3s %s\n", "RUN", "FLOW", "STATE",
                      "TRIGGER", "STARTED (UTC)", "DURATION", "TRY", "RESULT");
  for (const flows::FlowRun& r : runs) {
    absl::StrAppendFormat(&text, "%-6d %-22s %-10s %-9s %-25s %-9s %-3d %s\n", r.id, r.flow,
                          flows::RunStateName(r.state), r.trigger, FormatMs(r.start_ms),
                          Duration(r), r.attempts, r.result);
  }
  Print(text);
  return absl::OkStatus();
}

absl::Status FlowsLogs(const Context& ctx, int64_t id, bool follow) {
  CHURN_ASSIGN_OR_RETURN(std::unique_ptr<flows::RunStore> store,
                         flows::RunStore::Open(ctx.config.FlowRunsUrl()));
  size_t printed = 0;
  for (;;) {
    CHURN_ASSIGN_OR_RETURN(const flows::FlowRun run, store->GetRun(id));
    CHURN_ASSIGN_OR_RETURN(const std::string log, store->Log(id));
    if (log.size() > printed) {
      Print(absl::string_view(log).substr(printed));
      printed = log.size();
    }
    if (!follow || flows::IsFinal(run.state)) {
      return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
}

absl::Status FlowsCancel(const Context& ctx, int64_t id) {
  CHURN_ASSIGN_OR_RETURN(std::unique_ptr<flows::RunStore> store,
                         flows::RunStore::Open(ctx.config.FlowRunsUrl()));
  CHURN_RETURN_IF_ERROR(store->RequestCancel(id, absl::ToUnixMillis(absl::Now())));
  CHURN_ASSIGN_OR_RETURN(const flows::FlowRun run, store->GetRun(id));
  Print(absl::StrCat("flow run ", id, ": ",
                     run.state == flows::RunState::kRunning
                         ? "cancel requested (its runner stops it at its next heartbeat)"
                         : flows::RunStateName(run.state),
                     "\n"));
  return absl::OkStatus();
}

void AddFlowsSubcommands(CLI::App& flows_cmd, Context& ctx) {
  auto json = std::make_shared<bool>(false);
  CLI::App* list =
      flows_cmd.add_subcommand("list", "The flows of churn.yaml: schedule, next run, last run");
  list->add_flag("--json", *json, "Print JSON");
  list->callback([&ctx, json] { ctx.action = [&ctx, json] { return FlowsList(ctx, *json); }; });

  auto name = std::make_shared<std::string>();
  auto run_json = std::make_shared<bool>(false);
  CLI::App* run = flows_cmd.add_subcommand(
      "run", "Run a flow now, outside its schedule, in this process (its log is printed)");
  run->add_option("flow", *name, "The flow's name")->required();
  run->add_flag("--json", *run_json, "Print the ended run as JSON (and not the log)");
  run->footer(
      "Exit codes: 0 Completed, 1 Failed / Cancelled / Crashed, 2 bad input or the flow "
      "is busy (never two runs of one flow at once).");
  run->callback([&ctx, name, run_json] {
    ctx.action = [&ctx, name, run_json] { return FlowsRun(ctx, *name, *run_json); };
  });

  auto rf = std::make_shared<RunsFlags>();
  CLI::App* runs = flows_cmd.add_subcommand("runs", "Flow runs, newest first");
  runs->add_option("flow", rf->flow, "Only this flow's runs");
  runs->add_option("--state", rf->states, "Only runs in these states (repeatable)");
  runs->add_option("--limit", rf->limit, "At most this many (default 20)");
  runs->add_flag("--json", rf->json, "Print JSON");
  runs->callback([&ctx, rf] { ctx.action = [&ctx, rf] { return FlowsRuns(ctx, *rf); }; });

  auto id = std::make_shared<int64_t>(0);
  auto follow = std::make_shared<bool>(false);
  CLI::App* logs = flows_cmd.add_subcommand("logs", "A flow run's log");
  logs->add_option("run", *id, "The run id")->required();
  logs->add_flag("-f,--follow", *follow, "Keep printing until the run ends");
  logs->callback([&ctx, id, follow] {
    ctx.action = [&ctx, id, follow] { return FlowsLogs(ctx, *id, *follow); };
  });

  auto cancel_id = std::make_shared<int64_t>(0);
  CLI::App* cancel = flows_cmd.add_subcommand("cancel", "Cancel a flow run");
  cancel->add_option("run", *cancel_id, "The run id")->required();
  cancel->callback([&ctx, cancel_id] {
    ctx.action = [&ctx, cancel_id] { return FlowsCancel(ctx, *cancel_id); };
  });
}

}  // namespace

void AddSchedulerCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand(
      "scheduler", "Run the flows of churn.yaml on their schedules (one leader among several)");
  cmd->footer(
      "Flows, schedules, retries and timeouts come from churn.yaml (flows:, scheduler:). Runs are "
      "kept in scheduler.runs (SQLite by default, PostgreSQL to share them). SIGTERM stops the "
      "runs in flight (Cancelled) and exits.");
  cmd->callback([&ctx] { ctx.action = [&ctx] { return SchedulerRun(ctx); }; });
}

void AddFlowsCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("flows", "The scheduler's flows and their runs");
  cmd->require_subcommand(1);
  AddFlowsSubcommands(*cmd, ctx);
}

}  // namespace churn::cli
