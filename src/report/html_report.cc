#include "churn/report/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "churn/drift/report.h"

namespace churn::report {
namespace {

// --- Binning ---------------------------------------------------------------------------------

struct Range {
  double lo = 0.0;
  double hi = 1.0;
};

// numpy's rule for an empty range.
Range Widen(Range r) {
  if (r.lo == r.hi) {
    return {r.lo - 0.5, r.hi + 0.5};
  }
  return r;
}

// The range of the finite values of both samples; (0, 1) without any.
Range PooledRange(absl::Span<const double> reference, absl::Span<const double> current) {
  bool any = false;
  Range r{0.0, 0.0};
  for (absl::Span<const double> side : {reference, current}) {
    for (double x : side) {
      if (!std::isfinite(x)) {
        continue;
      }
      r.lo = any ? std::min(r.lo, x) : x;
      r.hi = any ? std::max(r.hi, x) : x;
      any = true;
    }
  }
  return any ? Widen(r) : Range{0.0, 1.0};
}

// numpy.linspace(lo, hi, bins + 1): i * step + lo, the last edge exactly hi.
std::vector<double> Linspace(Range r, size_t bins) {
  std::vector<double> edges(bins + 1);
  const double step = (r.hi - r.lo) / static_cast<double>(bins);
  for (size_t i = 0; i < bins; ++i) {
    edges[i] = static_cast<double>(i) * step + r.lo;
  }
  edges[bins] = r.hi;
  return edges;
}

// The bin of edges.front() <= x <= edges.back() as numpy.histogram's uniform path finds it: the
// scaled position, then corrected so that edges[i] <= x < edges[i + 1] (the last bin closed).
size_t BinIndex(double x, const std::vector<double>& edges) {
  const size_t n = edges.size() - 1;
  const double lo = edges.front();
  const double hi = edges.back();
  const double f = (x - lo) / (hi - lo) * static_cast<double>(n);
  size_t i = f > 0.0 ? static_cast<size_t>(f) : 0;
  i = std::min(i, n - 1);
  if (i > 0 && x < edges[i]) {
    --i;
  }
  if (i + 1 < n && x >= edges[i + 1]) {
    ++i;
  }
  return i;
}

std::vector<double> CountIn(absl::Span<const double> values, const std::vector<double>& edges) {
  std::vector<double> counts(edges.size() - 1, 0.0);
  for (double x : values) {
    if (std::isfinite(x) && x >= edges.front() && x <= edges.back()) {
      counts[BinIndex(x, edges)] += 1.0;
    }
  }
  return counts;
}

HistogramPair BinOver(absl::Span<const double> reference, absl::Span<const double> current,
                      Range range, int bins) {
  HistogramPair pair;
  pair.edges = Linspace(range, static_cast<size_t>(std::max(bins, 1)));
  pair.reference = CountIn(reference, pair.edges);
  pair.current = CountIn(current, pair.edges);
  return pair;
}

// --- Formatting ------------------------------------------------------------------------------

std::string Num(double v) {
  return absl::StrFormat("%.4g", v);
}

std::string Fixed3(double v) {
  return absl::StrFormat("%.3f", v);
}

std::string Percent(double share) {
  return absl::StrFormat("%.1f%%", 100.0 * share);
}

// Coordinates in the SVG user space, one decimal.
std::string Coord(double v) {
  return absl::StrFormat("%.1f", v);
}

std::string HumanTime(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) {
    return "unknown";
  }
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

std::string Window(absl::Time since, absl::Time until) {
  return absl::StrCat(HumanTime(since), " \xE2\x80\x93 ", HumanTime(until));
}

// At most `max_chars` UTF-8 code points of `text`, with an ellipsis when cut.
std::string Truncate(absl::string_view text, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if ((byte & 0xC0U) == 0x80U) {
      continue;  // a continuation byte
    }
    if (chars == max_chars) {
      return absl::StrCat(text.substr(0, i), "\xE2\x80\xA6");
    }
    ++chars;
  }
  return std::string(text);
}

std::vector<double> Proportions(const std::vector<double>& values) {
  double total = 0.0;
  for (double v : values) {
    total += std::isfinite(v) && v > 0.0 ? v : 0.0;
  }
  std::vector<double> out(values.size(), 0.0);
  for (size_t i = 0; i < values.size() && total > 0.0; ++i) {
    out[i] = std::isfinite(values[i]) && values[i] > 0.0 ? values[i] / total : 0.0;
  }
  return out;
}

std::string Verdict(const drift::DatasetDriftResult& d) {
  return absl::StrCat(d.drifted ? "Dataset drift detected" : "No dataset drift", ": ",
                      d.drifted_columns, " of ", d.columns, " features drifted (", Percent(d.share),
                      "; threshold ", Percent(d.threshold), ")");
}

// --- Page ------------------------------------------------------------------------------------

constexpr absl::string_view kStyle = R"css(
*{box-sizing:border-box}
body{margin:0;padding:12px;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1d2430;background:#fff}
main{max-width:1100px;margin:0 auto}
h1{font-size:1.5em;margin:.2em 0 .4em}
h2{font-size:1.2em;margin:1.4em 0 .5em;border-bottom:1px solid #d8dde6;padding-bottom:.2em}
.verdict{padding:.6em .8em;border-radius:6px;font-weight:600;margin:.4em 0}
.verdict.drift{background:#fde4e1;color:#8a1c10}
.verdict.ok{background:#e3f4e8;color:#1b5e33}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:.25em 1em;margin:.6em 0}
dl.summary dt{font-weight:600}
dl.summary dd{margin:0;overflow-wrap:anywhere}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;min-width:100%}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #e4e7ec;white-space:nowrap}
th{background:#f3f5f8}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.drifted td{background:#fde4e1}
.badge{display:inline-block;padding:0 .45em;border-radius:4px;font-size:.85em;font-weight:600}
.badge.drift{background:#c0392b;color:#fff}
.badge.ok{background:#e3f4e8;color:#1b5e33}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(290px,1fr));gap:12px}
figure{margin:0;padding:8px;border:1px solid #e4e7ec;border-radius:6px}
figure.drifted{border-color:#c0392b}
figcaption{font-weight:600;font-size:.95em;overflow-wrap:anywhere}
figcaption small{font-weight:400;color:#5b6472}
svg{display:block;width:100%;height:auto}
svg text{font-size:9px;fill:#3b4350}
svg .r{fill:#7f8fa6}
svg .c{fill:#e8833a}
svg .ax{stroke:#9aa3b1;stroke-width:1}
footer{margin-top:2em;color:#5b6472;font-size:.85em}
)css";

void AppendHead(absl::string_view title, std::string* out) {
  absl::StrAppend(out,
                  "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<title>",
                  HtmlEscape(title), "</title>\n<style>", kStyle,
                  "</style>\n</head>\n<body>\n<main>\n");
}

void AppendTail(std::string* out) {
  absl::StrAppend(out, "</main>\n</body>\n</html>\n");
}

void AppendTerm(absl::string_view term, absl::string_view escaped_value, std::string* out) {
  absl::StrAppend(out, "<dt>", term, "</dt><dd>", escaped_value, "</dd>\n");
}

void AppendSummary(const ReportInput& in, std::string* out) {
  absl::StrAppend(out, "<header>\n<h1>", HtmlEscape(in.title), "</h1>\n<p class=\"verdict ",
                  in.dataset.drifted ? "drift" : "ok", "\">", Verdict(in.dataset), "</p>\n");
  absl::StrAppend(out, "<dl class=\"summary\">\n");
  std::string model = absl::StrCat(HtmlEscape(in.model.name), " version ", in.model.version);
  if (!in.model.run_id.empty()) {
    absl::StrAppend(&model, " (run ", HtmlEscape(in.model.run_id), ")");
  }
  AppendTerm("Model", model, out);
  AppendTerm("Window", Window(in.since, in.until), out);
  AppendTerm("Rows", absl::StrCat(in.rows, " in the window, ", in.reference_rows, " reference"),
             out);
  if (in.previous.has_value()) {
    const PreviousWindow& p = *in.previous;
    AppendTerm(
        "Against the previous window",
        absl::StrCat(Verdict(p.dataset), "; ", Window(p.since, p.until), ", ", p.rows, " rows"),
        out);
  }
  AppendTerm("Generated", HumanTime(in.generated_at), out);
  absl::StrAppend(out, "</dl>\n</header>\n");
}

std::string DriftBadge(bool drifted) {
  return drifted ? "<span class=\"badge drift\">drifted</span>"
                 : "<span class=\"badge ok\">no</span>";
}

void AppendFeatureRow(const FeatureSection& f, bool with_previous, std::string* out) {
  absl::StrAppend(out, "<tr class=\"feature", f.drifted ? " drifted" : "", "\"><td>",
                  HtmlEscape(f.name), "</td><td>", drift::ColumnKindName(f.kind), "</td><td>",
                  HtmlEscape(f.test_name), "</td><td class=\"n\">", Num(f.score),
                  "</td><td class=\"n\">", Num(f.threshold), "</td><td>", DriftBadge(f.drifted),
                  "</td>");
  if (with_previous) {
    absl::StrAppend(out, "<td>",
                    f.drifted_vs_previous.has_value() ? DriftBadge(*f.drifted_vs_previous)
                                                      : std::string("\xE2\x80\x94"),
                    "</td>");
  }
  absl::StrAppend(out, "</tr>\n");
}

void AppendFeatureTable(const ReportInput& in, std::string* out) {
  const bool with_previous = in.previous.has_value();
  absl::StrAppend(out,
                  "<section>\n<h2>Features</h2>\n<div class=\"scroll\">\n<table id=\"features\">\n"
                  "<thead><tr><th>Feature</th><th>Type</th><th>Test</th><th>Score</th>"
                  "<th>Threshold</th><th>Drifted</th>",
                  with_previous ? "<th>vs previous window</th>" : "", "</tr></thead>\n<tbody>\n");
  for (const FeatureSection& f : in.features) {
    AppendFeatureRow(f, with_previous, out);
  }
  absl::StrAppend(out, "</tbody>\n</table>\n</div>\n</section>\n");
}

// --- Charts ----------------------------------------------------------------------------------

constexpr double kWidth = 320.0;
constexpr double kLeft = 34.0;
constexpr double kRight = 6.0;
constexpr double kTop = 20.0;
constexpr double kPlotW = kWidth - kLeft - kRight;
constexpr double kPlotH = 126.0;
constexpr double kBaseY = kTop + kPlotH;
// Below the plot: one line of edges (numeric), or labels slanted by 35 degrees (categorical).
constexpr double kBottomNumeric = 24.0;
constexpr double kBottomCategorical = 50.0;
constexpr size_t kMaxLabelChars = 12;

// One chart's vertical scale: the proportion drawn at the top of the plot.
struct Frame {
  double height = kTop + kPlotH + kBottomNumeric;
  double ymax = 1.0;
};

// "[a, b)" (the last bin "[a, b]") or the category label, for the bin's tooltip.
std::string BinName(const HistogramPair& h, size_t i) {
  if (i < h.labels.size()) {
    return HtmlEscape(h.labels[i]);
  }
  if (i + 1 < h.edges.size()) {
    return absl::StrCat("[", Num(h.edges[i]), ", ", Num(h.edges[i + 1]),
                        i + 2 == h.edges.size() ? "]" : ")");
  }
  return absl::StrCat("bin ", i + 1);
}

void AppendBar(absl::string_view cls, double x, double w, double p, const Frame& frame,
               std::string* out) {
  const double h = p / frame.ymax * kPlotH;
  if (h <= 0.0) {
    return;
  }
  absl::StrAppend(out, "<rect class=\"", cls, "\" x=\"", Coord(x), "\" y=\"", Coord(kBaseY - h),
                  "\" width=\"", Coord(w), "\" height=\"", Coord(h), "\"/>");
}

void AppendAxes(const Frame& frame, std::string* out) {
  absl::StrAppend(out, R"(<line class="ax" x1=")", Coord(kLeft), "\" y1=\"", Coord(kBaseY),
                  "\" x2=\"", Coord(kLeft + kPlotW), "\" y2=\"", Coord(kBaseY), "\"/>",
                  R"(<line class="ax" x1=")", Coord(kLeft), "\" y1=\"", Coord(kTop), "\" x2=\"",
                  Coord(kLeft), "\" y2=\"", Coord(kBaseY), "\"/>");
  absl::StrAppend(out, "<text x=\"", Coord(kLeft - 3), "\" y=\"", Coord(kTop + 3),
                  R"(" text-anchor="end">)", Percent(frame.ymax), "</text><text x=\"",
                  Coord(kLeft - 3), "\" y=\"", Coord(kBaseY), R"(" text-anchor="end">0%</text>)");
  // The legend, top right.
  absl::StrAppend(out, R"(<rect class="r" x=")", Coord(kWidth - 150), R"(" y="4" width="9" )",
                  R"(height="9"/><text x=")", Coord(kWidth - 138), R"(" y="12">reference</text>)",
                  R"(<rect class="c" x=")", Coord(kWidth - 80), R"(" y="4" width="9" )",
                  R"(height="9"/><text x=")", Coord(kWidth - 68), R"(" y="12">current</text>)");
}

void AppendText(double x, absl::string_view anchor, absl::string_view escaped, std::string* out) {
  absl::StrAppend(out, "<text x=\"", Coord(x), "\" y=\"", Coord(kBaseY + 12), "\" text-anchor=\"",
                  anchor, "\">", escaped, "</text>");
}

// Each category's label under its bar group, slanted, cut to kMaxLabelChars (the tooltip has it
// whole).
void AppendCategoryLabels(const HistogramPair& h, double group_w, std::string* out) {
  for (size_t i = 0; i < h.labels.size(); ++i) {
    const std::string x = Coord(kLeft + (static_cast<double>(i) + 0.5) * group_w);
    const std::string y = Coord(kBaseY + 10);
    absl::StrAppend(out, "<text x=\"", x, "\" y=\"", y, "\" transform=\"rotate(-35 ", x, " ", y,
                    R"x()" text-anchor="end">)x", HtmlEscape(Truncate(h.labels[i], kMaxLabelChars)),
                    "</text>");
  }
}

// Numeric: the first, middle and last edge; categorical: each label.
void AppendXLabels(const HistogramPair& h, double group_w, std::string* out) {
  if (!h.labels.empty()) {
    AppendCategoryLabels(h, group_w, out);
    return;
  }
  if (h.edges.size() < 2) {
    return;
  }
  AppendText(kLeft, "start", Num(h.edges.front()), out);
  if (h.edges.size() % 2 == 1 && h.edges.size() > 2) {
    AppendText(kLeft + kPlotW / 2, "middle", Num(h.edges[h.edges.size() / 2]), out);
  }
  AppendText(kLeft + kPlotW, "end", Num(h.edges.back()), out);
}

// Reference and current proportions as bars side by side, one group per bin.
void AppendChart(const HistogramPair& h, absl::string_view escaped_name, std::string* out) {
  const size_t bins = std::min(h.reference.size(), h.current.size());
  Frame frame;
  frame.height = kTop + kPlotH + (h.labels.empty() ? kBottomNumeric : kBottomCategorical);
  absl::StrAppend(out, "<svg viewBox=\"0 0 ", Coord(kWidth), " ", Coord(frame.height),
                  R"(" role="img" aria-label=")", escaped_name,
                  ": reference and current distributions\">");
  if (bins == 0) {
    absl::StrAppend(out, "<text x=\"", Coord(kWidth / 2), "\" y=\"", Coord(frame.height / 2),
                    "\" text-anchor=\"middle\">no values</text></svg>\n");
    return;
  }
  const std::vector<double> ref = Proportions(h.reference);
  const std::vector<double> cur = Proportions(h.current);
  frame.ymax = 0.0;
  for (size_t i = 0; i < bins; ++i) {
    frame.ymax = std::max({frame.ymax, ref[i], cur[i]});
  }
  frame.ymax = frame.ymax > 0.0 ? frame.ymax : 1.0;
  const double group_w = kPlotW / static_cast<double>(bins);
  for (size_t i = 0; i < bins; ++i) {
    const double x = kLeft + static_cast<double>(i) * group_w;
    absl::StrAppend(out, "<g><title>", BinName(h, i), ": reference ", Percent(ref[i]), ", current ",
                    Percent(cur[i]), "</title>");
    AppendBar("r", x + group_w * 0.1, group_w * 0.4, ref[i], frame, out);
    AppendBar("c", x + group_w * 0.5, group_w * 0.4, cur[i], frame, out);
    absl::StrAppend(out, "</g>");
  }
  AppendAxes(frame, out);
  AppendXLabels(h, group_w, out);
  absl::StrAppend(out, "</svg>\n");
}

void AppendCharts(const ReportInput& in, std::string* out) {
  absl::StrAppend(out, "<section>\n<h2>Distributions</h2>\n<div class=\"charts\">\n");
  for (const FeatureSection& f : in.features) {
    const std::string name = HtmlEscape(f.name);
    absl::StrAppend(out, "<figure class=\"feature", f.drifted ? " drifted" : "", "\"><figcaption>",
                    name, " <small>", HtmlEscape(f.test_name), " ", Num(f.score),
                    f.drifted ? ", drifted" : "", "</small></figcaption>\n");
    AppendChart(f.histogram, name, out);
    absl::StrAppend(out, "</figure>\n");
  }
  absl::StrAppend(out, "</div>\n</section>\n");
}

void AppendScores(const ReportInput& in, std::string* out) {
  absl::StrAppend(out, "<section>\n<h2>Score distribution</h2>\n<div class=\"charts\">\n",
                  "<figure class=\"scores\"><figcaption>Churn probability <small>mean: reference ",
                  Fixed3(in.reference_mean_score), ", current ", Fixed3(in.current_mean_score),
                  "; decision threshold ", Num(in.decision_threshold), "</small></figcaption>\n");
  AppendChart(in.scores, "Churn probability", out);
  absl::StrAppend(out, "</figure>\n</div>\n</section>\n");
}

void AppendQualityRow(absl::string_view metric, double drift::Quality::*field,
                      const ReportInput& in, std::string* out) {
  absl::StrAppend(out, "<tr><td>", metric, "</td>");
  if (in.realized.has_value()) {
    absl::StrAppend(out, "<td class=\"n\">", Fixed3(in.realized->quality.*field), "</td>");
  }
  if (in.estimated.has_value()) {
    absl::StrAppend(out, "<td class=\"n\">", Fixed3((*in.estimated).*field), "</td>");
  }
  absl::StrAppend(out, "</tr>\n");
}

void AppendQuality(const ReportInput& in, std::string* out) {
  absl::StrAppend(out, "<section>\n<h2>Quality</h2>\n");
  if (!in.realized.has_value() && !in.estimated.has_value()) {
    absl::StrAppend(out, "<p>No labels in this window and no estimate: quality unknown.</p>\n",
                    "</section>\n");
    return;
  }
  if (!in.realized.has_value()) {
    absl::StrAppend(out, "<p>No labels in this window yet: estimated quality only.</p>\n");
  }
  absl::StrAppend(out,
                  "<div class=\"scroll\">\n<table id=\"quality\">\n<thead><tr><th>Metric</th>");
  if (in.realized.has_value()) {
    absl::StrAppend(out, "<th>Realized (", in.realized->labeled_rows, " labeled rows)</th>");
  }
  if (in.estimated.has_value()) {
    absl::StrAppend(out, "<th>Estimated (CBPE)</th>");
  }
  absl::StrAppend(out, "</tr></thead>\n<tbody>\n");
  AppendQualityRow("ROC AUC", &drift::Quality::roc_auc, in, out);
  AppendQualityRow("Precision", &drift::Quality::precision, in, out);
  AppendQualityRow("Recall", &drift::Quality::recall, in, out);
  AppendQualityRow("F1", &drift::Quality::f1, in, out);
  AppendQualityRow("Accuracy", &drift::Quality::accuracy, in, out);
  absl::StrAppend(out, "</tbody>\n</table>\n</div>\n</section>\n");
}

// --- Index -----------------------------------------------------------------------------------

void AppendIndexRow(const ReportEntry& e, std::string* out) {
  const std::string file = HtmlEscape(e.file_name);
  absl::StrAppend(out, "<tr class=\"report", e.dataset.drifted ? " drifted" : "",
                  "\"><td><a href=\"", file, "\">", file, "</a></td><td>", HtmlEscape(e.model_name),
                  " version ", e.model_version, "</td><td>", Window(e.since, e.until), "</td><td>",
                  DriftBadge(e.dataset.drifted), " ", e.dataset.drifted_columns, " of ",
                  e.dataset.columns, " (", Percent(e.dataset.share), ")</td><td>",
                  HumanTime(e.generated_at), "</td></tr>\n");
}

}  // namespace

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if ((byte < 0x20U && ch != '\t' && ch != '\n' && ch != '\r') || byte == 0x7FU) {
          out += "\xEF\xBF\xBD";
        } else {
          out += ch;
        }
    }
  }
  return out;
}

HistogramPair BinNumeric(absl::Span<const double> reference, absl::Span<const double> current,
                         int bins) {
  return BinOver(reference, current, PooledRange(reference, current), bins);
}

HistogramPair BinNumericInRange(absl::Span<const double> reference,
                                absl::Span<const double> current, double lo, double hi, int bins) {
  return BinOver(reference, current, Widen({std::min(lo, hi), std::max(lo, hi)}), bins);
}

HistogramPair BinCategories(absl::Span<const std::string> reference,
                            absl::Span<const std::string> current, size_t max_categories) {
  std::map<std::string, std::pair<double, double>, std::less<>> counts;
  for (const std::string& v : reference) {
    counts[v].first += 1.0;
  }
  for (const std::string& v : current) {
    counts[v].second += 1.0;
  }
  std::vector<std::pair<std::string, std::pair<double, double>>> order(counts.begin(),
                                                                       counts.end());
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second.first + a.second.second > b.second.first + b.second.second;
  });
  const bool fold = max_categories > 0 && order.size() > max_categories;
  const size_t kept = fold ? max_categories - 1 : order.size();
  HistogramPair pair;
  for (size_t i = 0; i < kept; ++i) {
    pair.labels.push_back(order[i].first);
    pair.reference.push_back(order[i].second.first);
    pair.current.push_back(order[i].second.second);
  }
  if (fold) {
    double ref = 0.0;
    double cur = 0.0;
    for (size_t i = kept; i < order.size(); ++i) {
      ref += order[i].second.first;
      cur += order[i].second.second;
    }
    pair.labels.push_back(absl::StrCat("other (", order.size() - kept, " categories)"));
    pair.reference.push_back(ref);
    pair.current.push_back(cur);
  }
  return pair;
}

std::string RenderReport(const ReportInput& input) {
  std::string out;
  out.reserve(16384 + input.features.size() * 6144);
  AppendHead(input.title, &out);
  AppendSummary(input, &out);
  AppendFeatureTable(input, &out);
  AppendCharts(input, &out);
  AppendScores(input, &out);
  AppendQuality(input, &out);
  absl::StrAppend(&out, "<footer>Generated by churn at ", HumanTime(input.generated_at),
                  ". Self-contained page: no scripts, no external resources.</footer>\n");
  AppendTail(&out);
  return out;
}

bool IsSafeReportFileName(absl::string_view file_name) {
  if (file_name.empty() || file_name == "." || absl::StrContains(file_name, "..")) {
    return false;
  }
  return std::none_of(file_name.begin(), file_name.end(), [](char ch) {
    const auto byte = static_cast<unsigned char>(ch);
    return byte <= 0x20U || byte == 0x7FU ||
           absl::string_view("/\\:?#%").find(ch) != absl::string_view::npos;
  });
}

std::string RenderIndex(const std::vector<ReportEntry>& entries) {
  std::vector<const ReportEntry*> shown;
  for (const ReportEntry& e : entries) {
    if (IsSafeReportFileName(e.file_name)) {
      shown.push_back(&e);
    }
  }
  std::sort(shown.begin(), shown.end(), [](const ReportEntry* a, const ReportEntry* b) {
    return std::tie(b->generated_at, b->file_name) < std::tie(a->generated_at, a->file_name);
  });
  std::string out;
  AppendHead("Drift reports", &out);
  absl::StrAppend(&out, "<h1>Drift reports</h1>\n<p>", shown.size(),
                  shown.size() == 1 ? " report" : " reports", ", newest first.</p>\n",
                  "<div class=\"scroll\">\n<table id=\"reports\">\n<thead><tr><th>Report</th>"
                  "<th>Model</th><th>Window</th><th>Dataset drift</th><th>Generated</th></tr>"
                  "</thead>\n<tbody>\n");
  for (const ReportEntry* e : shown) {
    AppendIndexRow(*e, &out);
  }
  absl::StrAppend(&out, "</tbody>\n</table>\n</div>\n");
  AppendTail(&out);
  return out;
}

}  // namespace churn::report
