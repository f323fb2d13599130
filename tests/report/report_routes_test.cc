// The reports folder: its file names and sidecars (report_folder.h), and the /reports routes
// (report_routes.h) over a real loopback server, with requests sent byte for byte so that path
// traversal reaches the server as an attacker would send it.
#include "churn/report/report_routes.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "report/raw_http.h"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/report/html_report.h"
#include "churn/report/report_folder.h"

namespace churn::report {
namespace {

using testing::RawRequest;
using testing::RawResponse;
using testing::StatusIs;

constexpr char kReport[] = "report-20261202T180000Z.html";
constexpr char kSecret[] = "the secret outside the reports folder";

class ReportRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reports_ = root_.Path() / "reports";
    ASSERT_TRUE(base::WriteFileAtomic(root_.Path() / "outside.html", kSecret).ok());
    ASSERT_TRUE(base::WriteFileAtomic(reports_ / kReport, "<p>the report</p>").ok());
    ASSERT_TRUE(base::WriteFileAtomic(reports_ / "report-20261202T180000Z.json", "{}").ok());
    ASSERT_TRUE(base::WriteFileAtomic(reports_ / "index.html", "<p>the index</p>").ok());
    ASSERT_TRUE(base::WriteFileAtomic(reports_ / "notes.txt", kSecret).ok());
    ASSERT_TRUE(base::WriteFileAtomic(reports_ / ".hidden.html", kSecret).ok());
    ASSERT_TRUE(base::WriteFileAtomic(reports_ / "sub" / "x.html", kSecret).ok());
    std::filesystem::create_symlink(root_.Path() / "outside.html", reports_ / "link.html");
    std::filesystem::create_directory(reports_ / "dir.html");
    AddReportRoutes(router_, reports_.string());
    auto server = http::Server::Start(
        {.port = 0, .threads = 1},
        [this](const http::Request& request) { return router_.Dispatch(request); });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  RawResponse Get(absl::string_view target, absl::string_view method = "GET") const {
    return RawRequest(server_->Port(), method, target);
  }

  static void ExpectReportHeaders(const RawResponse& r, absl::string_view target) {
    EXPECT_EQ(r.Header("x-content-type-options"), "nosniff") << target;
    EXPECT_EQ(r.Header("content-security-policy"), "default-src 'none'; style-src 'unsafe-inline'")
        << target;
    EXPECT_EQ(r.Header("cache-control"), "no-cache") << target;
  }

  base::TempDir root_;
  std::filesystem::path reports_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(ReportRoutesTest, ServesTheIndexAndTheReportsWithTheSecurityHeaders) {
  RawResponse r = Get("/reports/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<p>the index</p>");
  EXPECT_EQ(r.Header("content-type"), "text/html; charset=utf-8");
  ExpectReportHeaders(r, "/reports/");

  r = Get(absl::StrCat("/reports/", kReport));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<p>the report</p>");
  EXPECT_EQ(r.Header("content-type"), "text/html; charset=utf-8");
  ExpectReportHeaders(r, kReport);

  r = Get("/reports/report-20261202T180000Z.json");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{}");
  EXPECT_EQ(r.Header("content-type"), "application/json");

  r = Get("/reports/index.html?x=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<p>the index</p>");

  r = Get(absl::StrCat("/reports/", kReport), "HEAD");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-length"), "17");
  EXPECT_EQ(r.body, "");
  ExpectReportHeaders(r, "HEAD");
}

TEST_F(ReportRoutesTest, TheBarePathRedirectsToTheFolder) {
  for (const char* method : {"GET", "HEAD"}) {
    const RawResponse r = Get("/reports", method);
    EXPECT_EQ(r.status, 301) << method;
    EXPECT_EQ(r.Header("location"), "/reports/") << method;
  }
}

TEST_F(ReportRoutesTest, TraversalAndEverythingButAPlainReportIs404) {
  for (const char* target : {
           "/reports/../outside.html",
           "/reports/%2e%2e/outside.html",
           "/reports/%2E%2E%2Foutside.html",
           "/reports/..%2foutside.html",
           "/reports/..%2Foutside.html",
           "/reports/%252e%252e%252foutside.html",
           "/reports/..\\outside.html",
           "/reports/%5c..%5coutside.html",
           "/reports/..",
           "/reports/.",
           "/reports//etc/passwd",
           "/reports/%2fetc%2fpasswd",
           "/reports/%2F..%2Foutside.html",
           "/reports/sub/x.html",
           "/reports/sub%2fx.html",
           "/reports/sub",
           "/reports/sub/",
           "/reports/dir.html",
           "/reports/.hidden.html",
           "/reports/link.html",
           "/reports/notes.txt",
           "/reports/missing.html",
           "/reports/report-20261202T180000Z.html/",
           "/reports/report%2020261202T180000Z.html",
       }) {
    const RawResponse r = Get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_FALSE(absl::StrContains(r.body, kSecret)) << target;
    ExpectReportHeaders(r, target);
  }
  // An escaped NUL never reaches the routes: the server refuses the request line.
  for (const char* target : {"/reports/report-20261202T180000Z.html%00",
                             "/reports/report-20261202T180000Z.html%00.txt", "/reports/%00"}) {
    const RawResponse r = Get(target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_FALSE(absl::StrContains(r.body, "the report")) << target;
  }
}

TEST_F(ReportRoutesTest, ADecodedPathWithControlCharactersIsRefused) {
  const std::string nul = absl::StrCat("/reports/", kReport, std::string(1, '\0'), "x");
  for (const std::string& path :
       {nul, std::string("/reports/a\nb.html"), std::string("/reports/C:outside.html"),
        (root_.Path() / "outside.html").string()}) {
    const http::Response r = router_.Dispatch({.method = "GET", .target = path, .path = path});
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_FALSE(absl::StrContains(r.body, kSecret)) << path;
  }
}

TEST_F(ReportRoutesTest, OnlyGetAndHeadAreAnswered) {
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    EXPECT_EQ(Get(absl::StrCat("/reports/", kReport), method).status, 405) << method;
  }
}

TEST_F(ReportRoutesTest, WithoutAnIndexFileTheIndexIsGeneratedFromTheFolder) {
  std::filesystem::remove(reports_ / "index.html");
  RawResponse r = Get("/reports/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "text/html; charset=utf-8");
  EXPECT_TRUE(absl::StrContains(r.body, absl::StrCat("href=\"", kReport, "\""))) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "1 report,")) << "no dotfile, symlink, folder, or .txt";
  ExpectReportHeaders(r, "generated index");

  std::filesystem::remove_all(reports_);
  r = Get("/reports/");
  EXPECT_EQ(r.status, 200) << "no reports yet is an empty list, not an error";
  EXPECT_TRUE(absl::StrContains(r.body, "0 reports"));
  EXPECT_EQ(Get(absl::StrCat("/reports/", kReport)).status, 404);
}

TEST(ReportFolderTest, NamesFollowTheEndOfTheWindow) {
  EXPECT_EQ(ReportFileName(absl::FromUnixMillis(1'796'234'400'999)), kReport)
      << "rounded down to the second";
  EXPECT_EQ(SidecarFileName(kReport), "report-20261202T180000Z.json");
  EXPECT_TRUE(IsSafeReportFileName(ReportFileName(absl::Now())));
}

TEST(ReportFolderTest, PublishWritesTheReportTheSidecarAndTheIndex) {
  base::TempDir dir;
  const ReportEntry entry{.file_name = kReport,
                          .model_name = "churn",
                          .model_version = 4,
                          .since = absl::FromUnixSeconds(1'796'223'600),
                          .until = absl::FromUnixSeconds(1'796'234'400),
                          .generated_at = absl::FromUnixSeconds(1'796'234'401),
                          .dataset = {.columns = 19,
                                      .drifted_columns = 3,
                                      .share = 3.0 / 19,
                                      .threshold = 0.5,
                                      .drifted = false}};
  ASSERT_TRUE(PublishReport(dir.Path() / "new", entry, "<p>r</p>", R"({"rows": 7})").ok());
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string html, base::ReadFile(dir.Path() / "new" / kReport));
  EXPECT_EQ(html, "<p>r</p>");
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string sidecar,
                             base::ReadFile(dir.Path() / "new" / SidecarFileName(kReport)));
  EXPECT_TRUE(absl::StrContains(sidecar, R"("rows": 7)")) << sidecar;
  CHURN_ASSERT_OK_AND_ASSIGN(const ReportEntry back, ParseSidecar(sidecar));
  EXPECT_EQ(back.file_name, kReport);
  EXPECT_EQ(back.model_name, "churn");
  EXPECT_EQ(back.model_version, 4);
  EXPECT_EQ(back.since, entry.since);
  EXPECT_EQ(back.until, entry.until);
  EXPECT_EQ(back.generated_at, entry.generated_at);
  EXPECT_EQ(back.dataset.columns, 19U);
  EXPECT_EQ(back.dataset.drifted_columns, 3U);
  EXPECT_DOUBLE_EQ(back.dataset.share, 3.0 / 19);
  EXPECT_FALSE(back.dataset.drifted);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string index,
                             base::ReadFile(dir.Path() / "new" / kIndexFileName));
  EXPECT_EQ(index, RenderIndex({back}));
}

TEST(ReportFolderTest, BadNamesAndBadSidecarsAreRefused) {
  base::TempDir dir;
  for (const char* name :
       {"", "index.html", "../x.html", "a/b.html", ".x.html", "x.txt", "a b.html", "%2e.html"}) {
    EXPECT_THAT(PublishReport(dir.Path(), {.file_name = name}, "x", "{}"),
                StatusIs(absl::StatusCode::kInvalidArgument, "report file name"))
        << name;
  }
  EXPECT_THAT(PublishReport(dir.Path(), {.file_name = kReport}, "x", "{not json"),
              StatusIs(absl::StatusCode::kInvalidArgument, "not JSON"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.Path()));
  for (const char* text :
       {"", "[]", "{}", R"({"format": "other"})", R"({"format": "churn-report/1"})",
        R"({"format": "churn-report/1", "file": "a.html", "model": {"name": "c", "version": "1"},
            "dataset": {}})",
        R"({"format": "churn-report/1", "file": "a.html", "model": {"name": "c", "version": 1},
            "dataset": {}, "since": "yesterday", "until": "2026-12-02T18:00:00Z",
            "generated_at": "2026-12-02T18:00:00Z"})"}) {
    EXPECT_THAT(ParseSidecar(text), StatusIs(absl::StatusCode::kInvalidArgument)) << text;
  }
}

}  // namespace
}  // namespace churn::report
