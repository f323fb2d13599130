// Registered models: the list, one model (versions and alias history) and one version.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "console/html.h"
#include "console/pages.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"

namespace churn::console::internal {
namespace {

using registry::AliasEvent;
using registry::ModelVersion;
using registry::RegisteredModel;

// The metrics the versions table shows first when a version has them (the training flow's).
constexpr const char* kVersionMetricOrder[] = {"test_auc",  "test_pr_auc", "test_f1",
                                               "valid_auc", "threshold",   "nodes"};
constexpr size_t kVersionMetricColumns = 5;

std::string AliasBadges(const std::string& model,
                        const std::vector<std::pair<std::string, int64_t>>& aliases) {
  std::string out;
  for (const auto& [alias, version] : aliases) {
    absl::StrAppend(&out, R"(<a class="badge alias" href=")", Esc(VersionHref(model, version)),
                    "\">", Esc(alias), " → v", version, "</a> ");
  }
  return out.empty() ? "-" : out;
}

std::string VersionAliases(const ModelVersion& v) {
  std::string out;
  for (const std::string& alias : v.aliases) {
    absl::StrAppend(&out, "<span class=\"badge alias\">", Esc(alias), "</span> ");
  }
  return out.empty() ? "-" : out;
}

std::string VersionLink(const std::string& model, std::optional<int64_t> version) {
  if (!version) {
    return "<span class=\"muted\">none</span>";
  }
  return Link(VersionHref(model, *version), absl::StrCat("v", *version));
}

// The metric columns of a versions table: the preferred ones the versions have, then others.
std::vector<std::string> VersionMetricColumns(const std::vector<ModelVersion>& versions) {
  std::set<std::string> present;
  for (const ModelVersion& v : versions) {
    for (const auto& m : v.metrics) {
      present.insert(m.first);
    }
  }
  std::vector<std::string> out;
  for (const char* key : kVersionMetricOrder) {
    if (present.contains(key) && out.size() < kVersionMetricColumns) {
      out.emplace_back(key);
      present.erase(key);
    }
  }
  for (const std::string& key : present) {
    if (out.size() >= kVersionMetricColumns) {
      break;
    }
    out.push_back(key);
  }
  return out;
}

std::string MetricOf(const ModelVersion& v, const std::string& key) {
  for (const auto& m : v.metrics) {
    if (m.first == key) {
      return Number(m.second);
    }
  }
  return "-";
}

std::string RunCell(const std::string& run_id) {
  return run_id.empty() ? "-" : Link(RunHref(run_id), run_id.substr(0, 8));
}

std::string VersionsTable(const std::string& model, const std::vector<ModelVersion>& versions) {
  const std::vector<std::string> metric_columns = VersionMetricColumns(versions);
  std::vector<std::string> head = {"Version", "Aliases", "Created", "Run", "Study"};
  for (const std::string& key : metric_columns) {
    head.push_back(Esc(key));
  }
  head.emplace_back("Description");
  std::vector<std::vector<std::string>> rows;
  for (const ModelVersion& v : versions) {
    const std::string study = TagOf(v.tags, "study_run_id");
    std::vector<std::string> row = {
        Link(VersionHref(model, v.version), absl::StrCat("v", v.version)), VersionAliases(v),
        TimeMs(v.creation_timestamp), RunCell(v.run_id),
        study.empty() ? "-" : Link(StudyHref(study), study.substr(0, 8))};
    for (const std::string& key : metric_columns) {
      row.push_back(Numeric(MetricOf(v, key)));
    }
    row.push_back(Esc(v.description));
    rows.push_back(std::move(row));
  }
  return Table(head, rows);
}

std::string AliasMove(const std::string& model, const AliasEvent& e) {
  const std::string from = e.previous_version ? VersionLink(model, e.previous_version) : "-";
  const std::string to =
      e.version ? VersionLink(model, e.version) : "<span class=\"muted\">removed</span>";
  return absl::StrCat(from, " → ", to);
}

std::string AliasHistoryTable(const std::string& model, const std::vector<AliasEvent>& events) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(events.size());
  for (size_t i = events.size(); i-- > 0;) {  // newest first
    const AliasEvent& e = events[i];
    rows.push_back({TimeMs(e.timestamp),
                    absl::StrCat(R"(<span class="badge alias">)", Esc(e.alias), "</span>"),
                    AliasMove(model, e), Esc(e.actor), Esc(e.reason.empty() ? "-" : e.reason)});
  }
  return Table({"When (UTC)", "Alias", "Move", "Actor", "Reason"}, rows);
}

// Every version of `name`, newest first.
absl::StatusOr<std::vector<ModelVersion>> VersionsOf(registry::Registry& reg,
                                                     const std::string& name) {
  registry::SearchQuery query;
  query.filter = absl::StrCat("name = ", FilterLiteral(name));
  query.max_results = 1000;
  CHURN_ASSIGN_OR_RETURN(registry::Page<ModelVersion> page, reg.SearchModelVersions(query));
  std::sort(page.items.begin(), page.items.end(),
            [](const ModelVersion& a, const ModelVersion& b) { return a.version > b.version; });
  return std::move(page.items);
}

std::string PrettyJson(const std::string& text) {
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? text : parsed.dump(2);
}

std::string VersionSummary(const ModelVersion& v) {
  return KeyValues({{"Model", Link(ModelHref(v.name), v.name)},
                    {"Version", absl::StrCat(v.version)},
                    {"Aliases", VersionAliases(v)},
                    {"Status", Badge(v.status)},
                    {"Created", TimeMs(v.creation_timestamp)},
                    {"Updated", TimeMs(v.last_updated_timestamp)},
                    {"Source run", v.run_id.empty() ? "-" : Link(RunHref(v.run_id), v.run_id)},
                    {"Source", Esc(v.source)},
                    {"User", Esc(v.user_id.empty() ? "-" : v.user_id)},
                    {"Description", Esc(v.description.empty() ? "-" : v.description)}});
}

}  // namespace

absl::StatusOr<std::string> ModelsPage(const PageContext& ctx) {
  registry::SearchQuery query;
  query.max_results = 1000;
  CHURN_ASSIGN_OR_RETURN(registry::Page<RegisteredModel> page,
                         ctx.sources.registry->SearchRegisteredModels(query));
  PageWriter page_out("Registered models", Section::kModels);
  page_out.Add("<h1>Registered models</h1>\n");
  if (page.items.empty()) {
    page_out.Add(Empty("No registered model yet: `churn train` registers one."));
    return page_out.Finish(ctx.now);
  }
  std::vector<std::vector<std::string>> rows;
  for (const RegisteredModel& m : page.items) {
    rows.push_back({Link(ModelHref(m.name), m.name), AliasBadges(m.name, m.aliases),
                    VersionLink(m.name, m.latest_version), TimeMs(m.last_updated_timestamp),
                    Esc(m.description)});
  }
  page_out.Add(Table({"Model", "Aliases", "Latest", "Updated (UTC)", "Description"}, rows));
  return page_out.Finish(ctx.now);
}

absl::StatusOr<std::string> ModelPage(const PageContext& ctx, const std::string& name) {
  registry::Registry& reg = *ctx.sources.registry;
  absl::StatusOr<RegisteredModel> model = reg.GetRegisteredModel(name);
  CHURN_RETURN_IF_ERROR(Lookup(model.status(), absl::StrCat("model '", name, "'")));
  CHURN_ASSIGN_OR_RETURN(const std::vector<ModelVersion> versions, VersionsOf(reg, name));
  CHURN_ASSIGN_OR_RETURN(const std::vector<AliasEvent> history, reg.AliasHistory(name, ""));
  PageWriter page(absl::StrCat("Model ", name), Section::kModels);
  page.Add(absl::StrCat("<h1>Model ", Esc(name), "</h1>\n"));
  page.Add(
      KeyValues({{"Aliases", AliasBadges(name, model->aliases)},
                 {"Versions", absl::StrCat(versions.size())},
                 {"Created", TimeMs(model->creation_timestamp)},
                 {"Updated", TimeMs(model->last_updated_timestamp)},
                 {"Description", Esc(model->description.empty() ? "-" : model->description)}}));
  page.Add("<h2>Versions</h2>\n");
  page.Add(versions.empty() ? Empty("No version registered.") : VersionsTable(name, versions));
  page.Add("<h2>Alias history</h2>\n");
  page.Add(history.empty() ? Empty("No alias was ever set.") : AliasHistoryTable(name, history));
  return page.Finish(ctx.now);
}

absl::StatusOr<std::string> VersionPage(const PageContext& ctx, const std::string& name,
                                        int64_t version) {
  registry::Registry& reg = *ctx.sources.registry;
  absl::StatusOr<ModelVersion> v = reg.GetModelVersion(name, version);
  CHURN_RETURN_IF_ERROR(
      Lookup(v.status(), absl::StrCat("version ", version, " of model '", name, "'")));
  CHURN_ASSIGN_OR_RETURN(const std::vector<AliasEvent> history, reg.AliasHistory(name, ""));
  PageWriter page(absl::StrCat(name, " v", version), Section::kModels);
  page.Add(absl::StrCat("<h1>", Link(ModelHref(name), name), " version ", version, "</h1>\n"));
  page.Add(VersionSummary(*v));
  page.Add("<h2>Metrics</h2>\n");
  std::vector<std::vector<std::string>> metrics;
  for (const auto& [key, value] : v->metrics) {
    metrics.push_back({Esc(key), Numeric(Number(value))});
  }
  page.Add(metrics.empty() ? Empty("No metric recorded.") : Table({"Metric", "Value"}, metrics));
  std::vector<AliasEvent> moves;
  std::copy_if(history.begin(), history.end(), std::back_inserter(moves),
               [version](const AliasEvent& e) {
                 return e.version == version || e.previous_version == version;
               });
  page.Add("<h2>Alias moves</h2>\n");
  page.Add(moves.empty() ? Empty("No alias ever named this version.")
                         : AliasHistoryTable(name, moves));
  std::vector<std::vector<std::string>> files;
  for (const registry::ArtifactRef& a : v->artifacts) {
    files.push_back({Esc(a.path), Numeric(Bytes(a.size)), Esc(a.sha256.substr(0, 16))});
  }
  page.Add("<h2>Files</h2>\n");
  page.Add(files.empty() ? Empty("No files.") : Table({"Path", "Size", "sha256"}, files));
  std::vector<std::vector<std::string>> tags;
  for (const registry::Tag& t : v->tags) {
    tags.push_back({Esc(t.key), absl::StrCat("<span class=\"wrap\">", Esc(t.value), "</span>")});
  }
  page.Add("<h2>Tags</h2>\n");
  page.Add(tags.empty() ? Empty("No tags.") : Table({"Tag", "Value"}, tags));
  if (!v->signature.empty()) {
    page.Add(absl::StrCat("<h2>Signature</h2>\n<pre class=\"json\">", Esc(PrettyJson(v->signature)),
                          "</pre>\n"));
  }
  return page.Finish(ctx.now);
}

}  // namespace churn::console::internal
