// A study: its trials as validation AUC against serving cost (tree nodes, and measured µs per
// row), the quality-versus-cost front highlighted, the search's progress and the trials table.
//
// A finished study holds `pareto.json` (train::StudyResult::ParetoJson: every trial, the front,
// the winner), which is what `churn train` printed. A study still running (or killed) has no
// such file yet: its finished trial runs (children tagged churn.trial) are read instead and the
// front computed by the study's rule (by nodes ascending, a trial is on the front when its AUC
// beats every cheaper one).
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "console/charts.h"
#include "console/html.h"
#include "console/json_fields.h"
#include "console/pages.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"
#include "churn/train/study.h"

namespace churn::console::internal {
namespace {

struct Trial {
  int64_t number = 0;
  std::string run_id{};
  std::string state{};  // COMPLETE, PRUNED, RUNNING
  double valid_auc = std::numeric_limits<double>::quiet_NaN();
  double nodes = std::numeric_limits<double>::quiet_NaN();
  double trees = std::numeric_limits<double>::quiet_NaN();
  double us_per_row = std::numeric_limits<double>::quiet_NaN();
  double fit_seconds = std::numeric_limits<double>::quiet_NaN();
  bool front = false;
};

struct StudyTrials {
  std::vector<Trial> trials{};  // by number
  std::optional<int64_t> winner{};
  bool from_summary = false;  // read from pareto.json
};

absl::StatusOr<StudyTrials> TrialsFromSummary(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !Field(j, "trials").is_array()) {
    return absl::DataLossError("pareto.json is not a study summary");
  }
  std::set<std::string> front;
  for (const nlohmann::json& t : ArrayField(j, "front")) {
    front.insert(StringField(t, "run_id"));
  }
  StudyTrials out;
  out.from_summary = true;
  for (const nlohmann::json& t : ArrayField(j, "trials")) {
    Trial trial{.number = IntField(t, "trial"),
                .run_id = StringField(t, "run_id"),
                .state = StringField(t, "state"),
                .valid_auc = NumberField(t, "valid_auc"),
                .nodes = NumberField(t, "nodes"),
                .trees = NumberField(t, "trees"),
                .us_per_row = NumberField(t, "us_per_row"),
                .fit_seconds = NumberField(t, "fit_seconds"),
                .front = false};
    trial.front = front.contains(trial.run_id);
    out.trials.push_back(std::move(trial));
  }
  if (const int64_t w = IntField(j, "winner", -1); w >= 0) {
    out.winner = w;
  }
  return out;
}

double RunMetric(const registry::Run& run, absl::string_view key) {
  for (const registry::Metric& m : run.metrics) {
    if (m.key == key) {
      return m.value;
    }
  }
  return std::numeric_limits<double>::quiet_NaN();
}

// The study's front rule (train::QualityCostFront) over the complete trials.
void MarkFront(std::vector<Trial>* trials) {
  std::vector<Trial*> complete;
  std::vector<train::FrontPoint> points;
  for (Trial& t : *trials) {
    if (t.state == "COMPLETE" && std::isfinite(t.valid_auc) && std::isfinite(t.nodes)) {
      complete.push_back(&t);
      points.push_back({.valid_auc = t.valid_auc, .nodes = t.nodes});
    }
  }
  for (const size_t k : train::QualityCostFront(points)) {
    complete[k]->front = true;
  }
}

absl::StatusOr<StudyTrials> TrialsFromRuns(registry::Registry& reg, const registry::Run& study) {
  registry::SearchQuery query;
  query.experiment_ids = {study.info.experiment_id};
  query.filter = absl::StrCat("tags.`", kParentTag, "` = ", FilterLiteral(study.info.run_id));
  query.max_results = registry::kMaxSearchResults;
  CHURN_ASSIGN_OR_RETURN(registry::Page<registry::Run> page, reg.SearchRuns(query));
  StudyTrials out;
  for (const registry::Run& r : page.items) {
    Trial t;
    if (!absl::SimpleAtoi(TagOf(r.tags, "churn.trial"), &t.number)) {
      continue;
    }
    t.run_id = r.info.run_id;
    const std::string state = TagOf(r.tags, "churn.trial_state");
    t.state = r.info.status == registry::RunStatus::kFinished && !state.empty()
                  ? state
                  : registry::ToString(r.info.status);
    t.valid_auc = RunMetric(r, "valid_auc");
    t.nodes = RunMetric(r, "nodes");
    t.trees = RunMetric(r, "trees");
    t.us_per_row = RunMetric(r, "us_per_row");
    t.fit_seconds = RunMetric(r, "fit_seconds");
    out.trials.push_back(std::move(t));
  }
  MarkFront(&out.trials);
  if (int64_t w = 0; absl::SimpleAtoi(TagOf(study.tags, "churn.winner_trial"), &w)) {
    out.winner = w;
  }
  return out;
}

absl::StatusOr<StudyTrials> LoadStudyTrials(registry::Registry& reg, const registry::Run& study) {
  absl::StatusOr<std::string> summary = reg.ReadArtifact(study.info.run_id, "pareto.json");
  StudyTrials out;
  if (summary.ok()) {
    CHURN_ASSIGN_OR_RETURN(out, TrialsFromSummary(*summary));
  } else if (absl::IsNotFound(summary.status())) {
    CHURN_ASSIGN_OR_RETURN(out, TrialsFromRuns(reg, study));
  } else {
    return summary.status();
  }
  std::sort(out.trials.begin(), out.trials.end(),
            [](const Trial& a, const Trial& b) { return a.number < b.number; });
  return out;
}

std::string TrialLabel(const Trial& t) {
  return absl::StrCat("trial ", t.number, " (", t.state, "): valid AUC ", Number(t.valid_auc), ", ",
                      Number(t.nodes), " nodes, ", Number(t.us_per_row), " µs/row",
                      t.front ? ", on the front" : "");
}

std::vector<ScatterPoint> Points(const StudyTrials& s, bool by_latency) {
  std::vector<ScatterPoint> points;
  for (const Trial& t : s.trials) {
    points.push_back({.x = by_latency ? t.us_per_row : t.nodes,
                      .y = t.valid_auc,
                      .front = t.front,
                      .winner = s.winner == t.number,
                      .muted = t.state != "COMPLETE",
                      .label = TrialLabel(t),
                      .href = t.run_id.empty() ? std::string() : RunHref(t.run_id)});
  }
  return points;
}

// The best validation AUC so far, by trial number (complete trials).
std::string ProgressChart(const StudyTrials& s) {
  Series best{"best valid AUC so far", {}};
  Series each{"trial valid AUC", {}};
  double so_far = -std::numeric_limits<double>::infinity();
  for (const Trial& t : s.trials) {
    if (t.state != "COMPLETE" || !std::isfinite(t.valid_auc)) {
      continue;
    }
    so_far = std::max(so_far, t.valid_auc);
    best.points.emplace_back(static_cast<double>(t.number), so_far);
    each.points.emplace_back(static_cast<double>(t.number), t.valid_auc);
  }
  return LineChart({best, each}, "trial", "valid AUC");
}

std::string TrialsTable(const StudyTrials& s) {
  std::vector<std::vector<std::string>> rows;
  for (const Trial& t : s.trials) {
    const bool winner = s.winner == t.number;
    rows.push_back({RowClass(t.front ? "front" : "trial"),
                    t.run_id.empty() ? absl::StrCat(t.number)
                                     : Link(RunHref(t.run_id), absl::StrCat(t.number)),
                    Badge(t.state), Numeric(Number(t.valid_auc)), Numeric(Number(t.nodes)),
                    Numeric(Number(t.trees)), Numeric(Number(t.us_per_row)),
                    Numeric(Number(t.fit_seconds)), t.front ? "front" : "",
                    winner ? "<strong>winner</strong>" : ""});
  }
  return Table(
      {"Trial", "State", "valid AUC", "Nodes", "Trees", "µs/row", "Fit s", "Front", "Chosen"},
      rows);
}

std::string CompareFrontLink(const StudyTrials& s) {
  std::vector<std::string> parts;
  for (const Trial& t : s.trials) {
    if (t.front && !t.run_id.empty()) {
      parts.push_back(absl::StrCat("run=", UrlPart(t.run_id)));
    }
  }
  if (parts.size() < 2) {
    return "";
  }
  return absl::StrCat("<p>",
                      Link(absl::StrCat("/ui/compare?", absl::StrJoin(parts, "&")),
                           absl::StrCat("Compare the ", parts.size(), " front trials")),
                      "</p>\n");
}

absl::StatusOr<std::string> StudySummary(const PageContext& ctx, const registry::Run& study,
                                         const StudyTrials& s) {
  registry::SearchQuery query;
  query.filter = absl::StrCat("tags.study_run_id = ", FilterLiteral(study.info.run_id));
  query.max_results = 10;
  CHURN_ASSIGN_OR_RETURN(registry::Page<registry::ModelVersion> versions,
                         ctx.sources.registry->SearchModelVersions(query));
  std::string registered;
  for (const registry::ModelVersion& v : versions.items) {
    absl::StrAppend(&registered,
                    Link(VersionHref(v.name, v.version), absl::StrCat(v.name, " v", v.version)),
                    " ");
  }
  const int64_t complete = std::count_if(s.trials.begin(), s.trials.end(),
                                         [](const Trial& t) { return t.state == "COMPLETE"; });
  const int64_t pruned = std::count_if(s.trials.begin(), s.trials.end(),
                                       [](const Trial& t) { return t.state == "PRUNED"; });
  std::string winner = "-";
  for (const Trial& t : s.trials) {
    if (s.winner == t.number) {
      winner = absl::StrCat(Link(RunHref(t.run_id), absl::StrCat("trial ", t.number)),
                            ": valid AUC ", Number(t.valid_auc), ", ", Number(t.nodes), " nodes");
    }
  }
  const registry::RunInfo& info = study.info;
  return KeyValues(
      {{"Study run", Link(RunHref(info.run_id), info.run_id)},
       {"Status", Badge(registry::ToString(info.status))},
       {"Dataset", Esc(info.dataset_snapshot.empty() ? "-" : info.dataset_snapshot)},
       {"Started", TimeMs(info.start_time)},
       {"Duration", info.end_time ? DurationMs(*info.end_time - info.start_time)
                                  : Elapsed(info.start_time, 0, ctx.NowMs())},
       {"Trials", absl::StrCat(s.trials.size(), " (", complete, " complete, ", pruned, " pruned)")},
       {"Chosen", winner},
       {"Registered as", registered.empty() ? "-" : registered},
       {"Source", s.from_summary ? "pareto.json (the finished study)"
                                 : "the trial runs (the study has not finished)"}});
}

}  // namespace

absl::StatusOr<std::string> StudyPage(const PageContext& ctx, const std::string& run_id) {
  registry::Registry& reg = *ctx.sources.registry;
  absl::StatusOr<registry::Run> study = reg.GetRun(run_id);
  CHURN_RETURN_IF_ERROR(Lookup(study.status(), absl::StrCat("study run '", run_id, "'")));
  CHURN_ASSIGN_OR_RETURN(const StudyTrials trials, LoadStudyTrials(reg, *study));
  if (trials.trials.empty() && TagOf(study->tags, kKindTag) != "study") {
    return absl::NotFoundError(
        absl::StrCat("run '", run_id, "' is not a study (it has no trials)"));
  }
  CHURN_ASSIGN_OR_RETURN(const std::string summary, StudySummary(ctx, *study, trials));
  const std::string name = study->info.run_name.empty() ? run_id : study->info.run_name;
  PageWriter page(absl::StrCat("Study ", name), Section::kRuns);
  page.Add(absl::StrCat("<h1>Study ", Esc(name), "</h1>\n", summary));
  page.Add(
      "<h2>Quality against cost</h2>\n<p class=\"muted\">Each point is a trial (hollow: "
      "pruned); orange points form the front (no cheaper trial is as good), the ringed "
      "one was chosen. Points link to their runs.</p>\n<div class=\"charts\">\n");
  page.Add(Figure("valid AUC against tree nodes (the study's cost)",
                  ScatterChart(Points(trials, false), "tree nodes", "valid AUC", true)));
  page.Add(Figure("valid AUC against scoring time",
                  ScatterChart(Points(trials, true), "µs per row", "valid AUC", false)));
  page.Add(Figure("search progress", ProgressChart(trials)));
  page.Add("</div>\n");
  page.Add(CompareFrontLink(trials));
  page.Add("<h2>Trials</h2>\n");
  page.Add(trials.trials.empty() ? Empty("No trial finished yet.") : TrialsTable(trials));
  return page.Finish(ctx.now);
}

}  // namespace churn::console::internal
