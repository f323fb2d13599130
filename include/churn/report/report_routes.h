// File: churn/report/report_routes.h
//
// The reports folder (report_folder.h) over HTTP, as `churn serve http` mounts it:
//
//   GET|HEAD /reports          301 to /reports/
//   GET|HEAD /reports/         dir/index.html, or an index generated from the folder when there
//                              is none yet (an empty list when the folder does not exist)
//   GET|HEAD /reports/NAME     dir/NAME when NAME is a report (".html") or a sidecar (".json")
//                              that IsSafeReportFileName accepts, does not start with '.', and
//                              is a regular file directly in the folder (opened with
//                              O_NOFOLLOW: a symlink is refused, never followed)
//   anything else under it     404 (path traversal included: the server percent-decodes the
//                              path, so "/reports/%2e%2e/x" arrives as "/reports/../x" and
//                              "%2f" as '/'; both are refused, as are backslashes, NUL and other
//                              control characters, and absolute paths "/reports//etc/passwd")
//
// Every answer carries Content-Type (text/html; charset=utf-8 for pages, application/json for
// sidecars), X-Content-Type-Options: nosniff, Content-Security-Policy: default-src 'none';
// style-src 'unsafe-inline' (a report needs its inline style only: no script, image, font or
// connection can load), and Cache-Control: no-cache (a report may be replaced, the index is).
// Files are read on every request (reports are small); nothing is cached in memory.
//
//   http::Router router;
//   report::AddReportRoutes(router, config.ReportsDir());
#ifndef CHURN_REPORT_REPORT_ROUTES_H_
#define CHURN_REPORT_REPORT_ROUTES_H_

#include <string>

#include "churn/http/server.h"

namespace churn::report {

inline constexpr char kReportsContentSecurityPolicy[] =
    "default-src 'none'; style-src 'unsafe-inline'";

// Adds the routes above to `router` (before the server starts; see http::Router). The handlers
// are thread-safe and keep only `reports_dir`.
void AddReportRoutes(http::Router& router, std::string reports_dir);

}  // namespace churn::report

#endif  // CHURN_REPORT_REPORT_ROUTES_H_
