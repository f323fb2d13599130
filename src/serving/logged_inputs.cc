#include "churn/serving/logged_inputs.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
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

// The feedback a window's predictions may be labeled by (LoggedInputs::labels).
struct Outcomes {
  absl::flat_hash_map<std::string, int> by_request{};
  // Per customer: (time observed, churned), by time.
  absl::flat_hash_map<std::string, std::vector<std::pair<int64_t, int>>> by_customer{};
};

absl::StatusOr<Outcomes> ReadOutcomes(PredictionLog& log, int64_t since_us) {
  Outcomes out;
  PredictionLog::FeedbackQuery q{.since_us = since_us, .limit = kPage};
  for (;;) {
    CHURN_ASSIGN_OR_RETURN(std::vector<PredictionLog::FeedbackRow> page, log.ReadFeedback(q));
    for (PredictionLog::FeedbackRow& row : page) {
      q.after_id = row.id;
      const FeedbackRecord& f = row.record;
      if (!f.request_id.empty()) {
        out.by_request[f.request_id] = f.churned;
      } else if (!f.customer_id.empty()) {
        out.by_customer[f.customer_id].emplace_back(f.time_us, f.churned);
      }
    }
    if (page.size() < kPage) {
      break;
    }
  }
  for (auto& entry : out.by_customer) {
    std::stable_sort(entry.second.begin(), entry.second.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  return out;
}

float OutcomeOf(const Outcomes& outcomes, const PredictionRecord& r) {
  if (!r.request_id.empty()) {
    const auto it = outcomes.by_request.find(r.request_id);
    if (it != outcomes.by_request.end()) {
      return static_cast<float>(it->second);
    }
  }
  const auto it =
      r.customer_id.empty() ? outcomes.by_customer.end() : outcomes.by_customer.find(r.customer_id);
  if (it == outcomes.by_customer.end()) {
    return std::nanf("");
  }
  const auto first =
      std::lower_bound(it->second.begin(), it->second.end(), r.time_us,
                       [](const std::pair<int64_t, int>& f, int64_t t) { return f.first < t; });
  return first == it->second.end() ? std::nanf("") : static_cast<float>(first->second);
}

// The newest window.max_rows predictions of the window (of its model), oldest first; the
// older ones counted in *dropped.
absl::StatusOr<std::deque<PredictionLog::Row>> ReadWindowRows(PredictionLog& log,
                                                              const LogWindow& window,
                                                              size_t* dropped) {
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
        ++*dropped;
      }
    }
    if (page.size() < kPage) {
      return kept;
    }
  }
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
  CHURN_ASSIGN_OR_RETURN(const std::deque<PredictionLog::Row> kept,
                         ReadWindowRows(log, window, &out.dropped));
  Outcomes outcomes;
  if (window.with_labels) {
    CHURN_ASSIGN_OR_RETURN(outcomes, ReadOutcomes(log, Micros(window.since)));
  }
  for (const PredictionLog::Row& row : kept) {
    if (AppendRecordJson(row.record.inputs_json, &out.table).ok()) {
      out.probabilities.push_back(static_cast<float>(row.record.probability));
      if (window.with_labels) {
        out.labels.push_back(OutcomeOf(outcomes, row.record));
        out.labeled += static_cast<size_t>(!std::isnan(out.labels.back()));
      }
    } else {
      ++out.skipped;
    }
  }
  return out;
}

}  // namespace churn::serving
