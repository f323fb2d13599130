// The console's inline SVG charts: line charts (metric histories, overlaid when comparing runs),
// the scatter of a study's trials with its front, and the drift map (features x windows). Each
// returns one <svg> element with a viewBox (it scales with its container), an aria-label and
// <title> tooltips; labels from data are escaped. Non-finite values are left out.
#ifndef CHURN_CONSOLE_CHARTS_H_
#define CHURN_CONSOLE_CHARTS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace churn::console::internal {

struct Series {
  std::string name{};
  std::vector<std::pair<double, double>> points{};  // (x, y), x ascending
};

// Lines of every series over shared axes, with a legend when there are several. A series of
// more than 600 points is thinned to about 600 (every k-th point, the last one kept).
std::string LineChart(const std::vector<Series>& series, absl::string_view x_label,
                      absl::string_view y_label);

struct ScatterPoint {
  double x = 0;
  double y = 0;
  bool front = false;   // on the quality-versus-cost front
  bool winner = false;  // the trial the study chose
  bool muted = false;   // drawn hollow (a pruned trial)
  std::string label{};  // tooltip, plain text
  std::string href{};   // where the point links (a URL built with UrlPart), may be empty
};

// The points, the front joined by a step line, the winner ringed. The x axis is logarithmic when
// `log_x` and every x is positive.
std::string ScatterChart(const std::vector<ScatterPoint>& points, absl::string_view x_label,
                         absl::string_view y_label, bool log_x);

struct DriftCell {
  bool computed = false;
  bool drifted = false;
  std::string text{};  // shown in the cell (the score), plain text
};

// One row per feature, one column per window: red when drifted, green when not, grey when not
// computed. `cells[row][column]`.
std::string DriftMap(const std::vector<std::string>& features,
                     const std::vector<std::string>& windows,
                     const std::vector<std::vector<DriftCell>>& cells);

}  // namespace churn::console::internal

#endif  // CHURN_CONSOLE_CHARTS_H_
