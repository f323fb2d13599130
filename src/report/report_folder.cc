#include "churn/report/report_folder.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <system_error>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include <sys/stat.h>

#include "churn/base/file.h"
#include "churn/base/status_macros.h"
#include "churn/base/time.h"

namespace churn::report {
namespace {

using Json = nlohmann::json;

constexpr char kSidecarFormat[] = "churn-report/1";
constexpr absl::string_view kHtmlSuffix = ".html";

// Fields read without nlohmann's exceptions: the default when missing or of another type.
double NumberField(const Json& j, const char* key, double fallback) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

std::string TextField(const Json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const Json* ObjectField(const Json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_object() ? &*it : nullptr;
}

absl::StatusOr<absl::Time> SidecarTime(const Json& j, const char* key) {
  const auto it = j.find(key);
  absl::Time t;
  std::string error;
  if (it == j.end() || !it->is_string() ||
      !absl::ParseTime(absl::RFC3339_full, it->get<std::string>(), &t, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("report sidecar: '", key, "' is not an RFC 3339 time"));
  }
  return t;
}

// A regular file, not a symlink, directly at `path`; its modification time.
bool IsPlainFile(const std::filesystem::path& path, absl::Time* mtime) {
  struct stat st {};

  if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return false;
  }
  if (mtime != nullptr) {
    *mtime = absl::TimeFromTimespec(st.st_mtim);
  }
  return true;
}

bool IsReportName(const std::string& name) {
  return IsSafeReportFileName(name) && name != kIndexFileName && name.front() != '.' &&
         absl::EndsWith(name, kHtmlSuffix);
}

ReportEntry DescribeReport(const std::filesystem::path& dir, const std::string& name,
                           absl::Time mtime) {
  const std::filesystem::path sidecar = dir / SidecarFileName(name);
  if (IsPlainFile(sidecar, nullptr)) {
    absl::StatusOr<std::string> text = base::ReadFile(sidecar);
    absl::StatusOr<ReportEntry> entry =
        text.ok() ? ParseSidecar(*text) : absl::StatusOr<ReportEntry>(text.status());
    if (entry.ok()) {
      entry->file_name = name;
      return *std::move(entry);
    }
  }
  return ReportEntry{.file_name = name, .generated_at = mtime};
}

}  // namespace

std::string ReportFileName(absl::Time until) {
  return absl::FormatTime("report-%Y%m%dT%H%M%SZ.html", until, absl::UTCTimeZone());
}

std::string SidecarFileName(absl::string_view report_file_name) {
  absl::string_view stem = report_file_name;
  if (absl::EndsWith(stem, kHtmlSuffix)) {
    stem.remove_suffix(kHtmlSuffix.size());
  }
  return absl::StrCat(stem, ".json");
}

absl::StatusOr<ReportEntry> ParseSidecar(absl::string_view json) {
  const Json j = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || TextField(j, "format") != kSidecarFormat) {
    return absl::InvalidArgumentError(absl::StrCat(
        R"(report sidecar: not a JSON object with "format": ")", kSidecarFormat, "\""));
  }
  const Json* model = ObjectField(j, "model");
  const Json* dataset = ObjectField(j, "dataset");
  if (TextField(j, "file").empty() || model == nullptr || dataset == nullptr ||
      !model->contains("version") || !(*model)["version"].is_number_integer()) {
    return absl::InvalidArgumentError(
        "report sidecar: expected \"file\", \"model\": {\"name\", \"version\"} and "
        "\"dataset\"");
  }
  ReportEntry e{.file_name = TextField(j, "file"),
                .model_name = TextField(*model, "name"),
                .model_version = (*model)["version"].get<int64_t>()};
  CHURN_ASSIGN_OR_RETURN(e.since, SidecarTime(j, "since"));
  CHURN_ASSIGN_OR_RETURN(e.until, SidecarTime(j, "until"));
  CHURN_ASSIGN_OR_RETURN(e.generated_at, SidecarTime(j, "generated_at"));
  e.dataset.columns = static_cast<size_t>(std::max(0.0, NumberField(*dataset, "columns", 0)));
  e.dataset.drifted_columns =
      static_cast<size_t>(std::max(0.0, NumberField(*dataset, "drifted_columns", 0)));
  e.dataset.share = NumberField(*dataset, "share", 0.0);
  e.dataset.threshold = NumberField(*dataset, "threshold", 0.5);
  const auto drifted = dataset->find("drifted");
  e.dataset.drifted = drifted != dataset->end() && drifted->is_boolean() && drifted->get<bool>();
  return e;
}

absl::StatusOr<std::vector<ReportEntry>> ListReports(const std::filesystem::path& dir) {
  std::vector<ReportEntry> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec == std::errc::no_such_file_or_directory) {
    return out;
  }
  if (ec) {
    return base::ErrnoStatus("cannot list the reports folder", dir, ec.value());
  }
  while (it != std::filesystem::directory_iterator()) {
    const std::string name = it->path().filename().string();
    absl::Time mtime;
    if (IsReportName(name) && IsPlainFile(it->path(), &mtime)) {
      out.push_back(DescribeReport(dir, name, mtime));
    }
    it.increment(ec);
    if (ec) {
      return base::ErrnoStatus("cannot list the reports folder", dir, ec.value());
    }
  }
  std::sort(out.begin(), out.end(), [](const ReportEntry& a, const ReportEntry& b) {
    return std::tie(b.generated_at, b.file_name) < std::tie(a.generated_at, a.file_name);
  });
  return out;
}

absl::Status WriteIndex(const std::filesystem::path& dir) {
  CHURN_ASSIGN_OR_RETURN(const std::vector<ReportEntry> entries, ListReports(dir));
  return base::WriteFileAtomic(dir / kIndexFileName, RenderIndex(entries));
}

absl::Status PublishReport(const std::filesystem::path& dir, const ReportEntry& entry,
                           absl::string_view html, absl::string_view result_json) {
  if (entry.file_name.empty() || !IsReportName(entry.file_name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("report file name '", entry.file_name,
                     "': expected NAME.html, without '/', '\\', '..', '%', spaces or control "
                     "characters, and not index.html"));
  }
  const Json result = result_json.empty()
                          ? Json::object()
                          : Json::parse(result_json, nullptr, /*allow_exceptions=*/false);
  if (result.is_discarded()) {
    return absl::InvalidArgumentError("report result: not JSON");
  }
  const Json sidecar{{"format", kSidecarFormat},
                     {"file", entry.file_name},
                     {"model", {{"name", entry.model_name}, {"version", entry.model_version}}},
                     {"since", base::FormatRfc3339(entry.since)},
                     {"until", base::FormatRfc3339(entry.until)},
                     {"generated_at", base::FormatRfc3339(entry.generated_at)},
                     {"dataset",
                      {{"columns", entry.dataset.columns},
                       {"drifted_columns", entry.dataset.drifted_columns},
                       {"share", entry.dataset.share},
                       {"threshold", entry.dataset.threshold},
                       {"drifted", entry.dataset.drifted}}},
                     {"result", result}};
  CHURN_RETURN_IF_ERROR(base::MakeDirs(dir));
  CHURN_RETURN_IF_ERROR(base::WriteFileAtomic(dir / entry.file_name, html));
  CHURN_RETURN_IF_ERROR(
      base::WriteFileAtomic(dir / SidecarFileName(entry.file_name), sidecar.dump(2) + "\n"));
  return WriteIndex(dir);
}

}  // namespace churn::report
