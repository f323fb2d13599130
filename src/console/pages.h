// The console's pages, one function each: what the route matched in, the whole HTML document
// out, or a status the router turns into an error page (NotFound 404, InvalidArgument 400,
// Unavailable 503, else 500). Grouped by source: model_pages.cc (registered models), run_pages.cc
// (runs and comparison), study_page.cc, flow_pages.cc, live_pages.cc (overview, reports, drift).
#ifndef CHURN_CONSOLE_PAGES_H_
#define CHURN_CONSOLE_PAGES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "churn/console/console.h"
#include "churn/http/server.h"

namespace churn::console::internal {

// What every page gets: the sources, the request, and "now".
struct PageContext {
  const ConsoleSources& sources;
  const http::Request& request;
  absl::Time now;

  int64_t NowMs() const { return absl::ToUnixMillis(now); }
};

absl::StatusOr<std::string> OverviewPage(const PageContext& ctx);

absl::StatusOr<std::string> ModelsPage(const PageContext& ctx);
absl::StatusOr<std::string> ModelPage(const PageContext& ctx, const std::string& name);
absl::StatusOr<std::string> VersionPage(const PageContext& ctx, const std::string& name,
                                        int64_t version);

absl::StatusOr<std::string> RunsPage(const PageContext& ctx);
absl::StatusOr<std::string> RunPage(const PageContext& ctx, const std::string& run_id);
absl::StatusOr<std::string> ComparePage(const PageContext& ctx);
absl::StatusOr<std::string> StudyPage(const PageContext& ctx, const std::string& run_id);

absl::StatusOr<std::string> FlowsPage(const PageContext& ctx);
absl::StatusOr<std::string> FlowRunPage(const PageContext& ctx, const std::string& id);

absl::StatusOr<std::string> ReportsPage(const PageContext& ctx);
absl::StatusOr<std::string> DriftPage(const PageContext& ctx);

// A registry or store error with the thing asked for named: NotFound becomes "<what> not found",
// others keep their code with "<what>: " in front.
absl::Status Lookup(const absl::Status& status, absl::string_view what);

}  // namespace churn::console::internal

#endif  // CHURN_CONSOLE_PAGES_H_
