#include "churn/serving/logged_inputs.h"

#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"

#include "churn/base/status_macros.h"
#include "churn/serving/request_decoder.h"

namespace churn::serving {
namespace {

constexpr size_t kPage = 10000;

int64_t Micros(absl::Time t) {
  if (t == absl::InfinitePast()) {
    return std::numeric_limits<int64_t>::min();
  }
  if (t == absl::InfiniteFuture()) {
    return std::numeric_limits<int64_t>::max();
  }
  return absl::ToUnixMicros(t);
}

absl::StatusOr<absl::Time> ParseSide(absl::string_view text, absl::Time empty) {
  if (text.empty()) {
    return empty;
  }
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("log window: '", text, "' is not an RFC 3339 time (", error, ")"));
  }
  return t;
}

}  // namespace

absl::StatusOr<LogWindow> ParseLogWindow(absl::string_view text, absl::Time now) {
  LogWindow w;
  if (text.empty()) {
    return w;
  }
  const size_t dots = text.find("..");
  if (dots != absl::string_view::npos) {
    CHURN_ASSIGN_OR_RETURN(w.since, ParseSide(text.substr(0, dots), absl::InfinitePast()));
    CHURN_ASSIGN_OR_RETURN(w.until, ParseSide(text.substr(dots + 2), absl::InfiniteFuture()));
    return w;
  }
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("log window '", text,
                     "': expected a duration (1h, 30m), SINCE..UNTIL in RFC 3339, or nothing"));
  }
  w.since = now - d;
  return w;
}

absl::StatusOr<LoggedInputs> ReadLoggedInputs(PredictionLog& log, const data::Schema& schema,
                                              const LogWindow& window) {
  if (window.since >= window.until || window.max_rows == 0) {
    return absl::InvalidArgumentError(
        "log window: since must be before until, and max_rows positive");
  }
  LoggedInputs out{.table = data::Table(schema)};
  std::deque<PredictionLog::Row> kept;
  PredictionLog::Query q{
      .since_us = Micros(window.since), .until_us = Micros(window.until), .limit = kPage};
  for (;;) {
    CHURN_ASSIGN_OR_RETURN(std::vector<PredictionLog::Row> page, log.ReadPredictions(q));
    for (PredictionLog::Row& row : page) {
      q.after_id = row.id;
      if (!window.model_name.empty() && row.record.model_name != window.model_name) {
        continue;
      }
      kept.push_back(std::move(row));
      if (kept.size() > window.max_rows) {
        kept.pop_front();
        ++out.dropped;
      }
    }
    if (page.size() < kPage) {
      break;
    }
  }
  for (const PredictionLog::Row& row : kept) {
    if (AppendRecordJson(row.record.inputs_json, &out.table).ok()) {
      out.probabilities.push_back(static_cast<float>(row.record.probability));
    } else {
      ++out.skipped;
    }
  }
  return out;
}

}  // namespace churn::serving
