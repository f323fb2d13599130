#include "console/charts.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "console/html.h"

namespace churn::console::internal {
namespace {

constexpr double kChartW = 480;
constexpr double kChartH = 250;
constexpr double kPadLeft = 54;
constexpr double kPadRight = 14;
constexpr double kPadTop = 24;
constexpr double kPadBottom = 40;
constexpr size_t kMaxPoints = 600;
constexpr size_t kTicks = 4;

// Line colours: distinguishable, also for the common colour-vision deficiencies.
constexpr const char* kPalette[] = {"#1f77b4", "#e8833a", "#2ca02c", "#9467bd",
                                    "#8c564b", "#d62728", "#17becf", "#7f7f7f"};

std::string Coord(double v) {
  return absl::StrFormat("%.1f", v);
}

std::string Tick(double v) {
  return absl::StrFormat("%.4g", v);
}

std::string Cut(absl::string_view text, size_t max_chars) {
  if (text.size() <= max_chars) {
    return std::string(text);
  }
  return absl::StrCat(text.substr(0, max_chars - 1), "…");
}

// A data range mapped onto a pixel range, optionally through log10.
struct Axis {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  bool log = false;
  double px_from = 0;
  double px_to = 1;

  void Include(double v) {
    if (std::isfinite(v) && (!log || v > 0)) {
      const double t = log ? std::log10(v) : v;
      lo = std::min(lo, t);
      hi = std::max(hi, t);
    }
  }

  bool Empty() const { return lo > hi; }

  // Widens a single value to a visible range and leaves a margin.
  void Settle(double margin) {
    if (lo == hi) {
      const double d = lo == 0 ? 0.5 : std::abs(lo) * 0.05;
      lo -= d;
      hi += d;
    }
    const double m = (hi - lo) * margin;
    lo -= m;
    hi += m;
  }

  double Px(double v) const {
    const double t = log ? std::log10(v) : v;
    return px_from + (t - lo) / (hi - lo) * (px_to - px_from);
  }

  // The value at tick i of kTicks (in data units).
  double TickValue(size_t i) const {
    const double t = lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(kTicks);
    return log ? std::pow(10.0, t) : t;
  }
};

bool Finite(const std::pair<double, double>& p) {
  return std::isfinite(p.first) && std::isfinite(p.second);
}

// The first x tick label starts at its tick, the last ends at it: neither leaves the chart.
const char* TickAnchor(size_t i) {
  if (i == 0) {
    return "start";
  }
  return i == kTicks ? "end" : "middle";
}

void AppendFrame(const Axis& x, const Axis& y, absl::string_view x_label, absl::string_view y_label,
                 std::string* out) {
  for (size_t i = 0; i <= kTicks; ++i) {
    const double py = y.px_from + (y.px_to - y.px_from) * static_cast<double>(i) / kTicks;
    const double px = x.px_from + (x.px_to - x.px_from) * static_cast<double>(i) / kTicks;
    absl::StrAppend(out, R"(<line class="gl" x1=")", Coord(kPadLeft), "\" y1=\"", Coord(py),
                    "\" x2=\"", Coord(kChartW - kPadRight), "\" y2=\"", Coord(py), "\"/>",
                    "<text x=\"", Coord(kPadLeft - 4), "\" y=\"", Coord(py + 3),
                    R"(" text-anchor="end">)", Tick(y.TickValue(i)), "</text>", "<text x=\"",
                    Coord(px), "\" y=\"", Coord(kChartH - kPadBottom + 14), R"(" text-anchor=")",
                    TickAnchor(i), R"(">)", Tick(x.TickValue(i)), "</text>");
  }
  const double base = kChartH - kPadBottom;
  absl::StrAppend(out, R"(<line class="ax" x1=")", Coord(kPadLeft), "\" y1=\"", Coord(base),
                  "\" x2=\"", Coord(kChartW - kPadRight), "\" y2=\"", Coord(base), "\"/>",
                  R"(<line class="ax" x1=")", Coord(kPadLeft), "\" y1=\"", Coord(kPadTop),
                  "\" x2=\"", Coord(kPadLeft), "\" y2=\"", Coord(base), "\"/>");
  absl::StrAppend(out, "<text x=\"", Coord((kPadLeft + kChartW - kPadRight) / 2), "\" y=\"",
                  Coord(kChartH - 6), R"(" text-anchor="middle">)", Esc(x_label), "</text>",
                  R"(<text x="4" y=")", Coord(kPadTop - 10), "\">", Esc(y_label), "</text>");
}

Axis XAxis(bool log) {
  Axis a;
  a.log = log;
  a.px_from = kPadLeft;
  a.px_to = kChartW - kPadRight;
  return a;
}

Axis YAxis() {
  Axis a;
  a.px_from = kChartH - kPadBottom;
  a.px_to = kPadTop;
  return a;
}

std::string OpenSvg(absl::string_view aria) {
  return absl::StrCat("<svg viewBox=\"0 0 ", Coord(kChartW), " ", Coord(kChartH),
                      R"(" role="img" aria-label=")", Esc(aria), "\">");
}

std::string NoValues() {
  return absl::StrCat(OpenSvg("no values"), "<text x=\"", Coord(kChartW / 2), "\" y=\"",
                      Coord(kChartH / 2), "\" text-anchor=\"middle\">no values</text></svg>\n");
}

// Every k-th point so that at most about kMaxPoints remain, the last one always.
std::vector<std::pair<double, double>> Thin(const std::vector<std::pair<double, double>>& points) {
  std::vector<std::pair<double, double>> finite;
  std::copy_if(points.begin(), points.end(), std::back_inserter(finite), Finite);
  if (finite.size() <= kMaxPoints) {
    return finite;
  }
  const size_t step = (finite.size() + kMaxPoints - 1) / kMaxPoints;
  std::vector<std::pair<double, double>> out;
  for (size_t i = 0; i < finite.size(); i += step) {
    out.push_back(finite[i]);
  }
  if (out.back() != finite.back()) {
    out.push_back(finite.back());
  }
  return out;
}

// The series' colours and names in one row, right-aligned (the y label is on the left).
void AppendLegend(const std::vector<Series>& series, std::string* out) {
  constexpr double kCharW = 6.8;
  std::vector<std::string> names;
  double width = 0;
  for (size_t i = 0; i < series.size() && i < std::size(kPalette); ++i) {
    names.push_back(Cut(series[i].name, 24));
    width += 22 + kCharW * static_cast<double>(names.back().size());
  }
  double x = std::max(kPadLeft + 60, kChartW - kPadRight - width);
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StrAppend(out, "<rect x=\"", Coord(x), "\" y=\"", Coord(kPadTop - 20),
                    R"(" width="9" height="9" fill=")", kPalette[i], "\"/><text x=\"",
                    Coord(x + 12), "\" y=\"", Coord(kPadTop - 11), "\">", Esc(names[i]), "</text>");
    x += 22 + kCharW * static_cast<double>(names[i].size());
  }
}

// The front as a staircase: cost rises, quality steps up.
void AppendFrontLine(const std::vector<ScatterPoint>& points, const Axis& x, const Axis& y,
                     std::string* out) {
  std::vector<const ScatterPoint*> front;
  for (const ScatterPoint& p : points) {
    if (p.front && std::isfinite(p.x) && std::isfinite(p.y) && (!x.log || p.x > 0)) {
      front.push_back(&p);
    }
  }
  std::sort(front.begin(), front.end(),
            [](const ScatterPoint* a, const ScatterPoint* b) { return a->x < b->x; });
  if (front.size() < 2) {
    return;
  }
  absl::StrAppend(out, R"(<polyline class="front" fill="none" stroke="#e8833a" )"
                       R"(stroke-width="1.5" stroke-dasharray="4 3" points=")");
  for (size_t i = 0; i < front.size(); ++i) {
    if (i > 0) {
      absl::StrAppend(out, Coord(x.Px(front[i]->x)), ",", Coord(y.Px(front[i - 1]->y)), " ");
    }
    absl::StrAppend(out, Coord(x.Px(front[i]->x)), ",", Coord(y.Px(front[i]->y)), " ");
  }
  absl::StrAppend(out, R"("/>)");
}

// One trial: a link (or group) with its tooltip, the winner's ring, the dot.
void AppendPoint(const ScatterPoint& p, const Axis& x, const Axis& y, std::string* out) {
  const std::string cx = Coord(x.Px(p.x));
  const std::string cy = Coord(y.Px(p.y));
  absl::StrAppend(out, p.href.empty() ? "<g>" : absl::StrCat(R"(<a href=")", Esc(p.href), R"(">)"),
                  "<title>", Esc(p.label), "</title>");
  if (p.winner) {
    absl::StrAppend(out, R"(<circle cx=")", cx, R"(" cy=")", cy,
                    R"(" r="8" fill="none" stroke="#c0392b" stroke-width="2"/>)");
  }
  const char* fill = "#7f8fa6";
  if (p.muted) {
    fill = "none";
  } else if (p.front) {
    fill = "#e8833a";
  }
  absl::StrAppend(out, R"(<circle class=")", p.front ? "pt front" : "pt", R"(" cx=")", cx,
                  R"(" cy=")", cy, R"(" r=")", p.front ? "4.5" : "3.5", R"(" fill=")", fill,
                  R"(" stroke=")", p.front ? "#a34e12" : "#56627a", R"("/>)",
                  p.href.empty() ? "</g>" : "</a>");
}

}  // namespace

std::string LineChart(const std::vector<Series>& series, absl::string_view x_label,
                      absl::string_view y_label) {
  std::vector<std::vector<std::pair<double, double>>> thinned;
  Axis x = XAxis(false);
  Axis y = YAxis();
  for (const Series& s : series) {
    thinned.push_back(Thin(s.points));
    for (const auto& p : thinned.back()) {
      x.Include(p.first);
      y.Include(p.second);
    }
  }
  if (x.Empty()) {
    return NoValues();
  }
  x.Settle(0.0);
  y.Settle(0.05);
  std::string out = OpenSvg(absl::StrCat(y_label, " by ", x_label));
  AppendFrame(x, y, x_label, y_label, &out);
  for (size_t i = 0; i < thinned.size(); ++i) {
    const char* colour = kPalette[i % std::size(kPalette)];
    absl::StrAppend(&out, "<g><title>", Esc(series[i].name), "</title>");
    if (thinned[i].size() == 1) {
      absl::StrAppend(&out, "<circle cx=\"", Coord(x.Px(thinned[i][0].first)), "\" cy=\"",
                      Coord(y.Px(thinned[i][0].second)), R"(" r="3" fill=")", colour, "\"/>");
    } else if (!thinned[i].empty()) {
      absl::StrAppend(&out, R"(<polyline fill="none" stroke=")", colour,
                      R"(" stroke-width="1.6" points=")");
      for (const auto& p : thinned[i]) {
        absl::StrAppend(&out, Coord(x.Px(p.first)), ",", Coord(y.Px(p.second)), " ");
      }
      absl::StrAppend(&out, "\"/>");
    }
    absl::StrAppend(&out, "</g>");
  }
  if (series.size() > 1) {
    AppendLegend(series, &out);
  }
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

std::string ScatterChart(const std::vector<ScatterPoint>& points, absl::string_view x_label,
                         absl::string_view y_label, bool log_x) {
  const bool use_log = log_x && std::all_of(points.begin(), points.end(),
                                            [](const ScatterPoint& p) { return p.x > 0; });
  Axis x = XAxis(use_log);
  Axis y = YAxis();
  for (const ScatterPoint& p : points) {
    if (std::isfinite(p.y)) {
      x.Include(p.x);
      y.Include(p.y);
    }
  }
  if (x.Empty()) {
    return NoValues();
  }
  x.Settle(0.04);
  y.Settle(0.06);
  std::string out = OpenSvg(absl::StrCat(y_label, " against ", x_label));
  AppendFrame(x, y, use_log ? absl::StrCat(x_label, " (log scale)") : std::string(x_label), y_label,
              &out);
  AppendFrontLine(points, x, y, &out);
  for (const ScatterPoint& p : points) {
    if (std::isfinite(p.x) && std::isfinite(p.y) && (!use_log || p.x > 0)) {
      AppendPoint(p, x, y, &out);
    }
  }
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

std::string DriftMap(const std::vector<std::string>& features,
                     const std::vector<std::string>& windows,
                     const std::vector<std::vector<DriftCell>>& cells) {
  constexpr double kLabelW = 170;
  constexpr double kCellW = 110;
  constexpr double kRowH = 18;
  constexpr double kHeadH = 20;
  const double width = kLabelW + kCellW * static_cast<double>(std::max<size_t>(windows.size(), 1));
  const double height = kHeadH + kRowH * static_cast<double>(features.size()) + 4;
  std::string out = absl::StrCat("<svg viewBox=\"0 0 ", Coord(width), " ", Coord(height),
                                 R"(" role="img" aria-label="drift per feature and window">)");
  for (size_t w = 0; w < windows.size(); ++w) {
    absl::StrAppend(&out, "<text x=\"", Coord(kLabelW + kCellW * (static_cast<double>(w) + 0.5)),
                    R"(" y="14" text-anchor="middle">)", Esc(windows[w]), " window</text>");
  }
  for (size_t f = 0; f < features.size(); ++f) {
    const double top = kHeadH + kRowH * static_cast<double>(f);
    absl::StrAppend(&out, "<text x=\"", Coord(kLabelW - 6), "\" y=\"", Coord(top + 13),
                    R"(" text-anchor="end">)", Esc(Cut(features[f], 24)), "</text>");
    for (size_t w = 0; w < windows.size() && f < cells.size() && w < cells[f].size(); ++w) {
      const DriftCell& c = cells[f][w];
      const char* fill = !c.computed ? "#eceef1" : (c.drifted ? "#e7796b" : "#a9dbb8");
      const double left = kLabelW + kCellW * static_cast<double>(w);
      absl::StrAppend(
          &out, "<g><title>", Esc(features[f]), ", ", Esc(windows[w]),
          " window: ", !c.computed ? "not computed" : (c.drifted ? "drifted" : "no drift"),
          "</title><rect x=\"", Coord(left + 2), "\" y=\"", Coord(top + 1), "\" width=\"",
          Coord(kCellW - 4), "\" height=\"", Coord(kRowH - 2), R"(" rx="3" fill=")", fill,
          "\"/><text x=\"", Coord(left + kCellW / 2), "\" y=\"", Coord(top + 13),
          R"(" text-anchor="middle">)", Esc(c.text), "</text></g>");
    }
  }
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

}  // namespace churn::console::internal
