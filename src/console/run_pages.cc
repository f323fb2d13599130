// Runs: the list (filtered in MLflow's syntax, checkboxes to compare), one run (metrics with
// their history charts, params, tags, files, parent study, versions registered from it) and
// several runs side by side.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "console/charts.h"
#include "console/html.h"
#include "console/pages.h"

#include "churn/base/status_macros.h"

namespace churn::console::internal {
namespace {

using registry::Metric;
using registry::Run;
using registry::RunStatus;

constexpr int64_t kDefaultRuns = 100;
constexpr int64_t kMaxRunsShown = 1000;
constexpr size_t kRunMetricColumns = 4;
constexpr size_t kMaxCompared = 12;
constexpr size_t kMaxHistoryCharts = 12;
constexpr int64_t kMaxHistoryPoints = 5000;
// The metrics a runs table prefers as columns (the training flow's).
constexpr const char* kPreferredRunMetrics[] = {"valid_auc", "test_auc", "nodes", "us_per_row"};

std::string RunDuration(const registry::RunInfo& info, int64_t now_ms) {
  if (info.end_time) {
    return DurationMs(*info.end_time - info.start_time);
  }
  return info.status == RunStatus::kRunning ? Elapsed(info.start_time, 0, now_ms) : "-";
}

// A run's parent: the study page for a trial, the run page otherwise.
std::string ParentCell(const Run& run) {
  const std::string parent = TagOf(run.tags, kParentTag);
  if (parent.empty()) {
    return "-";
  }
  if (!TagOf(run.tags, "churn.trial").empty()) {
    return Link(StudyHref(parent), absl::StrCat("study ", parent.substr(0, 8)));
  }
  return Link(RunHref(parent), parent.substr(0, 8));
}

std::string RunName(const Run& run) {
  return run.info.run_name.empty() ? run.info.run_id : run.info.run_name;
}

const Metric* FindMetric(const Run& run, absl::string_view key) {
  for (const Metric& m : run.metrics) {
    if (m.key == key) {
      return &m;
    }
  }
  return nullptr;
}

// The metrics most of `runs` have, the preferred ones first.
std::vector<std::string> CommonMetrics(const std::vector<Run>& runs) {
  std::map<std::string, int> counts;
  for (const Run& r : runs) {
    for (const Metric& m : r.metrics) {
      ++counts[m.key];
    }
  }
  std::vector<std::string> out;
  for (const char* key : kPreferredRunMetrics) {
    if (counts.contains(key)) {
      out.emplace_back(key);
      counts.erase(key);
    }
  }
  std::vector<std::pair<int, std::string>> ranked;
  ranked.reserve(counts.size());
  for (const auto& [key, n] : counts) {
    ranked.emplace_back(-n, key);
  }
  std::sort(ranked.begin(), ranked.end());
  for (const auto& entry : ranked) {
    out.push_back(entry.second);
  }
  out.resize(std::min(out.size(), kRunMetricColumns));
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ExperimentNames(registry::Registry& reg) {
  registry::SearchQuery query;
  query.max_results = 1000;
  CHURN_ASSIGN_OR_RETURN(registry::Page<registry::Experiment> page, reg.SearchExperiments(query));
  std::map<std::string, std::string> out;
  for (const registry::Experiment& e : page.items) {
    out[e.experiment_id] = e.name;
  }
  return out;
}

std::string RunsFilterForm(const std::map<std::string, std::string>& experiments,
                           const std::string& selected, const std::string& filter, int64_t max) {
  std::string out = R"(<form class="filters" method="get" action="/ui/runs"><label>Experiment)"
                    R"(<select name="experiment"><option value="">all</option>)";
  for (const auto& [id, name] : experiments) {
    absl::StrAppend(&out, "<option value=\"", Esc(id), "\"", id == selected ? " selected" : "", ">",
                    Esc(name), "</option>");
  }
  absl::StrAppend(&out,
                  "</select></label><label>Filter (MLflow syntax)<input type=\"text\" "
                  R"(name="filter" value=")",
                  Esc(filter),
                  R"(" placeholder="metrics.valid_auc &gt; 0.99"></label>)"
                  R"(<label>Max<input type="number" name="max" min="1" max=")",
                  kMaxRunsShown, "\" value=\"", max,
                  "\"></label><button type=\"submit\">Apply</button></form>\n");
  return out;
}

// Every point of one metric's history (first kMaxHistoryPoints), as (step, value).
absl::StatusOr<std::vector<std::pair<double, double>>> History(registry::Registry& reg,
                                                               const std::string& run_id,
                                                               const std::string& key) {
  CHURN_ASSIGN_OR_RETURN(registry::Page<Metric> page,
                         reg.GetMetricHistory(run_id, key, kMaxHistoryPoints, ""));
  std::vector<std::pair<double, double>> out;
  out.reserve(page.items.size());
  for (const Metric& m : page.items) {
    out.emplace_back(static_cast<double>(m.step), m.value);
  }
  return out;
}

// Whether the values span several steps (a metric logged again at the same step, as the
// training flow logs the winner's, is no history).
bool IsHistory(const std::vector<std::pair<double, double>>& points) {
  return std::any_of(points.begin(), points.end(),
                     [&points](const auto& p) { return p.first != points.front().first; });
}

absl::StatusOr<std::string> HistoryCharts(registry::Registry& reg, const Run& run) {
  std::string out;
  size_t charts = 0;
  for (const Metric& m : run.metrics) {
    if (charts == kMaxHistoryCharts) {
      break;
    }
    CHURN_ASSIGN_OR_RETURN(auto points, History(reg, run.info.run_id, m.key));
    if (IsHistory(points)) {
      ++charts;
      const std::string caption = absl::StrCat(m.key, " (", points.size(), " points)");
      absl::StrAppend(&out,
                      Figure(caption, LineChart({{m.key, std::move(points)}}, "step", m.key)));
    }
  }
  return charts == 0 ? std::string() : absl::StrCat("<div class=\"charts\">\n", out, "</div>\n");
}

absl::StatusOr<std::string> VersionsFromRun(registry::Registry& reg, const std::string& run_id) {
  registry::SearchQuery query;
  query.filter = absl::StrCat("run_id = ", FilterLiteral(run_id));
  query.max_results = 100;
  CHURN_ASSIGN_OR_RETURN(registry::Page<registry::ModelVersion> page,
                         reg.SearchModelVersions(query));
  std::string out;
  for (const registry::ModelVersion& v : page.items) {
    absl::StrAppend(
        &out, Link(VersionHref(v.name, v.version), absl::StrCat(v.name, " v", v.version)), " ");
  }
  return out;
}

std::string KeyValueTable(const std::vector<std::pair<std::string, std::string>>& items,
                          absl::string_view key_head) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(items.size());
  for (const auto& [key, value] : items) {
    rows.push_back({Esc(key), absl::StrCat("<span class=\"wrap\">", Esc(value), "</span>")});
  }
  return Table({std::string(key_head), "Value"}, rows);
}

template <typename List>
std::vector<std::pair<std::string, std::string>> Pairs(const List& list) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(list.size());
  for (const auto& item : list) {
    out.emplace_back(item.key, item.value);
  }
  return out;
}

absl::StatusOr<std::string> RunSummary(const PageContext& ctx, const Run& run) {
  registry::Registry& reg = *ctx.sources.registry;
  absl::StatusOr<registry::Experiment> exp = reg.GetExperiment(run.info.experiment_id);
  const std::string exp_name = exp.ok() ? exp->name : run.info.experiment_id;
  CHURN_ASSIGN_OR_RETURN(const std::string versions, VersionsFromRun(reg, run.info.run_id));
  std::vector<std::pair<std::string, std::string>> items = {
      {"Run id", Esc(run.info.run_id)},
      {"Experiment",
       Link(absl::StrCat("/ui/runs?experiment=", UrlPart(run.info.experiment_id)), exp_name)},
      {"Status", Badge(registry::ToString(run.info.status))},
      {"Started", TimeMs(run.info.start_time)},
      {"Ended", run.info.end_time ? TimeMs(*run.info.end_time) : "-"},
      {"Duration", RunDuration(run.info, ctx.NowMs())},
      {"User", Esc(run.info.user_id.empty() ? "-" : run.info.user_id)},
      {"Dataset", Esc(run.info.dataset_snapshot.empty() ? "-" : run.info.dataset_snapshot)},
      {"Parent", ParentCell(run)}};
  if (TagOf(run.tags, kKindTag) == "study") {
    items.emplace_back("Study", Link(StudyHref(run.info.run_id), "trials and their front"));
  }
  items.emplace_back("Registered as", versions.empty() ? "-" : versions);
  return KeyValues(items);
}

// A compared field: one HTML cell per run, and whether they differ.
struct CompareRow {
  std::string label;
  std::vector<std::string> cells;
};

std::vector<CompareRow> CompareRows(const PageContext& ctx, const std::vector<Run>& runs) {
  std::vector<CompareRow> rows = {
      {"Status", {}}, {"Started", {}}, {"Duration", {}}, {"Dataset", {}}, {"Parent", {}}};
  for (const Run& r : runs) {
    rows[0].cells.push_back(Badge(registry::ToString(r.info.status)));
    rows[1].cells.push_back(TimeMs(r.info.start_time));
    rows[2].cells.push_back(RunDuration(r.info, ctx.NowMs()));
    rows[3].cells.push_back(Esc(r.info.dataset_snapshot.empty() ? "-" : r.info.dataset_snapshot));
    rows[4].cells.push_back(ParentCell(r));
  }
  std::map<std::string, std::vector<std::string>> fields;
  for (size_t i = 0; i < runs.size(); ++i) {
    for (const registry::Param& p : runs[i].params) {
      auto& cells = fields["params." + p.key];
      cells.resize(runs.size(), "-");
      cells[i] = Esc(p.value);
    }
    for (const Metric& m : runs[i].metrics) {
      auto& cells = fields["metrics." + m.key];
      cells.resize(runs.size(), "-");
      cells[i] = Numeric(Number(m.value));
    }
  }
  for (auto& field : fields) {
    field.second.resize(runs.size(), "-");
    rows.push_back({field.first, std::move(field.second)});
  }
  return rows;
}

bool Differs(const CompareRow& row) {
  return std::any_of(row.cells.begin(), row.cells.end(),
                     [&row](const std::string& c) { return c != row.cells.front(); });
}

absl::StatusOr<std::string> OverlaidHistories(registry::Registry& reg,
                                              const std::vector<Run>& runs) {
  std::set<std::string> keys;
  for (const Run& r : runs) {
    for (const Metric& m : r.metrics) {
      keys.insert(m.key);
    }
  }
  std::string out;
  size_t charts = 0;
  for (const std::string& key : keys) {
    std::vector<Series> series;
    bool any_history = false;
    for (const Run& r : runs) {
      if (FindMetric(r, key) == nullptr) {
        continue;
      }
      CHURN_ASSIGN_OR_RETURN(auto points, History(reg, r.info.run_id, key));
      any_history = any_history || IsHistory(points);
      series.push_back({RunName(r), std::move(points)});
    }
    if (any_history && charts < kMaxHistoryCharts) {
      ++charts;
      absl::StrAppend(&out, Figure(key, LineChart(series, "step", key)));
    }
  }
  return charts == 0 ? std::string() : absl::StrCat("<div class=\"charts\">\n", out, "</div>\n");
}

std::string RunsTable(const PageContext& ctx, const std::vector<Run>& runs, bool checkboxes) {
  const std::vector<std::string> metrics = CommonMetrics(runs);
  std::vector<std::string> head;
  if (checkboxes) {
    head.emplace_back("<span class=\"muted\">Compare</span>");
  }
  for (const char* h : {"Run", "Status", "Started (UTC)", "Duration", "Parent"}) {
    head.emplace_back(h);
  }
  for (const std::string& key : metrics) {
    head.push_back(Esc(key));
  }
  std::vector<std::vector<std::string>> rows;
  for (const Run& r : runs) {
    std::vector<std::string> row;
    if (checkboxes) {
      row.push_back(absl::StrCat(R"(<input type="checkbox" name="run" value=")", Esc(r.info.run_id),
                                 "\" aria-label=\"compare ", Esc(RunName(r)), "\">"));
    }
    row.push_back(Link(RunHref(r.info.run_id), RunName(r)));
    row.push_back(Badge(registry::ToString(r.info.status)));
    row.push_back(TimeMs(r.info.start_time));
    row.push_back(RunDuration(r.info, ctx.NowMs()));
    row.push_back(ParentCell(r));
    for (const std::string& key : metrics) {
      const Metric* m = FindMetric(r, key);
      row.push_back(Numeric(m == nullptr ? "-" : Number(m->value)));
    }
    rows.push_back(std::move(row));
  }
  return Table(head, rows);
}

}  // namespace

absl::StatusOr<std::string> RunsPage(const PageContext& ctx) {
  registry::Registry& reg = *ctx.sources.registry;
  CHURN_ASSIGN_OR_RETURN(const int64_t max,
                         IntParam(ctx.request, "max", kDefaultRuns, 1, kMaxRunsShown));
  const std::string experiment = ctx.request.Query("experiment").value_or("");
  const std::string filter = ctx.request.Query("filter").value_or("");
  CHURN_ASSIGN_OR_RETURN(const auto experiments, ExperimentNames(reg));
  PageWriter page("Runs", Section::kRuns);
  page.Add("<h1>Runs</h1>\n");
  page.Add(RunsFilterForm(experiments, experiment, filter, max));
  registry::SearchQuery query;
  if (!experiment.empty()) {
    CHURN_RETURN_IF_ERROR(Lookup(reg.GetExperiment(experiment).status(),
                                 absl::StrCat("experiment '", experiment, "'")));
    query.experiment_ids = {experiment};
  } else {
    for (const auto& entry : experiments) {
      query.experiment_ids.push_back(entry.first);
    }
  }
  if (query.experiment_ids.empty()) {
    page.Add(Empty("No experiment yet: `churn train` creates one."));
    return page.Finish(ctx.now);
  }
  query.filter = filter;
  query.max_results = max;
  absl::StatusOr<registry::Page<Run>> runs = reg.SearchRuns(query);
  if (absl::IsInvalidArgument(runs.status())) {
    return absl::InvalidArgumentError(
        absl::StrCat("query parameter 'filter': ", runs.status().message()));
  }
  CHURN_RETURN_IF_ERROR(runs.status());
  if (runs->items.empty()) {
    page.Add(Empty(filter.empty() ? "No runs." : "No run matches the filter."));
    return page.Finish(ctx.now);
  }
  page.Add(absl::StrCat("<p class=\"muted\">", runs->items.size(), " runs, newest first",
                        runs->next_page_token.empty() ? "" : " (more: raise max)", ".</p>\n"));
  page.Add("<form method=\"get\" action=\"/ui/compare\">\n");
  page.Add(RunsTable(ctx, runs->items, /*checkboxes=*/true));
  page.Add("<p><button type=\"submit\">Compare selected runs</button></p>\n</form>\n");
  return page.Finish(ctx.now);
}

absl::StatusOr<std::string> RunPage(const PageContext& ctx, const std::string& run_id) {
  registry::Registry& reg = *ctx.sources.registry;
  absl::StatusOr<Run> run = reg.GetRun(run_id);
  CHURN_RETURN_IF_ERROR(Lookup(run.status(), absl::StrCat("run '", run_id, "'")));
  CHURN_ASSIGN_OR_RETURN(const std::string summary, RunSummary(ctx, *run));
  CHURN_ASSIGN_OR_RETURN(const std::string charts, HistoryCharts(reg, *run));
  CHURN_ASSIGN_OR_RETURN(const auto artifacts, reg.ListArtifacts(run_id, ""));
  PageWriter page(absl::StrCat("Run ", RunName(*run)), Section::kRuns);
  page.Add(absl::StrCat("<h1>Run ", Esc(RunName(*run)), "</h1>\n", summary));
  page.Add("<h2>Metrics</h2>\n");
  std::vector<std::vector<std::string>> metrics;
  for (const Metric& m : run->metrics) {
    metrics.push_back(
        {Esc(m.key), Numeric(Number(m.value)), Numeric(absl::StrCat(m.step)), TimeMs(m.timestamp)});
  }
  page.Add(metrics.empty() ? Empty("No metric logged.")
                           : Table({"Metric", "Latest", "Step", "Logged (UTC)"}, metrics));
  page.Add(charts);
  page.Add("<h2>Params</h2>\n");
  page.Add(run->params.empty() ? Empty("No params.") : KeyValueTable(Pairs(run->params), "Param"));
  page.Add("<h2>Tags</h2>\n");
  page.Add(run->tags.empty() ? Empty("No tags.") : KeyValueTable(Pairs(run->tags), "Tag"));
  page.Add("<h2>Files</h2>\n");
  std::vector<std::vector<std::string>> files;
  files.reserve(artifacts.size());
  for (const registry::ArtifactRef& a : artifacts) {
    files.push_back({Esc(a.path), Numeric(Bytes(a.size)), Esc(a.sha256.substr(0, 16))});
  }
  page.Add(files.empty() ? Empty("No files.") : Table({"Path", "Size", "sha256"}, files));
  return page.Finish(ctx.now);
}

absl::StatusOr<std::string> ComparePage(const PageContext& ctx) {
  registry::Registry& reg = *ctx.sources.registry;
  const std::vector<std::string> ids = ParamValues(ctx.request, "run");
  if (ids.size() < 2 || ids.size() > kMaxCompared) {
    return absl::InvalidArgumentError(
        absl::StrCat("query parameter 'run': give 2 to ", kMaxCompared,
                     " run ids to compare (run=A&run=B), got ", ids.size()));
  }
  std::vector<Run> runs;
  for (const std::string& id : ids) {
    absl::StatusOr<Run> run = reg.GetRun(id);
    CHURN_RETURN_IF_ERROR(Lookup(run.status(), absl::StrCat("run '", id, "'")));
    runs.push_back(*std::move(run));
  }
  const bool only_diff = ctx.request.Query("diff").value_or("") == "1";
  std::string self = "/ui/compare?";
  for (const std::string& id : ids) {
    absl::StrAppend(&self, "run=", UrlPart(id), "&");
  }
  std::vector<std::string> head = {"Field"};
  for (const Run& r : runs) {
    head.push_back(Link(RunHref(r.info.run_id), RunName(r)));
  }
  std::vector<std::vector<std::string>> rows;
  size_t differing = 0;
  for (CompareRow& row : CompareRows(ctx, runs)) {
    const bool differs = Differs(row);
    differing += differs ? 1 : 0;
    if (only_diff && !differs) {
      continue;
    }
    std::vector<std::string> cells = {RowClass(differs ? "diff" : "same"),
                                      absl::StrCat(differs ? "≠ " : "", Esc(row.label))};
    std::move(row.cells.begin(), row.cells.end(), std::back_inserter(cells));
    rows.push_back(std::move(cells));
  }
  CHURN_ASSIGN_OR_RETURN(const std::string charts, OverlaidHistories(reg, runs));
  PageWriter page("Compare runs", Section::kRuns);
  page.Add(absl::StrCat("<h1>Compare ", runs.size(), " runs</h1>\n<p>", differing,
                        " fields differ (marked ≠). ",
                        only_diff ? Link(absl::StrCat(self, "diff=0"), "Show every field")
                                  : Link(absl::StrCat(self, "diff=1"), "Show only differences"),
                        "</p>\n"));
  page.Add(Table(head, rows));
  if (!charts.empty()) {
    page.Add(absl::StrCat("<h2>Metric histories</h2>\n", charts));
  }
  return page.Finish(ctx.now);
}

}  // namespace churn::console::internal
