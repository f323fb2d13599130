// Test-only helpers for the PostgreSQL driver: the server the test run provides
// (CHURN_TEST_POSTGRES_URL, set by scripts/test through scripts/services) and a fresh schema per
// test, so tests running in parallel against one database never see each other's tables.
//
//   const std::optional<std::string> url = PostgresUrlOrSkip();
//   if (!url) GTEST_SKIP() << kNoPostgresUrl;
//   CHURN_ASSERT_OK_AND_ASSIGN(schema_, FreshPostgresSchema::Create(*url));
//   CHURN_ASSERT_OK_AND_ASSIGN(db_, OpenPostgresDb(schema_->Url()));
#ifndef CHURN_TESTS_REGISTRY_PG_TEST_UTIL_H_
#define CHURN_TESTS_REGISTRY_PG_TEST_UTIL_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "registry/sql_db.h"

#include "churn/base/status_macros.h"

namespace churn::testing {

// What a test skipped for want of a server prints.
inline constexpr char kNoPostgresUrl[] =
    "CHURN_TEST_POSTGRES_URL is not set (scripts/test sets it; or run `scripts/services start "
    "postgres DIR` and export the line it prints); this PostgreSQL test is skipped";

// CHURN_TEST_POSTGRES_URL, or nullopt when it is unset or empty: the caller then skips with
// GTEST_SKIP() << kNoPostgresUrl (a helper cannot skip the test on its caller's behalf).
inline std::optional<std::string> PostgresUrlOrSkip() {
  const char* url = std::getenv("CHURN_TEST_POSTGRES_URL");  // NOLINT(concurrency-mt-unsafe)
  if (url == nullptr || *url == '\0') {
    return std::nullopt;
  }
  return std::string(url);
}

// `url` with `parameter` ("key=value", already percent-encoded) added to its query string.
inline std::string WithUrlParameter(const std::string& url, absl::string_view parameter) {
  return absl::StrCat(url, url.find('?') == std::string::npos ? "?" : "&", parameter);
}

// A schema "t_<16 hex digits>" created on construction and dropped, with everything in it, on
// destruction. Url() connects with it as the search_path, so unqualified tables land in it.
// Destroy every connection using the schema first (declare this member before them), or the
// DROP waits for their locks. Not thread-safe.
class FreshPostgresSchema {
 public:
  // Creates the schema through a connection to `base_url`. Fails with OpenPostgresDb's or the
  // CREATE SCHEMA's status.
  static absl::StatusOr<std::unique_ptr<FreshPostgresSchema>> Create(const std::string& base_url) {
    CHURN_ASSIGN_OR_RETURN(std::unique_ptr<registry::internal::SqlDb> admin,
                           registry::internal::OpenPostgresDb(base_url));
    std::random_device random;  // a unique name across processes, not test data: no seed
    const uint64_t bits = (uint64_t{random()} << 32) ^ uint64_t { random() };
    std::string name = absl::StrFormat("t_%016x", bits);
    CHURN_RETURN_IF_ERROR(admin->ExecScript(absl::StrCat("CREATE SCHEMA ", name)));
    return std::unique_ptr<FreshPostgresSchema>(
        new FreshPostgresSchema(std::move(admin), base_url, std::move(name)));
  }

  FreshPostgresSchema(const FreshPostgresSchema&) = delete;
  FreshPostgresSchema& operator=(const FreshPostgresSchema&) = delete;

  // Drops the schema; a failure (server gone) is ignored, the database is scratch anyway.
  ~FreshPostgresSchema() {
    admin_->ExecScript(absl::StrCat("DROP SCHEMA IF EXISTS ", name_, " CASCADE")).IgnoreError();
  }

  // The base URL plus options=-csearch_path=<schema> (appended with & when it has a query).
  const std::string& Url() const { return url_; }

  // The schema's name, to qualify tables with when needed.
  const std::string& Name() const { return name_; }

 private:
  FreshPostgresSchema(std::unique_ptr<registry::internal::SqlDb> admin, const std::string& base_url,
                      std::string name)
      : admin_(std::move(admin)),
        name_(std::move(name)),
        url_(WithUrlParameter(base_url, absl::StrCat("options=-csearch_path%3D", name_))) {}

  std::unique_ptr<registry::internal::SqlDb> admin_;
  std::string name_;
  std::string url_;
};

}  // namespace churn::testing

#endif  // CHURN_TESTS_REGISTRY_PG_TEST_UTIL_H_
