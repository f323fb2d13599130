// File: churn/report/html_report.h
//
// The HTML drift report of one window of the prediction log, and the index page that lists the
// reports. Pure rendering: everything the page shows comes in a ReportInput, already computed
// (drift tests, quality, pre-binned histograms); the renderer does no I/O and no statistics, and
// the same input gives the same bytes.
//
//   ReportInput in;
//   in.features.push_back({.name = "Customer_Age", ..., .histogram = BinNumeric(ref, cur, 20)});
//   in.scores = BinNumericInRange(ref_scores, cur_scores, 0.0, 1.0, kScoreBins);
//   std::string html = RenderReport(in);
//
// The page is one self-contained HTML5 document, so it renders with the network disabled (a
// browser opened from file://, a headless Chromium with no network, an e-mail attachment): one
// inline <style>, no <script>, no <link>, no @import, no url(), no fonts or images; the charts
// are inline <svg> without an xmlns attribute (HTML5 puts <svg> in the SVG namespace itself);
// no raw rows, only the bins. A viewport meta and a fluid layout (the charts scale with their
// viewBox, the tables scroll horizontally) make it readable on a phone-sized screen. Every text
// that comes from data (titles, model names, run ids, feature names, category labels, file
// names) goes through HtmlEscape.
#ifndef CHURN_REPORT_HTML_REPORT_H_
#define CHURN_REPORT_HTML_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

#include "churn/drift/quality.h"
#include "churn/drift/stats.h"

namespace churn::report {

// `text` with &, <, >, " and ' as character references (safe in element content and in quoted
// attribute values); C0 control characters other than tab, newline and carriage return, and
// DEL, become U+FFFD (they are parse errors in HTML). Other bytes, UTF-8 included, as they are.
std::string HtmlEscape(absl::string_view text);

// Two aligned distributions, reference and current, over the same bins. Numeric: `edges` holds
// bins + 1 ascending edges and `labels` is empty; categorical: `labels` holds one label per bin
// and `edges` is empty. `reference` and `current` hold one value per bin, counts or proportions:
// the renderer draws each side as proportions of its own total.
struct HistogramPair {
  std::vector<double> edges{};
  std::vector<std::string> labels{};
  std::vector<double> reference{};
  std::vector<double> current{};

  size_t Bins() const { return reference.size(); }
};

// Counts of both samples over `bins` equal-width bins spanning the pooled range [min, max] of
// reference and current together, as numpy.histogram(x, bins, range=(min, max)) does for each
// side: edges numpy.linspace(min, max, bins + 1); bin i holds edges[i] <= x < edges[i + 1], the
// last bin also x == max. Non-finite values are skipped. Both sides empty: the range (0, 1);
// one distinct value v: the range (v - 0.5, v + 0.5) (numpy's rules). `bins` below 1 counts as 1.
HistogramPair BinNumeric(absl::Span<const double> reference, absl::Span<const double> current,
                         int bins);

// The same over the fixed range [lo, hi] (numpy.histogram's range=): values outside it are left
// out. lo == hi: (lo - 0.5, hi + 0.5); lo > hi: swapped. For the score distribution:
// BinNumericInRange(ref, cur, 0.0, 1.0, kScoreBins).
HistogramPair BinNumericInRange(absl::Span<const double> reference,
                                absl::Span<const double> current, double lo, double hi, int bins);

inline constexpr int kScoreBins = 20;

// Counts of both samples per category over the union of their categories, the most frequent
// (reference and current together) first, ties by label. With more than `max_categories`
// categories (0: no limit), the first max_categories - 1 are kept and the others are summed
// into one last bin labelled "other (N categories)".
HistogramPair BinCategories(absl::Span<const std::string> reference,
                            absl::Span<const std::string> current, size_t max_categories);

// One feature's row in the table and its chart.
struct FeatureSection {
  std::string name{};
  drift::ColumnKind kind = drift::ColumnKind::kNumeric;
  std::string test_name{};  // "ks", "chisquare", ... (drift::DriftResult::test_name)
  double score = 0.0;
  double threshold = 0.0;
  bool drifted = false;
  // Whether the feature drifted against the previous window; nullopt: not compared.
  std::optional<bool> drifted_vs_previous{};
  HistogramPair histogram{};
};

struct ModelInfo {
  std::string name{};
  int64_t version = 0;
  std::string run_id{};
};

// Quality on the window's labeled rows (drift::RealizedQuality).
struct RealizedQualitySection {
  drift::Quality quality{};
  uint64_t labeled_rows = 0;
};

// The window before this one, tested against this one.
struct PreviousWindow {
  absl::Time since = absl::InfinitePast();
  absl::Time until = absl::InfinitePast();
  uint64_t rows = 0;
  drift::DatasetDriftResult dataset{};
};

struct ReportInput {
  std::string title = "Drift report";
  ModelInfo model{};
  // The window of the prediction log: [since, until).
  absl::Time since = absl::InfinitePast();
  absl::Time until = absl::InfinitePast();
  absl::Time generated_at = absl::InfinitePast();
  uint64_t rows = 0;
  uint64_t reference_rows = 0;
  drift::DatasetDriftResult dataset{};
  std::vector<FeatureSection> features{};
  // The model's probabilities, reference and current (BinNumericInRange over [0, 1]).
  HistogramPair scores{};
  double reference_mean_score = 0.0;
  double current_mean_score = 0.0;
  double decision_threshold = 0.5;
  std::optional<RealizedQualitySection> realized{};
  std::optional<drift::Quality> estimated{};  // CBPE (drift::EstimateQuality)
  std::optional<PreviousWindow> previous{};
};

// The report as one self-contained HTML5 document (see the file comment): a summary (dataset
// drift verdict and share, rows, model and version, window), the per-feature table (drifted rows
// highlighted and marked "drifted"), a chart per feature and the score distribution (reference
// and current bars side by side), then quality (realized, estimated).
std::string RenderReport(const ReportInput& input);

// One report in the index.
struct ReportEntry {
  std::string file_name{};  // relative to the index page, e.g. "report-20260101T030000Z.html"
  std::string model_name{};
  int64_t model_version = 0;
  absl::Time since = absl::InfinitePast();
  absl::Time until = absl::InfinitePast();
  absl::Time generated_at = absl::InfinitePast();
  drift::DatasetDriftResult dataset{};
};

// Whether `file_name` may be linked from the index: not empty, not "." and without "..", '/',
// '\\', ':', '?', '#', '%', spaces or control characters (so href="NAME" can only name a file
// next to the index).
bool IsSafeReportFileName(absl::string_view file_name);

// The index page (self-contained as the reports): one row per entry, newest generated_at first
// (ties by file name), linking href="FILE_NAME". Entries whose name IsSafeReportFileName refuses
// are left out.
std::string RenderIndex(const std::vector<ReportEntry>& entries);

}  // namespace churn::report

#endif  // CHURN_REPORT_HTML_REPORT_H_
