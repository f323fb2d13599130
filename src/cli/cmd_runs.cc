// churn runs list | show | compare | gc: the tracking store from the command line.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"

namespace churn::cli {
namespace {

using Json = nlohmann::ordered_json;
using registry::Run;

struct ListOptions {
  std::string experiment = "0";
  std::string filter;
  std::vector<std::string> order_by;
  int64_t max_results = 50;
  bool all = false;
  bool json = false;
};

// An experiment given by id or by name.
absl::StatusOr<std::string> ExperimentId(registry::Registry& reg, const std::string& ref) {
  if (int64_t id = 0; absl::SimpleAtoi(ref, &id)) {
    CHURN_RETURN_IF_ERROR(reg.GetExperiment(ref).status());
    return ref;
  }
  CHURN_ASSIGN_OR_RETURN(const registry::Experiment e, reg.GetExperimentByName(ref));
  return e.experiment_id;
}

Json MetricValue(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "Infinity" : "-Infinity";
  }
  return v;
}

Json RunToJson(const Run& r) {
  Json metrics = Json::object();
  for (const auto& m : r.metrics) {
    metrics[m.key] = MetricValue(m.value);
  }
  Json params = Json::object();
  for (const auto& p : r.params) {
    params[p.key] = p.value;
  }
  Json tags = Json::object();
  for (const auto& t : r.tags) {
    tags[t.key] = t.value;
  }
  return {{"run_id", r.info.run_id},
          {"run_name", r.info.run_name},
          {"experiment_id", r.info.experiment_id},
          {"status", registry::ToString(r.info.status)},
          {"user_id", r.info.user_id},
          {"start_time", FormatMs(r.info.start_time)},
          {"end_time", r.info.end_time ? FormatMs(*r.info.end_time) : "-"},
          {"lifecycle_stage", registry::ToString(r.info.lifecycle_stage)},
          {"dataset_snapshot", r.info.dataset_snapshot},
          {"artifact_uri", r.info.artifact_uri},
          {"metrics", metrics},
          {"params", params},
          {"tags", tags}};
}

std::string Number(double v) {
  return absl::StrFormat("%.6g", v);
}

absl::Status ListRuns(const base::Config& config, const ListOptions& o) {
  CHURN_ASSIGN_OR_RETURN(auto reg, OpenConfiguredRegistry(config));
  CHURN_ASSIGN_OR_RETURN(const std::string experiment, ExperimentId(*reg, o.experiment));
  CHURN_ASSIGN_OR_RETURN(const auto page,
                         reg->SearchRuns({.experiment_ids = {experiment},
                                          .filter = o.filter,
                                          .order_by = o.order_by,
                                          .max_results = o.max_results,
                                          .view = o.all ? registry::ViewType::kAll
                                                        : registry::ViewType::kActiveOnly}));
  if (o.json) {
    Json out = Json::array();
    for (const Run& r : page.items) {
      out.push_back(RunToJson(r));
    }
    Print(out.dump(2) + "\n");
    return absl::OkStatus();
  }
  if (page.items.empty()) {
    Print(absl::StrCat("no runs in experiment ", experiment,
                       o.filter.empty() ? "" : " match the filter", "\n"));
    return absl::OkStatus();
  }
  // The metrics most runs have, as columns (at most four).
  std::map<std::string, int> counts;
  for (const Run& r : page.items) {
    for (const auto& m : r.metrics) {
      ++counts[m.key];
    }
  }
  std::vector<std::pair<int, std::string>> ranked;
  ranked.reserve(counts.size());
  for (const auto& [key, n] : counts) {
    ranked.emplace_back(-n, key);
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::string> columns;
  for (size_t i = 0; i < ranked.size() && i < 4; ++i) {
    columns.push_back(ranked[i].second);
  }
  std::string text =
      absl::StrFormat("%-32s  %-20s  %-8s  %-24s", "RUN_ID", "NAME", "STATUS", "STARTED");
  for (const auto& c : columns) {
    absl::StrAppendFormat(&text, "  %12s", c.substr(0, 12));
  }
  text += "\n";
  for (const Run& r : page.items) {
    absl::StrAppendFormat(&text, "%-32s  %-20s  %-8s  %-24s", r.info.run_id,
                          r.info.run_name.substr(0, 20), registry::ToString(r.info.status),
                          FormatMs(r.info.start_time));
    for (const auto& c : columns) {
      const auto it = std::find_if(r.metrics.begin(), r.metrics.end(),
                                   [&c](const registry::Metric& m) { return m.key == c; });
      absl::StrAppendFormat(&text, "  %12s", it == r.metrics.end() ? "-" : Number(it->value));
    }
    text += "\n";
  }
  if (!page.next_page_token.empty()) {
    absl::StrAppend(&text, "(more: raise --max)\n");
  }
  Print(text);
  return absl::OkStatus();
}

absl::Status ShowRun(const base::Config& config, const std::string& run_id, bool as_json) {
  CHURN_ASSIGN_OR_RETURN(auto reg, OpenConfiguredRegistry(config));
  CHURN_ASSIGN_OR_RETURN(const Run run, reg->GetRun(run_id));
  CHURN_ASSIGN_OR_RETURN(const auto artifacts, reg->ListArtifacts(run_id, ""));
  Json out = RunToJson(run);
  Json files = Json::array();
  for (const auto& a : artifacts) {
    files.push_back({{"path", a.path}, {"sha256", a.sha256}, {"size", a.size}});
  }
  out["artifacts"] = files;
  if (as_json) {
    Print(out.dump(2) + "\n");
    return absl::OkStatus();
  }
  std::string text = absl::StrFormat(
      "run %s (%s)\n  experiment  %s\n  status      %s\n  user        %s\n  started     %s\n"
      "  ended       %s\n  dataset     %s\n  artifacts   %s\n",
      run.info.run_id, run.info.run_name, run.info.experiment_id,
      registry::ToString(run.info.status), run.info.user_id, FormatMs(run.info.start_time),
      run.info.end_time ? FormatMs(*run.info.end_time) : "-",
      run.info.dataset_snapshot.empty() ? "-" : run.info.dataset_snapshot, run.info.artifact_uri);
  const auto section = [&text](const char* title, const auto& items, auto value) {
    if (items.empty()) {
      return;
    }
    absl::StrAppend(&text, "\n", title, "\n");
    for (const auto& item : items) {
      absl::StrAppendFormat(&text, "  %-32s %s\n", item.key, value(item));
    }
  };
  section("metrics (latest)", run.metrics, [](const registry::Metric& m) {
    return absl::StrCat(Number(m.value), "  (step ", m.step, ")");
  });
  section("params", run.params, [](const registry::Param& p) { return p.value; });
  section("tags", run.tags, [](const registry::Tag& t) { return t.value; });
  if (!artifacts.empty()) {
    absl::StrAppend(&text, "\nfiles\n");
    for (const auto& a : artifacts) {
      absl::StrAppendFormat(&text, "  %-32s %10d bytes  sha256 %s\n", a.path, a.size,
                            a.sha256.substr(0, 16));
    }
  }
  Print(text);
  return absl::OkStatus();
}

bool AllEqual(const std::vector<std::string>& values) {
  return std::all_of(values.begin(), values.end(),
                     [&values](const std::string& v) { return v == values[0]; });
}

absl::Status Compare(const base::Config& config, const std::vector<std::string>& ids,
                     bool as_json) {
  if (ids.size() < 2) {
    return absl::InvalidArgumentError("runs compare needs at least two run ids");
  }
  CHURN_ASSIGN_OR_RETURN(auto reg, OpenConfiguredRegistry(config));
  std::vector<Run> runs;
  for (const auto& id : ids) {
    CHURN_ASSIGN_OR_RETURN(Run r, reg->GetRun(id));
    runs.push_back(std::move(r));
  }
  // Rows: every param and metric any run has; a row differs when the values are not all equal.
  std::map<std::string, std::vector<std::string>> rows;
  for (size_t i = 0; i < runs.size(); ++i) {
    for (const auto& p : runs[i].params) {
      rows["params." + p.key].resize(runs.size(), "-");
      rows["params." + p.key][i] = p.value;
    }
    for (const auto& m : runs[i].metrics) {
      rows["metrics." + m.key].resize(runs.size(), "-");
      rows["metrics." + m.key][i] = Number(m.value);
    }
  }
  if (as_json) {
    Json out = {{"runs", ids}, {"rows", Json::object()}};
    for (auto& row : rows) {
      row.second.resize(runs.size(), "-");
      out["rows"][row.first] = {{"values", row.second}, {"differs", !AllEqual(row.second)}};
    }
    Print(out.dump(2) + "\n");
    return absl::OkStatus();
  }
  std::string text = absl::StrFormat("  %-30s", "");
  for (const Run& r : runs) {
    absl::StrAppendFormat(&text, "  %-18s", r.info.run_name.substr(0, 18));
  }
  text += "\n";
  for (auto& [key, values] : rows) {
    values.resize(runs.size(), "-");
    absl::StrAppendFormat(&text, "%s %-30s", AllEqual(values) ? " " : "*", key.substr(0, 30));
    for (const auto& v : values) {
      absl::StrAppendFormat(&text, "  %-18s", v.substr(0, 18));
    }
    text += "\n";
  }
  absl::StrAppend(&text, "(* marks rows whose values differ)\n");
  Print(text);
  return absl::OkStatus();
}

// "30d", "12h", "90m", "45s" (absl::ParseDuration plus days).
absl::StatusOr<int64_t> ParseAge(std::string text) {
  if (text.empty()) {
    return 0;
  }
  double days = 0;
  if (text.back() == 'd' && absl::SimpleAtod(text.substr(0, text.size() - 1), &days) && days >= 0) {
    return static_cast<int64_t>(days * 86400000);
  }
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--older-than '", text, "' is not an age like 30d, 12h or 90m"));
  }
  return absl::ToInt64Milliseconds(d);
}

struct GcFlags {
  int64_t keep_last = 100;
  std::string older_than = "30d";
  bool dry_run = false;
  bool json = false;
};

absl::Status Gc(const base::Config& config, const GcFlags& flags) {
  CHURN_ASSIGN_OR_RETURN(const int64_t age, ParseAge(flags.older_than));
  CHURN_ASSIGN_OR_RETURN(auto reg, OpenConfiguredRegistry(config));
  CHURN_ASSIGN_OR_RETURN(
      const registry::GcResult result,
      reg->GarbageCollect(
          {.keep_last = flags.keep_last, .older_than_ms = age, .dry_run = flags.dry_run}));
  if (flags.json) {
    Print(Json({{"dry_run", flags.dry_run},
                {"deleted_runs", result.deleted_runs},
                {"artifacts_deleted", result.artifacts_deleted}})
              .dump(2) +
          "\n");
    return absl::OkStatus();
  }
  Print(absl::StrCat(flags.dry_run ? "would remove " : "removed ", result.deleted_runs.size(),
                     " runs and ", result.artifacts_deleted, " unreferenced artifacts\n"));
  return absl::OkStatus();
}

}  // namespace

void AddRunsCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("runs", "List, show, compare and clean up tracked runs");
  cmd->require_subcommand(1);
  auto list = std::make_shared<ListOptions>();
  CLI::App* ls = cmd->add_subcommand("list", "Runs of an experiment, filtered and ordered");
  ls->add_option("--experiment,-e", list->experiment, "Experiment id or name (default 0)");
  ls->add_option("--filter", list->filter,
                 "MLflow filter, e.g. \"metrics.valid_auc > 0.99 and params.max_depth = '6'\"");
  ls->add_option("--order-by", list->order_by, "e.g. \"metrics.valid_auc DESC\" (repeatable)");
  ls->add_option("--max", list->max_results, "At most this many runs (default 50)");
  ls->add_flag("--all", list->all, "Include deleted runs");
  ls->add_flag("--json", list->json, "Print JSON");
  ls->callback([&ctx, list] { ctx.action = [&ctx, list] { return ListRuns(ctx.config, *list); }; });

  auto id = std::make_shared<std::string>();
  auto json_flag = std::make_shared<bool>(false);
  CLI::App* show = cmd->add_subcommand("show", "One run: info, metrics, params, tags, files");
  show->add_option("run_id", *id, "Run id")->required();
  show->add_flag("--json", *json_flag, "Print JSON");
  show->callback([&ctx, id, json_flag] {
    ctx.action = [&ctx, id, json_flag] { return ShowRun(ctx.config, *id, *json_flag); };
  });

  auto ids = std::make_shared<std::vector<std::string>>();
  CLI::App* compare = cmd->add_subcommand("compare", "Params and metrics of runs side by side");
  compare->add_option("run_ids", *ids, "Two or more run ids")->required();
  compare->add_flag("--json", *json_flag, "Print JSON");
  compare->callback([&ctx, ids, json_flag] {
    ctx.action = [&ctx, ids, json_flag] { return Compare(ctx.config, *ids, *json_flag); };
  });

  auto gc = std::make_shared<GcFlags>();
  CLI::App* gc_cmd = cmd->add_subcommand(
      "gc", "Remove old finished runs and unreferenced artifacts (never a registered version's)");
  gc_cmd->add_option("--keep-last", gc->keep_last,
                     "Keep the newest N runs of each experiment (default 100)");
  gc_cmd->add_option("--older-than", gc->older_than,
                     "Only runs that ended longer ago than this: 30d, 12h, 90m (default 30d)");
  gc_cmd->add_flag("--dry-run", gc->dry_run, "Report what would be removed; remove nothing");
  gc_cmd->add_flag("--json", gc->json, "Print JSON");
  gc_cmd->callback([&ctx, gc] { ctx.action = [&ctx, gc] { return Gc(ctx.config, *gc); }; });
}

}  // namespace churn::cli
