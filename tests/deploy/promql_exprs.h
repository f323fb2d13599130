// Test support: every PromQL expression of the monitoring files (the Grafana dashboards in
// deploy/grafana/dashboards and the Prometheus rule files in deploy/prometheus/rules), each with
// where it came from, Grafana's template variables substituted. For the checks of
// tests/deploy/monitoring_config_test.cc and for tests that run the expressions through a real
// Prometheus' query API.
//
//   CHURN_ASSERT_OK_AND_ASSIGN(std::vector<PromqlExpr> exprs,
//                              MonitoringExprs(SourceDir(), DefaultTemplateVars()));
//   for (const PromqlExpr& e : exprs) Query(e.expr) << e.where;
#ifndef CHURN_TESTS_DEPLOY_PROMQL_EXPRS_H_
#define CHURN_TESTS_DEPLOY_PROMQL_EXPRS_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace churn::testing {

struct PromqlExpr {
  // "dashboard: <panel title> / <refId>" or "rule: <alert or record name>".
  std::string where;
  std::string expr;
};

// Template variable name (without '$') to value.
using TemplateVars = std::map<std::string, std::string, std::less<>>;

// window=count, job=churn-http, __rate_interval=1m, __interval=15s (the scrape interval).
TemplateVars DefaultTemplateVars();

// Replaces Grafana's variable references $name, ${name} and ${name:format} (the format is ignored)
// and [[name]] by their values. A '$' not followed by a name (a regex anchor in "/predict$")
// stays. InvalidArgument naming the variable when one is not in `vars`.
absl::StatusOr<std::string> SubstituteTemplateVars(absl::string_view expr,
                                                   const TemplateVars& vars);

// The expressions of every target of a dashboard JSON file (panels in collapsed rows too), in
// panel order, substituted with `vars`. Template variable queries (label_values(...)) are not
// PromQL and are left out. NotFound for a missing file, InvalidArgument for invalid JSON or a
// target expression with an unknown variable.
absl::StatusOr<std::vector<PromqlExpr>> DashboardExprs(const std::string& path,
                                                       const TemplateVars& vars);

// The expressions of every recording and alerting rule of a Prometheus rule file, in file order.
// InvalidArgument when the file is not a rule file (no `groups`, a rule without `expr`).
absl::StatusOr<std::vector<PromqlExpr>> RuleFileExprs(const std::string& path);

// deploy/grafana/dashboards/*.json and deploy/prometheus/rules/*.yml (not the promtool unit
// tests, *_test.yml) under `source_dir`, sorted.
std::vector<std::string> DashboardFiles(const std::string& source_dir);
std::vector<std::string> RuleFiles(const std::string& source_dir);

// Every dashboard's expressions, then every rule file's.
absl::StatusOr<std::vector<PromqlExpr>> MonitoringExprs(const std::string& source_dir,
                                                        const TemplateVars& vars);

}  // namespace churn::testing

#endif  // CHURN_TESTS_DEPLOY_PROMQL_EXPRS_H_
