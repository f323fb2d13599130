// The overview, the reports on disk and the live drift of the served model.
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "console/charts.h"
#include "console/html.h"
#include "console/json_fields.h"
#include "console/pages.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"
#include "churn/report/html_report.h"
#include "churn/report/report_folder.h"

namespace churn::console::internal {
namespace {

using nlohmann::json;

constexpr size_t kOverviewRows = 8;
constexpr int kDriftRefreshSeconds = 15;

std::string Percent(double share) {
  return std::isfinite(share) ? absl::StrFormat("%.1f%%", share * 100.0) : "-";
}

// --- Reports ---------------------------------------------------------------------------------

std::string ReportHref(const PageContext& ctx, const std::string& file) {
  return absl::StrCat(ctx.sources.reports_url, UrlPart(file));
}

std::string VerdictBadge(const drift::DatasetDriftResult& d) {
  if (d.columns == 0) {
    return "-";
  }
  return absl::StrCat(Badge(d.drifted ? "drifted" : "no drift"), " ", d.drifted_columns, " of ",
                      d.columns, " (", Percent(d.share), ")");
}

std::string ReportModel(const report::ReportEntry& e) {
  if (e.model_name.empty()) {
    return "-";
  }
  if (e.model_version <= 0) {
    return Esc(e.model_name);
  }
  return Link(VersionHref(e.model_name, e.model_version),
              absl::StrCat(e.model_name, " v", e.model_version));
}

std::string FileSize(const std::filesystem::path& path) {
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  return error ? "-" : Bytes(static_cast<int64_t>(size));
}

std::string ReportsTable(const PageContext& ctx, const std::vector<report::ReportEntry>& entries,
                         size_t limit) {
  std::vector<std::vector<std::string>> rows;
  for (const report::ReportEntry& e : entries) {
    if (rows.size() == limit) {
      break;
    }
    rows.push_back(
        {RowClass(e.dataset.drifted ? "report drifted" : "report"),
         Link(ReportHref(ctx, e.file_name), e.file_name), VerdictBadge(e.dataset), ReportModel(e),
         absl::StrCat(TimeAt(e.since), " – ", TimeAt(e.until)), TimeAt(e.generated_at),
         Numeric(FileSize(std::filesystem::path(ctx.sources.reports_dir) / e.file_name))});
  }
  return Table({"Report", "Dataset drift", "Model", "Window (UTC)", "Generated (UTC)", "Size"},
               rows);
}

// --- Live drift ------------------------------------------------------------------------------

std::string ResultCells(const json& r) {
  return absl::StrCat(Esc(StringField(r, "test")), " ", Number(NumberField(r, "score")),
                      " <span class=\"muted\">threshold ", Number(NumberField(r, "threshold")),
                      "</span> ", Badge(BoolField(r, "drifted") ? "drifted" : "no drift"));
}

std::string QualityText(const json& q) {
  std::string out;
  for (const char* key : {"roc_auc", "precision", "recall", "f1", "accuracy"}) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", key, " ", Number(NumberField(q, key)));
  }
  return out;
}

std::string WindowCard(const json& w) {
  const std::string name = StringField(w, "window");
  std::string out = absl::StrCat("<div class=\"card window\"><h2>", Esc(name), " window</h2>\n");
  if (!BoolField(w, "computed")) {
    absl::StrAppend(&out,
                    Empty(absl::StrCat("Not computed yet: ", IntField(w, "rows"),
                                       " predictions in the window (too few).")),
                    "</div>\n");
    return out;
  }
  const json& d = Field(w, "dataset");
  absl::StrAppend(
      &out,
      KeyValues({{"Dataset drift",
                  absl::StrCat(Badge(BoolField(d, "drifted") ? "drifted" : "no drift"), " ",
                               IntField(d, "drifted_columns"), " of ", IntField(d, "columns"),
                               " features (", Percent(NumberField(d, "share")), "; threshold ",
                               Percent(NumberField(d, "threshold")), ")")},
                 {"Predictions", absl::StrCat(IntField(w, "rows"))},
                 {"Prediction drift", ResultCells(Field(w, "prediction"))},
                 {"Mean score", Number(NumberField(w, "score_mean"))},
                 {"Estimated (CBPE)", QualityText(Field(w, "estimated_quality"))}}),
      "</div>\n");
  return out;
}

// Features in the order of the first window that has them; cells[feature][window].
struct FeatureGrid {
  std::vector<std::string> features;
  std::vector<std::string> windows;
  std::vector<std::vector<const json*>> cells;
};

FeatureGrid Grid(const json& windows) {
  FeatureGrid g;
  std::map<std::string, size_t> row_of;
  for (const json& w : windows) {
    g.windows.push_back(StringField(w, "window"));
  }
  for (size_t wi = 0; wi < windows.size(); ++wi) {
    for (const json& c : ArrayField(windows[wi], "columns")) {
      const std::string feature = StringField(c, "feature");
      auto [it, added] = row_of.emplace(feature, g.features.size());
      if (added) {
        g.features.push_back(feature);
        g.cells.emplace_back(g.windows.size(), nullptr);
      }
      g.cells[it->second][wi] = &c;
    }
  }
  return g;
}

std::string DriftMapOf(const FeatureGrid& g) {
  std::vector<std::vector<DriftCell>> cells;
  for (const std::vector<const json*>& row : g.cells) {
    std::vector<DriftCell>& out = cells.emplace_back();
    for (const json* c : row) {
      out.push_back(
          c == nullptr
              ? DriftCell{}
              : DriftCell{.computed = true,
                          .drifted = BoolField(*c, "drifted"),
                          .text = absl::StrCat(StringField(*c, "test"), " ",
                                               absl::StrFormat("%.3g", NumberField(*c, "score")))});
    }
  }
  return DriftMap(g.features, g.windows, cells);
}

std::string FeatureTable(const FeatureGrid& g) {
  std::vector<std::string> head = {"Feature"};
  for (const std::string& w : g.windows) {
    for (const char* h : {" test", " score", " threshold", ""}) {
      head.push_back(absl::StrCat(Esc(w), h));
    }
  }
  std::vector<std::vector<std::string>> rows;
  for (size_t f = 0; f < g.features.size(); ++f) {
    bool drifted = false;
    std::vector<std::string> row = {"", Esc(g.features[f])};
    for (const json* c : g.cells[f]) {
      if (c == nullptr) {
        row.insert(row.end(), {"-", "-", "-", "-"});
        continue;
      }
      drifted = drifted || BoolField(*c, "drifted");
      row.insert(row.end(),
                 {Esc(StringField(*c, "test")), Numeric(Number(NumberField(*c, "score"))),
                  Numeric(Number(NumberField(*c, "threshold"))),
                  Badge(BoolField(*c, "drifted") ? "drifted" : "no drift")});
    }
    row[0] = RowClass(drifted ? "feature drifted" : "feature");
    rows.push_back(std::move(row));
  }
  return Table(head, rows);
}

std::string LabeledSection(const json& labeled) {
  std::string out = "<h2>Realized quality</h2>\n";
  if (!BoolField(labeled, "computed")) {
    absl::StrAppend(&out, Empty(absl::StrCat("Not enough feedback labels yet (",
                                             IntField(labeled, "rows"), " labeled predictions).")));
    return out;
  }
  absl::StrAppend(&out, KeyValues({{"Labeled predictions", absl::StrCat(IntField(labeled, "rows"))},
                                   {"Churned", absl::StrCat(IntField(labeled, "positives"))},
                                   {"Quality", QualityText(Field(labeled, "realized_quality"))},
                                   {"Target drift", ResultCells(Field(labeled, "target"))}}));
  return out;
}

std::string ModelOfDrift(const json& model) {
  const std::string name = StringField(model, "name");
  const int64_t version = IntField(model, "version");
  if (name.empty()) {
    return "-";
  }
  return Link(VersionHref(name, version), absl::StrCat(name, " v", version));
}

// The page body for a report that is being monitored.
std::string MonitoredDrift(const json& j) {
  const FeatureGrid grid = Grid(ArrayField(j, "windows"));
  std::string out =
      KeyValues({{"Model", ModelOfDrift(Field(j, "model"))},
                 {"Reference rows", absl::StrCat(IntField(j, "reference_rows"))},
                 {"Predictions observed", absl::StrCat(IntField(j, "observed"))},
                 {"Feedback labels", absl::StrCat(IntField(j, "labels_matched"), " matched, ",
                                                  IntField(j, "labels_unmatched"), " unmatched")},
                 {"Computed in", absl::StrFormat("%.3f s", NumberField(j, "compute_seconds"))}});
  absl::StrAppend(&out, "<div class=\"grid\">\n");
  for (const json& w : ArrayField(j, "windows")) {
    absl::StrAppend(&out, WindowCard(w));
  }
  absl::StrAppend(&out, "</div>\n<h2>Features</h2>\n");
  if (grid.features.empty()) {
    absl::StrAppend(&out, Empty("No window has enough predictions yet."));
  } else {
    absl::StrAppend(&out, Figure("drift per feature and window", DriftMapOf(grid)),
                    FeatureTable(grid));
  }
  absl::StrAppend(&out, LabeledSection(Field(j, "labeled")));
  return out;
}

// The live drift as parsed JSON, or a sentence saying why there is none.
std::pair<json, std::string> LiveDrift(const ConsoleSources& sources) {
  if (!sources.drift_json) {
    return {json(), "Live drift is shown on the console of the model server (churn serve http)."};
  }
  const std::string text = sources.drift_json();
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (text.empty() || j.is_discarded() || !j.is_object()) {
    return {json(), "The drift monitor has not computed a window yet."};
  }
  if (!BoolField(j, "monitored")) {
    const std::string reason = StringField(j, "reason");
    return {json(), absl::StrCat("Drift is not monitored: ",
                                 reason.empty() ? "drift monitoring is off" : reason, ".")};
  }
  return {std::move(j), ""};
}

// --- Overview --------------------------------------------------------------------------------

std::string Card(absl::string_view title, absl::string_view href, const std::string& body) {
  return absl::StrCat("<section class=\"card\"><h2>", Link(href, title), "</h2>\n", body,
                      "</section>\n");
}

std::string ModelCard(const PageContext& ctx) {
  const std::string& name = ctx.sources.model_name;
  absl::StatusOr<registry::RegisteredModel> m = ctx.sources.registry->GetRegisteredModel(name);
  if (absl::IsNotFound(m.status())) {
    return Empty(absl::StrCat("No model '", name, "' yet: churn train registers it."));
  }
  if (!m.ok()) {
    return Empty(absl::StrCat("Unavailable: ", m.status().message()));
  }
  std::vector<std::pair<std::string, std::string>> items = {{"Model", Link(ModelHref(name), name)}};
  for (const auto& [alias, version] : m->aliases) {
    items.emplace_back(alias, Link(VersionHref(name, version), absl::StrCat("v", version)));
  }
  if (m->latest_version) {
    items.emplace_back("latest", Link(VersionHref(name, *m->latest_version),
                                      absl::StrCat("v", *m->latest_version)));
  }
  return KeyValues(items);
}

std::string RecentRunsCard(const PageContext& ctx) {
  registry::Registry& reg = *ctx.sources.registry;
  registry::SearchQuery experiments;
  experiments.max_results = 1000;
  absl::StatusOr<registry::Page<registry::Experiment>> exps = reg.SearchExperiments(experiments);
  if (!exps.ok()) {
    return Empty(absl::StrCat("Unavailable: ", exps.status().message()));
  }
  registry::SearchQuery query;
  for (const registry::Experiment& e : exps->items) {
    query.experiment_ids.push_back(e.experiment_id);
  }
  if (query.experiment_ids.empty()) {
    return Empty("No runs yet.");
  }
  query.max_results = kOverviewRows;
  absl::StatusOr<registry::Page<registry::Run>> runs = reg.SearchRuns(query);
  if (!runs.ok()) {
    return Empty(absl::StrCat("Unavailable: ", runs.status().message()));
  }
  std::vector<std::vector<std::string>> rows;
  for (const registry::Run& r : runs->items) {
    rows.push_back(
        {Link(RunHref(r.info.run_id), r.info.run_name.empty() ? r.info.run_id : r.info.run_name),
         Badge(registry::ToString(r.info.status)), TimeMs(r.info.start_time)});
  }
  return rows.empty() ? Empty("No runs yet.") : Table({"Run", "Status", "Started"}, rows);
}

std::string FlowRunsCard(const PageContext& ctx) {
  if (ctx.sources.runs == nullptr) {
    return Empty("No flow-run store configured here.");
  }
  absl::StatusOr<std::vector<flows::FlowRun>> runs =
      ctx.sources.runs->ListRuns({.flow = "", .states = {}, .limit = kOverviewRows});
  if (!runs.ok()) {
    return Empty(absl::StrCat("Unavailable: ", runs.status().message()));
  }
  std::vector<std::vector<std::string>> rows;
  for (const flows::FlowRun& r : *runs) {
    rows.push_back({Link(FlowRunHref(r.id), absl::StrCat("#", r.id)), Esc(r.flow),
                    Badge(flows::RunStateName(r.state)),
                    TimeMs(r.start_ms != 0 ? r.start_ms : r.scheduled_ms)});
  }
  return rows.empty() ? Empty("No flow has run yet.")
                      : Table({"Run", "Flow", "State", "Started"}, rows);
}

std::string ReportsCard(const PageContext& ctx) {
  if (ctx.sources.reports_dir.empty()) {
    return Empty("No reports folder configured.");
  }
  absl::StatusOr<std::vector<report::ReportEntry>> entries =
      report::ListReports(ctx.sources.reports_dir);
  if (!entries.ok()) {
    return Empty(absl::StrCat("Unavailable: ", entries.status().message()));
  }
  std::vector<std::vector<std::string>> rows;
  for (const report::ReportEntry& e : *entries) {
    if (rows.size() == kOverviewRows / 2) {
      break;
    }
    rows.push_back({Link(ReportHref(ctx, e.file_name), e.file_name), VerdictBadge(e.dataset)});
  }
  return rows.empty() ? Empty("No report yet.") : Table({"Report", "Dataset drift"}, rows);
}

std::string DriftCard(const PageContext& ctx) {
  auto [live, why] = LiveDrift(ctx.sources);
  if (!why.empty()) {
    return Empty(why);
  }
  std::vector<std::pair<std::string, std::string>> items = {
      {"Model", ModelOfDrift(Field(live, "model"))}};
  for (const json& w : ArrayField(live, "windows")) {
    const json& d = Field(w, "dataset");
    items.emplace_back(
        absl::StrCat(StringField(w, "window"), " window"),
        BoolField(w, "computed")
            ? absl::StrCat(Badge(BoolField(d, "drifted") ? "drifted" : "no drift"), " ",
                           IntField(d, "drifted_columns"), " of ", IntField(d, "columns"))
            : "<span class=\"muted\">not computed</span>");
  }
  return KeyValues(items);
}

}  // namespace

absl::StatusOr<std::string> ReportsPage(const PageContext& ctx) {
  PageWriter page("Reports", Section::kReports);
  page.Add("<h1>Drift reports</h1>\n");
  if (ctx.sources.reports_dir.empty()) {
    page.Add(Empty("No reports folder is configured (report.dir)."));
    return page.Finish(ctx.now);
  }
  CHURN_ASSIGN_OR_RETURN(const std::vector<report::ReportEntry> entries,
                         report::ListReports(ctx.sources.reports_dir));
  page.Add(absl::StrCat("<p>", entries.size(), " reports, newest first. ",
                        Link(ctx.sources.reports_url, "The index page"),
                        " lists them as well; <code>churn report</code> writes one now.</p>\n"));
  page.Add(entries.empty() ? Empty("No report yet.") : ReportsTable(ctx, entries, entries.size()));
  return page.Finish(ctx.now);
}

absl::StatusOr<std::string> DriftPage(const PageContext& ctx) {
  PageWriter page("Live drift", Section::kDrift);
  page.RefreshEvery(kDriftRefreshSeconds);
  page.Add("<h1>Live drift</h1>\n");
  auto [live, why] = LiveDrift(ctx.sources);
  if (!why.empty()) {
    page.Add(Empty(why));
    return page.Finish(ctx.now);
  }
  page.Add(
      absl::StrCat("<p class=\"muted\">The served version's recent predictions against its "
                   "training reference; this page reloads every ",
                   kDriftRefreshSeconds, " s.</p>\n"));
  page.Add(MonitoredDrift(live));
  return page.Finish(ctx.now);
}

absl::StatusOr<std::string> OverviewPage(const PageContext& ctx) {
  PageWriter page("Overview", Section::kOverview);
  page.Add("<h1>churn console</h1>\n<div class=\"grid\">\n");
  page.Add(Card("Model", ModelHref(ctx.sources.model_name), ModelCard(ctx)));
  page.Add(Card("Live drift", "/ui/drift", DriftCard(ctx)));
  page.Add(Card("Latest runs", "/ui/runs", RecentRunsCard(ctx)));
  page.Add(Card("Flow runs", "/ui/flows", FlowRunsCard(ctx)));
  page.Add(Card("Reports", "/ui/reports", ReportsCard(ctx)));
  page.Add("</div>\n");
  return page.Finish(ctx.now);
}

}  // namespace churn::console::internal
