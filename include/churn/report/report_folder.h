// File: churn/report/report_folder.h
//
// The reports folder (config report.dir, default <data_dir>/reports) as the report flow writes
// it and `churn serve http` (or nginx) serves it:
//
//   report-20261202T180000Z.html   one self-contained report (html_report.h), named after the
//                                  end of its window (UTC, whole seconds)
//   report-20261202T180000Z.json   its sidecar: what the index shows, and the flow's result
//   index.html                     every report in the folder, newest first (RenderIndex)
//
// The sidecar (one JSON object) is the index's source of truth, so the index can be rebuilt from
// the folder alone:
//
//   {"format": "churn-report/1", "file": "report-20261202T180000Z.html",
//    "model": {"name": "churn", "version": 3},
//    "since": "2026-12-02T15:00:00.000Z", "until": "2026-12-02T18:00:00.000Z",
//    "generated_at": "2026-12-02T18:00:01.250Z",
//    "dataset": {"columns": 19, "drifted_columns": 3, "share": 0.158, "threshold": 0.5,
//                "drifted": false},
//    "result": {...}}   // the report flow's result (what `churn report --json` prints)
//
// Every file is written atomically (a temporary file renamed over the name), so a reader (a
// browser, nginx) sees a whole old or a whole new file. Functions here are thread-compatible;
// two writers of one folder at once may leave an index that misses the other's report until the
// next write (the scheduler never runs two report flows at once).
#ifndef CHURN_REPORT_REPORT_FOLDER_H_
#define CHURN_REPORT_REPORT_FOLDER_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "churn/report/html_report.h"

namespace churn::report {

inline constexpr char kIndexFileName[] = "index.html";

// "report-20261202T180000Z.html": the report of a window ending at `until` (UTC, rounded down
// to the second). A report of the same window end replaces the earlier one.
std::string ReportFileName(absl::Time until);

// "report-X.json" for "report-X.html" (the name with its extension replaced).
std::string SidecarFileName(absl::string_view report_file_name);

// Writes `html` as dir/entry.file_name and the sidecar (entry, with `result_json` as "result";
// "{}" when empty), each atomically, then rewrites dir/index.html (WriteIndex). Creates `dir`
// when missing. InvalidArgument when IsSafeReportFileName refuses entry.file_name, it does not
// end in ".html", it is index.html, or `result_json` is not JSON; the I/O error otherwise,
// naming the path.
absl::Status PublishReport(const std::filesystem::path& dir, const ReportEntry& entry,
                           absl::string_view html, absl::string_view result_json);

// Every report in `dir`: each regular file (not a symlink) whose name IsSafeReportFileName
// accepts, ends in ".html" and is not index.html; described by its sidecar when that parses,
// else by its name alone, with the file's modification time as generated_at. Empty for a
// missing folder. Order: as RenderIndex sorts (newest generated_at first). The I/O error when
// the folder cannot be read.
absl::StatusOr<std::vector<ReportEntry>> ListReports(const std::filesystem::path& dir);

// Rewrites dir/index.html from ListReports(dir), atomically.
absl::Status WriteIndex(const std::filesystem::path& dir);

// The ReportEntry of a sidecar's text; InvalidArgument naming the field when it is not one.
absl::StatusOr<ReportEntry> ParseSidecar(absl::string_view json);

}  // namespace churn::report

#endif  // CHURN_REPORT_REPORT_FOLDER_H_
