#include "churn/report/report_routes.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include <sys/stat.h>

#include "churn/base/file.h"
#include "churn/report/html_report.h"
#include "churn/report/report_folder.h"

namespace churn::report {
namespace {

constexpr absl::string_view kReportsPrefix = "/reports/";
constexpr char kHtmlType[] = "text/html; charset=utf-8";

http::Response WithReportHeaders(http::Response r) {
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Content-Security-Policy", kReportsContentSecurityPolicy);
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

http::Response ReportNotFound() {
  return WithReportHeaders(
      {.status = 404, .content_type = "text/plain; charset=utf-8", .body = "not found\n"});
}

// A file the folder serves: a report or a sidecar the index could link, no dotfile.
bool IsServableReportName(absl::string_view name) {
  return IsSafeReportFileName(name) && name.front() != '.' &&
         (absl::EndsWith(name, ".html") || absl::EndsWith(name, ".json"));
}

// The bytes of `path` when it is a regular file; NotFound for a missing file, a symlink
// (O_NOFOLLOW: ELOOP) or anything that is not a regular file.
absl::StatusOr<std::string> ReadRegularFile(const std::filesystem::path& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ELOOP || err == ENOTDIR) {
      return absl::NotFoundError(path.string());
    }
    return base::ErrnoStatus("cannot open", path, err);
  }

  struct stat st {};

  std::string bytes;
  absl::Status status;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    status = absl::NotFoundError(path.string());
  } else {
    bytes.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = read(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        status = n < 0 ? base::ErrnoStatus("cannot read", path, errno) : absl::OkStatus();
        break;
      }
      done += static_cast<size_t>(n);
    }
    bytes.resize(done);  // a file that shrank while being read
  }
  close(fd);
  if (!status.ok()) {
    return status;
  }
  return bytes;
}

http::Response ReportIndex(const std::filesystem::path& dir) {
  absl::StatusOr<std::string> index = ReadRegularFile(dir / kIndexFileName);
  if (!index.ok() && absl::IsNotFound(index.status())) {
    absl::StatusOr<std::vector<ReportEntry>> entries = ListReports(dir);
    index = entries.ok() ? absl::StatusOr<std::string>(RenderIndex(*entries))
                         : absl::StatusOr<std::string>(entries.status());
  }
  if (!index.ok()) {
    return WithReportHeaders({.status = 500,
                              .content_type = "text/plain; charset=utf-8",
                              .body = absl::StrCat("cannot read the reports folder\n")});
  }
  return WithReportHeaders({.status = 200, .content_type = kHtmlType, .body = *std::move(index)});
}

http::Response ServeReportPath(const std::filesystem::path& dir, const http::Request& request) {
  if (!absl::StartsWith(request.path, kReportsPrefix)) {
    return ReportNotFound();
  }
  const absl::string_view name = absl::string_view(request.path).substr(kReportsPrefix.size());
  if (name.empty()) {
    return ReportIndex(dir);
  }
  if (!IsServableReportName(name)) {
    return ReportNotFound();
  }
  absl::StatusOr<std::string> bytes = ReadRegularFile(dir / std::string(name));
  if (!bytes.ok()) {
    return absl::IsNotFound(bytes.status())
               ? ReportNotFound()
               : WithReportHeaders({.status = 500,
                                    .content_type = "text/plain; charset=utf-8",
                                    .body = "cannot read the report\n"});
  }
  return WithReportHeaders(
      {.status = 200,
       .content_type = absl::EndsWith(name, ".json") ? "application/json" : kHtmlType,
       .body = *std::move(bytes)});
}

}  // namespace

void AddReportRoutes(http::Router& router, std::string reports_dir) {
  router.Handle("GET", "/reports", [](const http::Request&) {
    http::Response r =
        WithReportHeaders({.status = 301,
                           .content_type = kHtmlType,
                           .body = "<!DOCTYPE html>\n<a href=\"/reports/\">/reports/</a>\n"});
    r.headers.emplace_back("Location", "/reports/");
    return r;
  });
  router.HandlePrefix("GET", kReportsPrefix,
                      [dir = std::filesystem::path(std::move(reports_dir))](
                          const http::Request& request) { return ServeReportPath(dir, request); });
}

}  // namespace churn::report
