// The monitoring files shipped in deploy/: the Prometheus config and rules, the Grafana
// provisioning and dashboard. promtool checks their syntax and the rules' behaviour
// (tests/deploy/check_monitoring.sh); these tests check what promtool cannot: the dashboard's
// structure, that everything names the one provisioned datasource, that every expression selects
// only the servers' metrics (the contract in docs/monitoring.md) and recorded series that exist.
#include <algorithm>
#include <array>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "deploy/promql_exprs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/test_env.h"
#include "yaml-cpp/yaml.h"

#include "churn/base/file.h"
#include "churn/base/status_macros.h"

namespace churn::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAreArray;

// A field of a JSON object by pointer ("/datasource/uid"), or "" when absent.
std::string StringAt(const nlohmann::json& object, const std::string& pointer) {
  const nlohmann::json::json_pointer ptr(pointer);
  return object.contains(ptr) && object[ptr].is_string() ? object[ptr].get<std::string>() : "";
}

std::filesystem::path DeployPath(const std::string& relative) {
  return std::filesystem::path(SourceDir()) / "deploy" / relative;
}

absl::StatusOr<nlohmann::json> LoadJson(const std::filesystem::path& path) {
  CHURN_ASSIGN_OR_RETURN(const std::string text, base::ReadFile(path));
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": invalid JSON"));
  }
  return json;
}

absl::StatusOr<YAML::Node> LoadYaml(const std::filesystem::path& path) {
  CHURN_ASSIGN_OR_RETURN(const std::string text, base::ReadFile(path));
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", e.what()));
  }
}

// The uid of the one datasource the provisioning file declares.
absl::StatusOr<std::string> ProvisionedDatasourceUid() {
  CHURN_ASSIGN_OR_RETURN(const YAML::Node file,
                         LoadYaml(DeployPath("grafana/provisioning/datasources/prometheus.yml")));
  const YAML::Node sources = file["datasources"];
  if (!sources.IsSequence() || sources.size() != 1 || !sources[0]["uid"].IsScalar()) {
    return absl::InvalidArgumentError("expected exactly one datasource, with a uid");
  }
  return sources[0]["uid"].as<std::string>();
}

// Every panel of the dashboard (rows' panels too) but the rows themselves.
std::vector<nlohmann::json> NonRowPanels(const nlohmann::json& panels) {
  std::vector<nlohmann::json> out;
  for (const nlohmann::json& panel : panels) {
    if (panel.value("type", "") != "row") {
      out.push_back(panel);
    }
    if (panel.contains("panels")) {
      const std::vector<nlohmann::json> inner = NonRowPanels(panel["panels"]);
      out.insert(out.end(), inner.begin(), inner.end());
    }
  }
  return out;
}

// ---- A PromQL lexer just good enough to find the metric names an expression selects. ----------

// The words of `list` (separated by single spaces), as a set that lives as long as the program.
const absl::flat_hash_set<absl::string_view>* WordSet(absl::string_view list) {
  return new absl::flat_hash_set<absl::string_view>(absl::StrSplit(list, ' '));
}

// PromQL's aggregation operators: keywords, followed by `by (...)` or by their arguments.
bool IsAggregation(absl::string_view word) {
  static const auto* const kAggregations =
      WordSet("sum min max avg group stddev stdvar count count_values bottomk topk quantile");
  return kAggregations->contains(word);
}

// PromQL's functions (Prometheus 2.42).
bool IsFunction(absl::string_view word) {
  static const auto* const kFunctions = WordSet(
      "abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes "
      "clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year "
      "days_in_month deg delta deriv exp floor histogram_quantile holt_winters hour idelta "
      "increase irate label_join label_replace last_over_time ln log10 log2 max_over_time "
      "min_over_time minute month pi predict_linear present_over_time quantile_over_time rad rate "
      "resets round scalar sgn sin sinh sort sort_desc sqrt stddev_over_time stdvar_over_time "
      "sum_over_time tan tanh time timestamp vector year");
  return kFunctions->contains(word);
}

// Keywords followed by a parenthesised list of label names.
bool IsGrouping(absl::string_view word) {
  return word == "by" || word == "without" || word == "on" || word == "ignoring" ||
         word == "group_left" || word == "group_right";
}

bool IsKeyword(absl::string_view word) {
  const std::string lower = absl::AsciiStrToLower(word);
  return lower == "and" || lower == "or" || lower == "unless" || lower == "bool" ||
         lower == "inf" || lower == "nan";
}

bool IsIdentStart(char c) {
  return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}

bool IsIdentChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}

bool IsQuote(char c) {
  return c == '"' || c == '\'' || c == '`';
}

size_t SkipString(absl::string_view s, size_t i) {
  const char quote = s[i];
  for (size_t j = i + 1; j < s.size(); ++j) {
    if (s[j] == '\\' && quote != '`') {
      ++j;
    } else if (s[j] == quote) {
      return j + 1;
    }
  }
  return s.size();
}

// From s[i] == open to after its matching close; strings inside are skipped whole.
size_t SkipBracketed(absl::string_view s, size_t i, char open, char close) {
  int depth = 0;
  for (size_t j = i; j < s.size();) {
    if (IsQuote(s[j])) {
      j = SkipString(s, j);
      continue;
    }
    if (s[j] == open) {
      ++depth;
    } else if (s[j] == close && --depth == 0) {
      return j + 1;
    }
    ++j;
  }
  return s.size();
}

size_t SkipNumber(absl::string_view s, size_t i) {
  const auto digit = [&s](size_t k) {
    return k < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[k]));
  };
  while (digit(i) || (i < s.size() && s[i] == '.')) {
    ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    const size_t sign = i + 1 < s.size() && (s[i + 1] == '+' || s[i + 1] == '-') ? 1 : 0;
    if (digit(i + 1 + sign)) {
      i += 1 + sign;
      while (digit(i)) {
        ++i;
      }
    }
  }
  return i;
}

size_t SkipSpaces(absl::string_view s, size_t i) {
  while (i < s.size() && absl::ascii_isspace(static_cast<unsigned char>(s[i]))) {
    ++i;
  }
  return i;
}

// Handles the identifier s[start, end): a metric name goes to `names`. Returns where to go on.
absl::StatusOr<size_t> ClassifyWord(absl::string_view s, size_t start, size_t end,
                                    std::vector<std::string>* names) {
  const absl::string_view word = s.substr(start, end - start);
  const size_t after = SkipSpaces(s, end);
  const bool call = after < s.size() && s[after] == '(';
  if (IsGrouping(word)) {
    return call ? SkipBracketed(s, after, '(', ')') : end;
  }
  if (word == "offset") {  // offset 15m
    size_t i = after;
    while (i < s.size() && absl::ascii_isalnum(static_cast<unsigned char>(s[i]))) {
      ++i;
    }
    return i;
  }
  if (IsKeyword(word) || IsAggregation(word)) {
    return end;
  }
  if (call) {
    if (!IsFunction(word)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown function ", word));
    }
    return end;
  }
  names->emplace_back(word);
  return end;
}

// The metric names `expr` selects, in order (repeats kept).
absl::StatusOr<std::vector<std::string>> MetricNames(absl::string_view expr) {
  std::vector<std::string> names;
  size_t i = 0;
  while (i < expr.size()) {
    const char c = expr[i];
    if (IsQuote(c)) {
      i = SkipString(expr, i);
    } else if (c == '{') {
      i = SkipBracketed(expr, i, '{', '}');
    } else if (c == '[') {
      i = SkipBracketed(expr, i, '[', ']');
    } else if (absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '.') {
      i = std::max(i + 1, SkipNumber(expr, i));
    } else if (IsIdentStart(c)) {
      size_t end = i;
      while (end < expr.size() && IsIdentChar(expr[end])) {
        ++end;
      }
      CHURN_ASSIGN_OR_RETURN(i, ClassifyWord(expr, i, end, &names));
    } else {
      ++i;
    }
  }
  return names;
}

// The metrics the servers export (docs/monitoring.md); histograms are also read through their
// _bucket, _sum and _count series.
bool IsContractMetric(absl::string_view name) {
  static const auto* const kGaugesAndCounters = new absl::flat_hash_set<absl::string_view>{
      // HTTP server and both servers' scoring
      "churn_http_requests_total", "churn_predictions_total", "churn_model_info",
      "churn_model_reloads_total", "churn_unknown_category_total",
      "churn_prediction_log_queue_depth", "churn_prediction_log_written",
      "churn_prediction_log_loaded", "churn_prediction_log_backlog_bytes",
      "churn_prediction_log_failures",
      // stream worker
      "churn_stream_consumed_total", "churn_stream_produced_total", "churn_stream_acked_total",
      "churn_stream_redelivered_total", "churn_stream_reclaimed_total",
      "churn_stream_duplicates_total", "churn_stream_redis_errors_total",
      "churn_stream_dead_lettered_total", "churn_stream_pending", "churn_stream_lag",
      "churn_stream_redis_connected",
      // live drift and quality
      "churn_feature_drift_score", "churn_feature_drift_threshold", "churn_feature_drift_detected",
      "churn_dataset_drift_share", "churn_dataset_drift", "churn_prediction_drift_score",
      "churn_prediction_drift_detected", "churn_prediction_score_mean", "churn_drift_window_rows",
      "churn_drift_reference_rows", "churn_estimated_quality", "churn_realized_quality",
      "churn_labeled_window_rows", "churn_target_drift_detected"};
  static constexpr std::array<absl::string_view, 3> kHistograms = {
      "churn_http_request_duration_seconds", "churn_prediction_score",
      "churn_stream_batch_duration_seconds"};
  if (kGaugesAndCounters->contains(name)) {
    return true;
  }
  return std::any_of(kHistograms.begin(), kHistograms.end(), [name](absl::string_view h) {
    return name == absl::StrCat(h, "_bucket") || name == absl::StrCat(h, "_sum") ||
           name == absl::StrCat(h, "_count");
  });
}

// Series Prometheus itself writes for every target.
bool IsScrapeSeries(absl::string_view name) {
  return name == "up";
}

// The series the recording rules of every rule file write.
absl::StatusOr<std::set<std::string>> RecordedNames() {
  std::set<std::string> names;
  for (const std::string& path : RuleFiles(SourceDir())) {
    CHURN_ASSIGN_OR_RETURN(const YAML::Node file, LoadYaml(path));
    for (const YAML::Node& group : file["groups"]) {
      for (const YAML::Node& rule : group["rules"]) {
        if (rule["record"]) {
          names.insert(rule["record"].as<std::string>());
        }
      }
    }
  }
  return names;
}

// Adds the id of every panel of `panels` (rows' panels too) to `ids`, failing on a repeat.
void CollectPanelIds(const nlohmann::json& panels, std::map<int, std::string>* ids) {
  for (const nlohmann::json& panel : panels) {
    const std::string title = panel.value("title", "");
    if (!panel.contains("id") || !panel["id"].is_number_integer()) {
      ADD_FAILURE() << "panel '" << title << "' has no integer id";
      continue;
    }
    const auto [it, inserted] = ids->emplace(panel["id"].get<int>(), title);
    EXPECT_TRUE(inserted) << "panel id " << it->first << " on '" << it->second << "' and '" << title
                          << "'";
    if (panel.contains("panels")) {
      CollectPanelIds(panel["panels"], ids);
    }
  }
}

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CHURN_ASSERT_OK_AND_ASSIGN(dashboard_, LoadJson(DeployPath("grafana/dashboards/churn.json")));
    ASSERT_TRUE(dashboard_.contains("panels") && dashboard_["panels"].is_array());
    panels_ = NonRowPanels(dashboard_["panels"]);
    ASSERT_THAT(panels_, Not(IsEmpty()));
  }

  nlohmann::json dashboard_;
  std::vector<nlohmann::json> panels_;
};

TEST_F(DashboardTest, EveryPanelHasATargetWithAnExpression) {
  for (const nlohmann::json& panel : panels_) {
    const std::string title = panel.value("title", "");
    EXPECT_THAT(title, Not(IsEmpty())) << "panel " << panel.value("id", -1) << " has no title";
    const nlohmann::json targets = panel.value("targets", nlohmann::json::array());
    const bool has_expr = std::any_of(targets.begin(), targets.end(), [](const nlohmann::json& t) {
      return !t.value("expr", "").empty();
    });
    EXPECT_TRUE(has_expr) << "panel '" << title << "' has no target with an expr";
    std::set<std::string> ref_ids;
    for (const nlohmann::json& target : targets) {
      EXPECT_TRUE(ref_ids.insert(target.value("refId", "")).second)
          << "panel '" << title << "': refId '" << target.value("refId", "") << "' twice";
    }
  }
}

TEST_F(DashboardTest, EveryTargetUsesTheProvisionedDatasource) {
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string uid, ProvisionedDatasourceUid());
  for (const nlohmann::json& panel : panels_) {
    const std::string title = panel.value("title", "");
    EXPECT_EQ(StringAt(panel, "/datasource/uid"), uid) << "panel '" << title << "'";
    for (const nlohmann::json& target : panel.value("targets", nlohmann::json::array())) {
      EXPECT_EQ(StringAt(target, "/datasource/uid"), uid)
          << "panel '" << title << "' / " << target.value("refId", "");
      EXPECT_EQ(StringAt(target, "/datasource/type"), "prometheus")
          << "panel '" << title << "' / " << target.value("refId", "");
    }
  }
  for (const nlohmann::json& variable : dashboard_["templating"]["list"]) {
    if (variable.value("type", "") == "query") {
      EXPECT_EQ(StringAt(variable, "/datasource/uid"), uid)
          << "variable " << variable.value("name", "");
    }
  }
}

TEST_F(DashboardTest, PanelIdsAreUnique) {
  std::map<int, std::string> ids;
  CollectPanelIds(dashboard_["panels"], &ids);
  EXPECT_GE(ids.size(), panels_.size());
}

TEST_F(DashboardTest, PanelsDoNotOverlap) {
  std::map<std::pair<int, int>, std::string> cells;  // (x, y) -> panel title
  for (const nlohmann::json& panel : dashboard_["panels"]) {
    const nlohmann::json& pos = panel["gridPos"];
    const int x = pos.value("x", -1);
    const int y = pos.value("y", -1);
    const int w = pos.value("w", 0);
    const int h = pos.value("h", 0);
    const std::string title = panel.value("title", "");
    ASSERT_TRUE(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 24) << "gridPos of '" << title;
    for (int i = x; i < x + w; ++i) {
      for (int j = y; j < y + h; ++j) {
        const auto [it, inserted] = cells.emplace(std::make_pair(i, j), title);
        EXPECT_TRUE(inserted) << "'" << title << "' overlaps '" << it->second << "'";
      }
    }
  }
}

TEST_F(DashboardTest, HasTheWindowAndJobVariables) {
  EXPECT_GE(dashboard_.value("schemaVersion", 0), 36);
  EXPECT_THAT(dashboard_.value("uid", ""), Not(IsEmpty()));
  std::map<std::string, nlohmann::json> variables;
  for (const nlohmann::json& variable : dashboard_["templating"]["list"]) {
    variables[variable.value("name", "")] = variable;
  }
  ASSERT_TRUE(variables.contains("window") && variables.contains("job"));
  std::vector<std::string> windows;
  for (const nlohmann::json& option : variables["window"]["options"]) {
    windows.push_back(option.value("value", ""));
  }
  EXPECT_THAT(windows, ElementsAre("count", "time"));
  EXPECT_EQ(StringAt(variables["window"], "/current/value"), "count");
  // "All" must still select only churn's jobs.
  EXPECT_EQ(variables["job"].value("allValue", ""), "churn-.*");
}

TEST(GrafanaProvisioningTest, DatasourceAndDashboardProvider) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const YAML::Node sources,
      LoadYaml(DeployPath("grafana/provisioning/datasources/prometheus.yml")));
  ASSERT_EQ(sources["datasources"].size(), 1U);
  EXPECT_EQ(sources["datasources"][0]["type"].as<std::string>(), "prometheus");
  EXPECT_THAT(ProvisionedDatasourceUid(), IsOkAndHolds("churn-prometheus"));
  CHURN_ASSERT_OK_AND_ASSIGN(const YAML::Node dashboards,
                             LoadYaml(DeployPath("grafana/provisioning/dashboards/churn.yml")));
  ASSERT_EQ(dashboards["providers"].size(), 1U);
  const YAML::Node provider = dashboards["providers"][0];
  EXPECT_EQ(provider["type"].as<std::string>(), "file");
  EXPECT_TRUE(absl::EndsWith(provider["options"]["path"].as<std::string>(), "/grafana/dashboards"));
}

TEST(PrometheusConfigTest, ScrapesBothServersAndLoadsEveryRuleFile) {
  CHURN_ASSERT_OK_AND_ASSIGN(const YAML::Node config,
                             LoadYaml(DeployPath("prometheus/prometheus.yml")));
  EXPECT_EQ(config["global"]["scrape_interval"].as<std::string>(), "15s");
  std::map<std::string, std::vector<std::string>> targets;  // job -> targets
  for (const YAML::Node& job : config["scrape_configs"]) {
    const auto name = job["job_name"].as<std::string>();
    EXPECT_EQ(job["metrics_path"].as<std::string>("/metrics"), "/metrics") << name;
    for (const YAML::Node& group : job["static_configs"]) {
      for (const YAML::Node& target : group["targets"]) {
        targets[name].push_back(target.as<std::string>());
      }
    }
  }
  // The servers' default ports: serve.port (9696) and --metrics-port (9697).
  EXPECT_THAT(targets["churn-http"], ElementsAre("127.0.0.1:9696"));
  EXPECT_THAT(targets["churn-stream"], ElementsAre("127.0.0.1:9697"));
  std::vector<std::string> loaded;
  for (const YAML::Node& file : config["rule_files"]) {
    loaded.push_back(
        std::filesystem::weakly_canonical(DeployPath("prometheus") / file.as<std::string>())
            .string());
  }
  std::vector<std::string> shipped;
  for (const std::string& path : RuleFiles(SourceDir())) {
    shipped.push_back(std::filesystem::weakly_canonical(path).string());
  }
  EXPECT_THAT(shipped, Not(IsEmpty()));
  EXPECT_THAT(loaded, UnorderedElementsAreArray(shipped));
}

TEST(PrometheusRulesTest, EveryAlertHasASeverityASummaryAndADescription) {
  std::set<std::string> alerts;
  for (const std::string& path : RuleFiles(SourceDir())) {
    CHURN_ASSERT_OK_AND_ASSIGN(const YAML::Node file, LoadYaml(path));
    for (const YAML::Node& group : file["groups"]) {
      for (const YAML::Node& rule : group["rules"]) {
        if (!rule["alert"]) {
          EXPECT_TRUE(absl::StartsWith(rule["record"].as<std::string>(""), "churn:")) << path;
          continue;
        }
        const auto name = rule["alert"].as<std::string>();
        EXPECT_TRUE(alerts.insert(name).second) << "alert " << name << " twice";
        EXPECT_TRUE(absl::StartsWith(name, "Churn")) << name;
        EXPECT_THAT((std::vector<std::string>{"critical", "warning", "info"}),
                    Contains(rule["labels"]["severity"].as<std::string>("")))
            << name << " has no severity critical, warning or info";
        EXPECT_THAT(rule["annotations"]["summary"].as<std::string>(""), Not(IsEmpty())) << name;
        EXPECT_THAT(rule["annotations"]["description"].as<std::string>(""), Not(IsEmpty())) << name;
      }
    }
  }
  for (const char* expected : {"ChurnDatasetDrift", "ChurnFeatureDrift", "ChurnHighErrorRate",
                               "ChurnHighLatency", "ChurnStreamLag", "ChurnPredictionLogFailures",
                               "ChurnModelReloadFailed", "ChurnRedisDisconnected"}) {
    EXPECT_THAT(alerts, Contains(expected));
  }
}

TEST(PromqlExprsTest, EveryExpressionSelectsOnlyTheServersMetrics) {
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<PromqlExpr> exprs,
                             MonitoringExprs(SourceDir(), DefaultTemplateVars()));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::set<std::string> recorded, RecordedNames());
  for (const PromqlExpr& e : exprs) {
    EXPECT_THAT(e.expr, Not(IsEmpty())) << e.where;
    EXPECT_THAT(e.expr, Not(HasSubstr("$"))) << e.where << ": a variable left in " << e.expr;
    absl::StatusOr<std::vector<std::string>> names = MetricNames(e.expr);
    ASSERT_THAT(names, IsOk()) << e.where << ": " << e.expr;
    EXPECT_THAT(*names, Not(IsEmpty())) << e.where << " selects no metric: " << e.expr;
    for (const std::string& name : *names) {
      if (absl::StartsWith(name, "churn:")) {
        EXPECT_THAT(recorded, Contains(name)) << e.where << ": no recording rule for " << name;
      } else {
        EXPECT_TRUE(IsContractMetric(name) || IsScrapeSeries(name))
            << e.where << ": " << name << " is not a metric the servers export";
      }
    }
  }
}

TEST(PromqlExprsTest, NamesWhereEachExpressionComesFrom) {
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<PromqlExpr> exprs,
                             MonitoringExprs(SourceDir(), DefaultTemplateVars()));
  std::map<std::string, std::string> by_where;
  for (const PromqlExpr& e : exprs) {
    EXPECT_TRUE(by_where.emplace(e.where, e.expr).second) << e.where << " twice";
  }
  ASSERT_TRUE(by_where.contains("dashboard: Drift score per feature / A"));
  EXPECT_EQ(by_where["dashboard: Drift score per feature / A"],
            R"(churn_feature_drift_score{job=~"churn-http",window="count"})");
  EXPECT_THAT(by_where["dashboard: Requests/s by route / A"], HasSubstr("[1m]"));
  ASSERT_TRUE(by_where.contains("rule: ChurnDatasetDrift"));
  EXPECT_THAT(by_where["rule: ChurnDatasetDrift"], HasSubstr("churn_dataset_drift == 1"));
  EXPECT_TRUE(by_where.contains("rule: churn:http_error_ratio:rate5m"));
}

TEST(PromqlExprsTest, SubstitutesGrafanaVariables) {
  const TemplateVars vars = {
      {"window", "time"}, {"job", "churn-stream"}, {"__rate_interval", "2m"}};
  EXPECT_THAT(
      SubstituteTemplateVars(R"(rate(x{job=~"$job",window="${window}"}[$__rate_interval]))", vars),
      IsOkAndHolds(R"(rate(x{job=~"churn-stream",window="time"}[2m]))"));
  EXPECT_THAT(SubstituteTemplateVars(R"(x{job=~"${job:regex}"} / [[window]])", vars),
              IsOkAndHolds(R"(x{job=~"churn-stream"} / time)"));
  // Regex anchors and label_replace's $1 are not variables.
  constexpr absl::string_view kNoVariables =
      R"pq(label_replace(x{route=~"/predict$"}, "a", "$1", "b", "(.*)"))pq";
  EXPECT_THAT(SubstituteTemplateVars(kNoVariables, vars), IsOkAndHolds(std::string(kNoVariables)));
  EXPECT_THAT(SubstituteTemplateVars("x[$__range]", vars),
              StatusIs(absl::StatusCode::kInvalidArgument, "$__range"));
}

TEST(PromqlExprsTest, ReportsMissingAndInvalidFiles) {
  base::TempDir dir;
  EXPECT_THAT(DashboardExprs((dir.Path() / "none.json").string(), DefaultTemplateVars()),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(base::WriteFileAtomic(dir.Path() / "bad.json", "{"), IsOk());
  EXPECT_THAT(DashboardExprs((dir.Path() / "bad.json").string(), DefaultTemplateVars()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(base::WriteFileAtomic(dir.Path() / "rules.yml",
                                    "groups:\n  - name: g\n    rules:\n"
                                    "      - alert: A\n"),
              IsOk());
  EXPECT_THAT(RuleFileExprs((dir.Path() / "rules.yml").string()),
              StatusIs(absl::StatusCode::kInvalidArgument, "without expr"));
  EXPECT_THAT(MonitoringExprs(dir.Path().string(), DefaultTemplateVars()),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(PromqlMetricNamesTest, FindsSelectorsOutsideMatchersRangesAndGroupings) {
  EXPECT_THAT(
      MetricNames(
          R"pq(sum by (job, le) (rate(churn_a_bucket{code=~"5..",x="sum(y)"}[5m] offset 1h)))pq"
          R"pq( / on (job) group_left clamp_min(churn:b:rate5m, 1e-9) or vector(0) > bool 64 * 1024)pq"),
      IsOkAndHolds(ElementsAre("churn_a_bucket", "churn:b:rate5m")));
  EXPECT_THAT(MetricNames("churn_x unless churn_x offset 15m and churn_y"),
              IsOkAndHolds(ElementsAre("churn_x", "churn_x", "churn_y")));
  EXPECT_THAT(MetricNames("histogram_quantile(0.99, churn_z) == Inf"),
              IsOkAndHolds(ElementsAre("churn_z")));
  EXPECT_THAT(MetricNames("ratee(churn_x[1m])"),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown function ratee"));
}

}  // namespace
}  // namespace churn::testing
