#include "deploy/promql_exprs.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

#include "churn/base/file.h"
#include "churn/base/status_macros.h"

namespace churn::testing {
namespace {

bool IsNameStart(char c) {
  return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_';
}

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
}

bool IsName(absl::string_view s) {
  return !s.empty() && IsNameStart(s.front()) && std::all_of(s.begin(), s.end(), IsNameChar);
}

// A variable reference starting at expr[pos]: its name and how many characters it spans
// (0 when there is none there).
struct VarRef {
  absl::string_view name;
  size_t length = 0;
};

VarRef ParseVarRef(absl::string_view expr, size_t pos) {
  const absl::string_view rest = expr.substr(pos);
  if (absl::StartsWith(rest, "[[")) {
    const size_t end = rest.find("]]");
    const absl::string_view name =
        end == absl::string_view::npos ? absl::string_view() : rest.substr(2, end - 2);
    return IsName(name) ? VarRef{name, end + 2} : VarRef{};
  }
  if (!absl::StartsWith(rest, "$")) {
    return {};
  }
  if (absl::StartsWith(rest, "${")) {
    const size_t end = rest.find('}');
    if (end == absl::string_view::npos) {
      return {};
    }
    const absl::string_view inside = rest.substr(2, end - 2);
    const absl::string_view name = inside.substr(0, inside.find(':'));
    return IsName(name) ? VarRef{name, end + 1} : VarRef{};
  }
  size_t end = 1;
  while (end < rest.size() && IsNameChar(rest[end])) {
    ++end;
  }
  const absl::string_view name = rest.substr(1, end - 1);
  return IsName(name) ? VarRef{name, end} : VarRef{};
}

// The panels of a dashboard in order, those of rows (collapsed rows keep theirs inside) included.
void CollectPanels(const nlohmann::json& panels, std::vector<const nlohmann::json*>* out) {
  if (!panels.is_array()) {
    return;
  }
  for (const nlohmann::json& panel : panels) {
    if (!panel.is_object()) {
      continue;
    }
    out->push_back(&panel);
    if (panel.contains("panels")) {
      CollectPanels(panel["panels"], out);
    }
  }
}

std::string StringField(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The files of `dir` whose names end with one of `suffixes` and with none of `excluded`, sorted.
std::vector<std::string> FilesIn(const std::filesystem::path& dir,
                                 const std::vector<absl::string_view>& suffixes,
                                 const std::vector<absl::string_view>& excluded) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const auto ends = [&name](absl::string_view s) { return absl::EndsWith(name, s); };
    if (entry.is_regular_file(ec) && std::any_of(suffixes.begin(), suffixes.end(), ends) &&
        std::none_of(excluded.begin(), excluded.end(), ends)) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// yaml-cpp throws on asking the type of a missing key.
bool IsScalar(const YAML::Node& node) {
  return node && node.IsScalar();
}

absl::StatusOr<std::vector<PromqlExpr>> GroupExprs(const YAML::Node& group,
                                                   const std::string& path) {
  std::vector<PromqlExpr> exprs;
  const YAML::Node rules = group["rules"];
  if (!rules || !rules.IsSequence()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": a group without a rules list"));
  }
  for (const YAML::Node& rule : rules) {
    const YAML::Node name = rule["alert"] ? rule["alert"] : rule["record"];
    if (!IsScalar(name) || !IsScalar(rule["expr"])) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": a rule without alert or record, or without expr"));
    }
    exprs.push_back({.where = absl::StrCat("rule: ", name.as<std::string>()),
                     .expr = rule["expr"].as<std::string>()});
  }
  return exprs;
}

}  // namespace

TemplateVars DefaultTemplateVars() {
  return {
      {"window", "count"}, {"job", "churn-http"}, {"__rate_interval", "1m"}, {"__interval", "15s"}};
}

absl::StatusOr<std::string> SubstituteTemplateVars(absl::string_view expr,
                                                   const TemplateVars& vars) {
  std::string out;
  out.reserve(expr.size());
  size_t pos = 0;
  while (pos < expr.size()) {
    const VarRef ref = ParseVarRef(expr, pos);
    if (ref.length == 0) {
      out.push_back(expr[pos]);
      ++pos;
      continue;
    }
    const auto it = vars.find(ref.name);
    if (it == vars.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown template variable $", ref.name, " in: ", expr));
    }
    out.append(it->second);
    pos += ref.length;
  }
  return out;
}

absl::StatusOr<std::vector<PromqlExpr>> DashboardExprs(const std::string& path,
                                                       const TemplateVars& vars) {
  CHURN_ASSIGN_OR_RETURN(const std::string text, base::ReadFile(path));
  const nlohmann::json dashboard = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (dashboard.is_discarded() || !dashboard.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  // A named copy: `panels` points into it.
  const nlohmann::json all_panels = dashboard.value("panels", nlohmann::json::array());
  std::vector<const nlohmann::json*> panels;
  CollectPanels(all_panels, &panels);
  std::vector<PromqlExpr> exprs;
  for (const nlohmann::json* panel : panels) {
    const auto targets = panel->find("targets");
    if (targets == panel->end() || !targets->is_array()) {
      continue;
    }
    for (const nlohmann::json& target : *targets) {
      if (!target.is_object() || !target.contains("expr")) {
        continue;
      }
      absl::StatusOr<std::string> expr = SubstituteTemplateVars(StringField(target, "expr"), vars);
      if (!expr.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": panel '", StringField(*panel, "title"), "': ", expr.status().message()));
      }
      exprs.push_back({.where = absl::StrCat("dashboard: ", StringField(*panel, "title"), " / ",
                                             StringField(target, "refId")),
                       .expr = *std::move(expr)});
    }
  }
  return exprs;
}

absl::StatusOr<std::vector<PromqlExpr>> RuleFileExprs(const std::string& path) {
  CHURN_ASSIGN_OR_RETURN(const std::string text, base::ReadFile(path));
  std::vector<PromqlExpr> exprs;
  try {
    const YAML::Node groups = YAML::Load(text)["groups"];
    if (!groups || !groups.IsSequence()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": no groups list"));
    }
    for (const YAML::Node& group : groups) {
      CHURN_ASSIGN_OR_RETURN(std::vector<PromqlExpr> group_exprs, GroupExprs(group, path));
      std::move(group_exprs.begin(), group_exprs.end(), std::back_inserter(exprs));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
  return exprs;
}

std::vector<std::string> DashboardFiles(const std::string& source_dir) {
  return FilesIn(std::filesystem::path(source_dir) / "deploy" / "grafana" / "dashboards", {".json"},
                 {});
}

std::vector<std::string> RuleFiles(const std::string& source_dir) {
  return FilesIn(std::filesystem::path(source_dir) / "deploy" / "prometheus" / "rules",
                 {".yml", ".yaml"}, {"_test.yml", "_test.yaml"});
}

absl::StatusOr<std::vector<PromqlExpr>> MonitoringExprs(const std::string& source_dir,
                                                        const TemplateVars& vars) {
  const std::vector<std::string> dashboards = DashboardFiles(source_dir);
  const std::vector<std::string> rule_files = RuleFiles(source_dir);
  if (dashboards.empty() || rule_files.empty()) {
    return absl::NotFoundError(absl::StrCat("no dashboard or no rule file under ", source_dir,
                                            "/deploy (grafana/dashboards, prometheus/rules)"));
  }
  std::vector<PromqlExpr> exprs;
  for (const std::string& path : dashboards) {
    CHURN_ASSIGN_OR_RETURN(std::vector<PromqlExpr> more, DashboardExprs(path, vars));
    std::move(more.begin(), more.end(), std::back_inserter(exprs));
  }
  for (const std::string& path : rule_files) {
    CHURN_ASSIGN_OR_RETURN(std::vector<PromqlExpr> more, RuleFileExprs(path));
    std::move(more.begin(), more.end(), std::back_inserter(exprs));
  }
  return exprs;
}

}  // namespace churn::testing
