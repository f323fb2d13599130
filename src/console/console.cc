#include "churn/console/console.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "console/html.h"
#include "console/pages.h"

namespace churn::console {
namespace internal {

absl::Status Lookup(const absl::Status& status, absl::string_view what) {
  if (status.ok()) {
    return status;
  }
  if (absl::IsNotFound(status)) {
    return absl::NotFoundError(absl::StrCat(what, " not found"));
  }
  return {status.code(), absl::StrCat(what, ": ", status.message())};
}

namespace {

constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "frame-ancestors 'none'";

// The one place a status becomes an HTTP status (as the other servers' handlers do).
int HttpStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
      return 409;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

const char* ErrorTitle(int http_status) {
  switch (http_status) {
    case 400:
      return "Bad request";
    case 404:
      return "Not found";
    case 409:
      return "Conflict";
    case 503:
      return "Unavailable";
    default:
      return "Error";
  }
}

http::Response Html(int status, std::string body) {
  return http::Response{.status = status,
                        .content_type = "text/html; charset=utf-8",
                        .body = std::move(body),
                        .headers = {{"X-Content-Type-Options", "nosniff"},
                                    {"Content-Security-Policy", kContentSecurityPolicy},
                                    {"Referrer-Policy", "no-referrer"},
                                    {"Cache-Control", "no-store"}}};
}

http::Response ErrorPage(const absl::Status& status, absl::Time now) {
  const int code = HttpStatus(status);
  PageWriter page(ErrorTitle(code), Section::kOverview);
  page.Add(absl::StrCat("<h1>", ErrorTitle(code), "</h1>\n<p class=\"error\">",
                        Esc(status.message()), "</p>\n<p>", Link("/ui", "Back to the overview"),
                        "</p>\n"));
  return Html(code, page.Finish(now));
}

// "NAME/versions/N" -> (NAME, N); nullopt when `rest` does not end that way.
std::optional<std::pair<std::string, int64_t>> SplitVersion(absl::string_view rest) {
  constexpr absl::string_view kVersions = "/versions/";
  const size_t at = rest.rfind(kVersions);
  if (at == absl::string_view::npos || at == 0) {
    return std::nullopt;
  }
  int64_t version = 0;
  if (!absl::SimpleAtoi(rest.substr(at + kVersions.size()), &version)) {
    return std::nullopt;
  }
  return std::make_pair(std::string(rest.substr(0, at)), version);
}

// The id after `prefix` when `path` is prefix + one non-empty segment.
std::optional<std::string> Segment(absl::string_view path, absl::string_view prefix) {
  if (!absl::ConsumePrefix(&path, prefix) || path.empty() || absl::StrContains(path, '/')) {
    return std::nullopt;
  }
  return std::string(path);
}

absl::StatusOr<std::string> ModelRoutes(const PageContext& ctx, absl::string_view rest) {
  if (rest.empty()) {
    return ModelsPage(ctx);
  }
  if (auto version = SplitVersion(rest); version) {
    return VersionPage(ctx, version->first, version->second);
  }
  return ModelPage(ctx, std::string(rest));
}

absl::StatusOr<std::string> Route(const PageContext& ctx) {
  absl::string_view path = ctx.request.path;
  absl::ConsumeSuffix(&path, "/");
  if (path == "/ui") {
    return OverviewPage(ctx);
  }
  if (path == "/ui/models" || absl::StartsWith(path, "/ui/models/")) {
    absl::string_view rest = path.substr(std::string_view("/ui/models").size());
    absl::ConsumePrefix(&rest, "/");
    return ModelRoutes(ctx, rest);
  }
  if (path == "/ui/runs") {
    return RunsPage(ctx);
  }
  if (auto id = Segment(path, "/ui/runs/"); id) {
    return RunPage(ctx, *id);
  }
  if (path == "/ui/compare") {
    return ComparePage(ctx);
  }
  if (auto id = Segment(path, "/ui/studies/"); id) {
    return StudyPage(ctx, *id);
  }
  if (path == "/ui/flows") {
    return FlowsPage(ctx);
  }
  if (auto id = Segment(path, "/ui/flows/runs/"); id) {
    return FlowRunPage(ctx, *id);
  }
  if (path == "/ui/reports") {
    return ReportsPage(ctx);
  }
  if (path == "/ui/drift") {
    return DriftPage(ctx);
  }
  return absl::NotFoundError(absl::StrCat("no console page at ", ctx.request.path));
}

http::Response Serve(const ConsoleSources& sources, const http::Request& request) {
  const absl::Time now = sources.clock != nullptr ? sources.clock->Now() : absl::Now();
  const PageContext ctx{.sources = sources, .request = request, .now = now};
  absl::StatusOr<std::string> page = Route(ctx);
  if (!page.ok()) {
    return ErrorPage(page.status(), now);
  }
  return Html(200, *std::move(page));
}

}  // namespace
}  // namespace internal

void AddConsoleRoutes(http::Router& router, ConsoleSources sources) {
  auto shared = std::make_shared<const ConsoleSources>(std::move(sources));
  const http::Handler handler = [shared](const http::Request& request) {
    return internal::Serve(*shared, request);
  };
  router.Handle("GET", "/ui", handler);
  router.HandlePrefix("GET", "/ui/", handler);
}

}  // namespace churn::console
