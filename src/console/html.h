// The console's building blocks: the page frame (head, style, navigation), escaping, links,
// times, durations, numbers, state badges, tables and query parameters. Everything here returns
// HTML that is safe to concatenate: text from data is escaped on the way in.
#ifndef CHURN_CONSOLE_HTML_H_
#define CHURN_CONSOLE_HTML_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "churn/http/server.h"

namespace churn::console::internal {

// The navigation entries; a page names the one it belongs to.
enum class Section { kOverview, kModels, kRuns, kFlows, kReports, kDrift };

// One page being written: Begin() writes the head, the style and the navigation, Finish() the
// footer and closes the document. `title` is plain text (escaped here).
class PageWriter {
 public:
  PageWriter(absl::string_view title, Section section);

  // Appends HTML as it is (the caller escaped what came from data).
  void Add(absl::string_view html);
  // Appends `text` escaped.
  void Text(absl::string_view text);

  // <meta http-equiv="refresh">: the browser reloads the page every `seconds` (live pages).
  void RefreshEvery(int seconds) { refresh_seconds_ = seconds; }

  // The whole document.
  std::string Finish(absl::Time now);

 private:
  std::string title_;
  Section section_;
  int refresh_seconds_ = 0;
  std::string body_;
};

// report::HtmlEscape.
std::string Esc(absl::string_view text);
// `text` percent-encoded for one path segment or query value (RFC 3986 unreserved characters
// stay, every other byte becomes %XX), so a name holding '/', '?', '#' or '%' round-trips.
std::string UrlPart(absl::string_view text);
// <a href="HREF">TEXT</a>, both escaped. `href` is a URL built with UrlPart.
std::string Link(absl::string_view href, absl::string_view text);

// "/ui/runs/ID", "/ui/models/NAME", ... with the ids percent-encoded.
std::string RunHref(absl::string_view run_id);
std::string StudyHref(absl::string_view run_id);
std::string ModelHref(absl::string_view name);
std::string VersionHref(absl::string_view name, int64_t version);
std::string FlowRunHref(int64_t id);

// <time datetime="RFC 3339">YYYY-MM-DD HH:MM:SS</time> in UTC; "-" for 0 (not set).
std::string TimeMs(int64_t ms);
std::string TimeAt(absl::Time t);
// "850 ms", "12.3 s", "4 m 05 s", "2 h 03 m", "3 d 04 h"; "-" when negative.
std::string DurationMs(int64_t ms);
// The time from start to end (or to `now_ms` when the end is 0, marked "running"); "-" without a
// start.
std::string Elapsed(int64_t start_ms, int64_t end_ms, int64_t now_ms);
// %.6g; "NaN", "+Inf", "-Inf" for the non-finite.
std::string Number(double value);
// A byte count: "512 B", "3.4 KiB", "1.2 MiB".
std::string Bytes(int64_t bytes);

// A coloured state badge: <span class="badge s-CLASS">TEXT</span>, the class chosen from the
// state's meaning (ok, bad, run, wait, off).
std::string Badge(absl::string_view state);

// A table in a horizontally scrolling box. `head` and the cells are HTML. A row whose first
// string is RowClass(CLASS) gets class="CLASS"; a cell made by Numeric is right-aligned.
std::string Table(const std::vector<std::string>& head,
                  const std::vector<std::vector<std::string>>& rows);
// Markers for Table: a row's first string RowClass("diff"); a cell Numeric(Number(x)).
std::string RowClass(absl::string_view css_class);
std::string Numeric(absl::string_view html);
// <dl class="kv">: terms and HTML values.
std::string KeyValues(const std::vector<std::pair<std::string, std::string>>& items);
// <figure> with an escaped caption around a chart.
std::string Figure(absl::string_view caption, absl::string_view svg);
// <p class="empty">TEXT</p>.
std::string Empty(absl::string_view text);

// A query parameter as an integer in [lo, hi]; `fallback` when absent or empty. InvalidArgument
// naming the parameter otherwise.
absl::StatusOr<int64_t> IntParam(const http::Request& request, absl::string_view name,
                                 int64_t fallback, int64_t lo, int64_t hi);
// Every value of the query parameter `name`, in order.
std::vector<std::string> ParamValues(const http::Request& request, absl::string_view name);
// A string as a quoted literal of the registry's filter syntax ('...' with '' for ').
std::string FilterLiteral(absl::string_view value);

// The value of a run's tag, or empty.
template <typename TagList>
std::string TagOf(const TagList& tags, absl::string_view key) {
  for (const auto& t : tags) {
    if (t.key == key) {
      return t.value;
    }
  }
  return {};
}

// The tag that names a run's parent (MLflow's nested runs) and the tag of a study run.
inline constexpr char kParentTag[] = "mlflow.parentRunId";
inline constexpr char kKindTag[] = "churn.kind";

}  // namespace churn::console::internal

#endif  // CHURN_CONSOLE_HTML_H_
