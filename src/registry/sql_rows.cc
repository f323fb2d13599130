// The driver-independent parts of the SQL seam: reading cells, numbering placeholders, and
// choosing the driver a URL names.
#include <cmath>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "registry/sql_db.h"

#include "churn/base/status_macros.h"

namespace churn::registry::internal {

int64_t SqlRows::Int(size_t row, size_t column) const {
  const SqlValue& v = At(row, column);
  if (const auto* i = std::get_if<int64_t>(&v)) {
    return *i;
  }
  if (const auto* d = std::get_if<double>(&v)) {
    return std::isfinite(*d) ? static_cast<int64_t>(*d) : 0;
  }
  int64_t out = 0;
  if (const auto* s = std::get_if<std::string>(&v)) {
    if (!absl::SimpleAtoi(*s, &out)) {
      out = 0;
    }
  }
  return out;
}

double SqlRows::Double(size_t row, size_t column) const {
  const SqlValue& v = At(row, column);
  if (const auto* d = std::get_if<double>(&v)) {
    return *d;
  }
  if (const auto* i = std::get_if<int64_t>(&v)) {
    return static_cast<double>(*i);
  }
  double out = 0;
  if (const auto* s = std::get_if<std::string>(&v)) {
    if (!absl::SimpleAtod(*s, &out)) {
      out = 0;
    }
  }
  return out;
}

std::string SqlRows::Text(size_t row, size_t column) const {
  const SqlValue& v = At(row, column);
  if (const auto* s = std::get_if<std::string>(&v)) {
    return *s;
  }
  if (const auto* i = std::get_if<int64_t>(&v)) {
    return absl::StrCat(*i);
  }
  if (const auto* d = std::get_if<double>(&v)) {
    return absl::StrCat(*d);
  }
  return "";
}

absl::StatusOr<std::string> SqlitePath(absl::string_view url, absl::string_view what) {
  absl::string_view path = url;
  // "sqlite:///abs/path" (the third slash starts the path), "sqlite:path", or a plain path.
  const bool sqlite_url =
      absl::ConsumePrefix(&path, "sqlite://") || absl::ConsumePrefix(&path, "sqlite:");
  if (!sqlite_url && absl::StrContains(url, "://")) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", url, "' is neither sqlite:PATH, a path, nor postgresql://..."));
  }
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", url, "' has no path"));
  }
  return std::string(path);
}

bool IsPostgresUrl(absl::string_view url) {
  return absl::StartsWith(url, "postgresql://") || absl::StartsWith(url, "postgres://");
}

absl::StatusOr<std::unique_ptr<SqlDb>> OpenSqlDb(absl::string_view url, int busy_timeout_ms,
                                                 absl::string_view what) {
  if (url.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  }
  if (IsPostgresUrl(url)) {
    return OpenPostgresDb(std::string(url));
  }
  CHURN_ASSIGN_OR_RETURN(const std::string path, SqlitePath(url, what));
  return OpenSqliteDb(path, busy_timeout_ms);
}

std::string NumberPlaceholders(absl::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  bool in_literal = false;
  for (const char c : sql) {
    if (c == '\'') {
      in_literal = !in_literal;  // '' inside a literal toggles twice: still inside
    }
    if (c == '?' && !in_literal) {
      absl::StrAppend(&out, "$", ++n);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace churn::registry::internal
