// deploy/nginx/churn-reports.conf against a real nginx on loopback, started and stopped by
// `scripts/services start|stop nginx DIR CONF` over a reports folder the report flow wrote (a
// real model, a real SQLite prediction log): the index and a report are served with the
// security headers, traversal, dotfiles, symlinks, subfolders and other file types are refused,
// and a missing report is 404. Exits 77 (ctest's skip) when nginx is not installed.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "flows/report_fixture.h"
#include "gtest/gtest.h"
#include "report/raw_http.h"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/base/time.h"
#include "churn/flows/report_flow.h"
#include "churn/report/report_folder.h"

namespace churn {
namespace {

using testing::RawRequest;
using testing::RawResponse;

constexpr char kSecret[] = "the secret outside the reports folder";

std::string FindNginx() {
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): before any thread
  for (const absl::string_view dir :
       absl::StrSplit(absl::StrCat(path != nullptr ? path : "", ":/usr/sbin:/sbin"), ':')) {
    std::string candidate = absl::StrCat(dir, "/nginx");
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

class ReportNginxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = testing::ReportFixture::Create();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = *std::move(f);
    const absl::Time now = absl::FromUnixSeconds(1'796'234'400);
    ASSERT_TRUE(fixture_->Log({.rows = 1500, .since = now - absl::Hours(3), .until = now}).ok());
    const base::FakeClock clock(now);
    auto result = flows::RunReportFlow({.reports_dir = fixture_->ReportsDir(), .clock = &clock},
                                       fixture_->Registry(), fixture_->Log());
    ASSERT_TRUE(result.ok()) << result.status();
    report_ = result->file_name;
    const std::filesystem::path reports = fixture_->ReportsDir();
    ASSERT_TRUE(base::WriteFileAtomic(reports.parent_path() / "outside.html", kSecret).ok());
    ASSERT_TRUE(base::WriteFileAtomic(reports / ".hidden.html", kSecret).ok());
    ASSERT_TRUE(base::WriteFileAtomic(reports / "notes.txt", kSecret).ok());
    ASSERT_TRUE(base::WriteFileAtomic(reports / "sub" / "x.html", kSecret).ok());
    std::filesystem::create_symlink(reports.parent_path() / "outside.html", reports / "link.html");

    services_ = (state_.Path() / "nginx").string();
    const testing::CommandResult start =
        testing::RunCommand({"bash", testing::SourceDir() + "/scripts/services", "start", "nginx",
                             services_, testing::SourceDir() + "/deploy/nginx/churn-reports.conf"},
                            {"CHURN_REPORTS_DIR=" + reports.string()});
    ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
    const std::string key = "CHURN_TEST_NGINX_URL=http://127.0.0.1:";
    const size_t at = start.out.find(key);
    ASSERT_NE(at, std::string::npos) << start.out;
    started_ = true;
    uint32_t port = 0;
    ASSERT_TRUE(absl::SimpleAtoi(
        absl::StripAsciiWhitespace(absl::string_view(start.out).substr(at + key.size())), &port))
        << start.out;
    port_ = static_cast<uint16_t>(port);
  }

  void TearDown() override {
    if (started_) {
      const testing::CommandResult stop = testing::RunCommand(
          {"bash", testing::SourceDir() + "/scripts/services", "stop", "nginx", services_});
      EXPECT_EQ(stop.exit_code, 0) << stop.err;
    }
  }

  RawResponse Get(absl::string_view target, absl::string_view method = "GET") const {
    return RawRequest(port_, method, target);
  }

  static void ExpectReportHeaders(const RawResponse& r, absl::string_view target) {
    EXPECT_EQ(r.Header("x-content-type-options"), "nosniff") << target;
    EXPECT_EQ(r.Header("content-security-policy"), "default-src 'none'; style-src 'unsafe-inline'")
        << target;
    EXPECT_EQ(r.Header("cache-control"), "no-cache") << target;
  }

  std::unique_ptr<testing::ReportFixture> fixture_;
  std::string report_;
  base::TempDir state_;
  std::string services_;
  bool started_ = false;
  uint16_t port_ = 0;
};

TEST_F(ReportNginxTest, ServesTheIndexAndAReportWithTheSecurityHeaders) {
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string index,
                             base::ReadFile(fixture_->ReportsDir() + "/index.html"));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string html,
                             base::ReadFile(fixture_->ReportsDir() + "/" + report_));
  for (const char* target : {"/", "/index.html"}) {
    const RawResponse r = Get(target);
    EXPECT_EQ(r.status, 200) << target;
    EXPECT_EQ(r.body, index) << target;
    EXPECT_EQ(r.Header("content-type"), "text/html; charset=utf-8") << target;
    ExpectReportHeaders(r, target);
  }
  EXPECT_TRUE(absl::StrContains(index, absl::StrCat("href=\"", report_, "\"")));
  RawResponse r = Get(absl::StrCat("/", report_));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, html);
  EXPECT_EQ(r.Header("content-type"), "text/html; charset=utf-8");
  ExpectReportHeaders(r, report_);
  r = Get(absl::StrCat("/", report_), "HEAD");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-length"), absl::StrCat(html.size()));
  r = Get(absl::StrCat("/", report::SidecarFileName(report_)));
  EXPECT_EQ(r.status, 200) << "the sidecar";
  EXPECT_EQ(r.Header("content-type"), "application/json");
}

TEST_F(ReportNginxTest, TraversalAndEverythingButAPlainReportIsRefused) {
  for (const char* target : {
           "/../outside.html",
           "/%2e%2e/outside.html",
           "/%2E%2E%2Foutside.html",
           "/..%2foutside.html",
           "/..\\outside.html",
           "/%5c..%5coutside.html",
           "//outside.html",
           "/.hidden.html",
           "/link.html",
           "/notes.txt",
           "/sub/x.html",
           "/sub%2fx.html",
           "/sub/",
           "/index.html%00",
       }) {
    const RawResponse r = Get(target);
    EXPECT_TRUE(r.status == 404 || r.status == 400) << target << ": " << r.status;
    EXPECT_FALSE(absl::StrContains(r.body, kSecret)) << target;
  }
  EXPECT_EQ(Get("/report-20000101T000000Z.html").status, 404) << "a missing report";
  EXPECT_EQ(Get("/missing.json").status, 404);
  EXPECT_EQ(Get(absl::StrCat("/", report_), "POST").status, 405);
  ExpectReportHeaders(Get("/missing.html"), "404");
}

}  // namespace
}  // namespace churn

int main(int argc, char** argv) {
  if (churn::FindNginx().empty()) {
    std::printf(
        "report_nginx_test: nginx not found on PATH or in /usr/sbin (Debian package "
        "nginx-light; scripts/bootstrap installs it); skipped\n");
    return 77;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
