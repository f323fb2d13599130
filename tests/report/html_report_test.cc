#include "churn/report/html_report.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace churn::report {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

size_t Count(absl::string_view haystack, absl::string_view needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != absl::string_view::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

// --- Escaping --------------------------------------------------------------------------------

TEST(HtmlEscapeTest, EscapesMarkupCharacters) {
  EXPECT_EQ(HtmlEscape(R"(<a href="x">'&'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("plain \xC3\xA9t\xC3\xA9\ttab\nline"), "plain \xC3\xA9t\xC3\xA9\ttab\nline");
  EXPECT_EQ(HtmlEscape(std::string("a\0b\x1F\x7F", 5)),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(HtmlEscape(""), "");
}

// --- Binning (numpy.histogram semantics, counts worked out by hand) --------------------------

TEST(BinNumericTest, EqualWidthOverPooledRangeLastEdgeInclusive) {
  // Pooled range [0, 10], 4 bins: edges 0, 2.5, 5, 7.5, 10.
  const std::vector<double> ref = {0, 1, 2, 3, 4, 5};
  const std::vector<double> cur = {2.5, 5, 5, 10};
  const HistogramPair h = BinNumeric(ref, cur, 4);
  EXPECT_THAT(h.edges, ElementsAre(0.0, 2.5, 5.0, 7.5, 10.0));
  EXPECT_TRUE(h.labels.empty());
  EXPECT_THAT(h.reference, ElementsAre(3, 2, 1, 0));  // 2 < 2.5; 5 opens [5, 7.5)
  EXPECT_THAT(h.current, ElementsAre(0, 1, 2, 1));    // 10 == max goes in the last bin
  EXPECT_EQ(h.Bins(), 4U);
}

TEST(BinNumericTest, OneDistinctValueWidensByHalf) {
  // numpy.histogram([3, 3], bins=4) -> edges 2.5 .. 3.5, counts [0, 0, 2, 0].
  const std::vector<double> ref = {3.0, 3.0};
  const HistogramPair h = BinNumeric(ref, {}, 4);
  EXPECT_THAT(h.edges, ElementsAre(2.5, 2.75, 3.0, 3.25, 3.5));
  EXPECT_THAT(h.reference, ElementsAre(0, 0, 2, 0));
  EXPECT_THAT(h.current, ElementsAre(0, 0, 0, 0));
}

TEST(BinNumericTest, EmptySides) {
  // numpy.histogram([], bins=2) -> edges [0, 0.5, 1], counts [0, 0].
  const HistogramPair none = BinNumeric({}, {}, 2);
  EXPECT_THAT(none.edges, ElementsAre(0.0, 0.5, 1.0));
  EXPECT_THAT(none.reference, ElementsAre(0, 0));
  EXPECT_THAT(none.current, ElementsAre(0, 0));

  const std::vector<double> cur = {1.0, 2.0, 3.0};
  const HistogramPair one_side = BinNumeric({}, cur, 2);
  EXPECT_THAT(one_side.edges, ElementsAre(1.0, 2.0, 3.0));
  EXPECT_THAT(one_side.reference, ElementsAre(0, 0));
  EXPECT_THAT(one_side.current, ElementsAre(1, 2));
}

TEST(BinNumericTest, SkipsNonFiniteAndClampsBins) {
  const std::vector<double> ref = {1.0, std::nan(""), 2.0, HUGE_VAL};
  const HistogramPair h = BinNumeric(ref, {}, 0);
  EXPECT_THAT(h.edges, ElementsAre(1.0, 2.0));
  EXPECT_THAT(h.reference, ElementsAre(2));
}

TEST(BinNumericInRangeTest, DropsValuesOutsideAndCorrectsAtEdges) {
  // numpy.histogram(x, bins=5, range=(0, 1)): edges 0, .2, .4, .6000000000000001, .8, 1.
  const std::vector<double> ref = {0.1, 0.2, 0.3, 0.7, 1.0, 1.2, -0.1};
  // 0.6 < edges[3] = 3 * 0.2: numpy puts it in bin 2, not 3.
  const std::vector<double> cur = {0.6, 0.0};
  const HistogramPair h = BinNumericInRange(ref, cur, 0.0, 1.0, 5);
  ASSERT_EQ(h.edges.size(), 6U);
  EXPECT_EQ(h.edges[3], 3 * 0.2);
  EXPECT_EQ(h.edges[5], 1.0);
  EXPECT_THAT(h.reference, ElementsAre(1, 2, 0, 1, 1));
  EXPECT_THAT(h.current, ElementsAre(1, 0, 1, 0, 0));

  const HistogramPair swapped = BinNumericInRange(ref, cur, 1.0, 0.0, 5);
  EXPECT_EQ(swapped.edges, h.edges);
  const HistogramPair scores = BinNumericInRange({}, {}, 0.0, 1.0, kScoreBins);
  EXPECT_EQ(scores.Bins(), 20U);
  EXPECT_DOUBLE_EQ(scores.edges[1], 0.05);
}

TEST(BinCategoriesTest, MostFrequentFirstTiesByLabel) {
  const std::vector<std::string> ref = {"b", "a", "c", "c", "a"};
  const std::vector<std::string> cur = {"c", "d", "b"};
  const HistogramPair h = BinCategories(ref, cur, 0);
  EXPECT_TRUE(h.edges.empty());
  EXPECT_THAT(h.labels, ElementsAre("c", "a", "b", "d"));
  EXPECT_THAT(h.reference, ElementsAre(2, 2, 1, 0));
  EXPECT_THAT(h.current, ElementsAre(1, 0, 1, 1));
}

TEST(BinCategoriesTest, FoldsTheTailIntoOther) {
  const std::vector<std::string> ref = {"a", "a", "a", "b", "b", "c", "d"};
  const std::vector<std::string> cur = {"e", "a"};
  const HistogramPair h = BinCategories(ref, cur, 3);
  EXPECT_THAT(h.labels, ElementsAre("a", "b", "other (3 categories)"));
  EXPECT_THAT(h.reference, ElementsAre(3, 2, 2));
  EXPECT_THAT(h.current, ElementsAre(1, 0, 1));
  EXPECT_EQ(BinCategories(ref, cur, 5).labels.size(), 5U);  // exactly 5: nothing folded
  const HistogramPair empty = BinCategories({}, {}, 7);
  EXPECT_EQ(empty.Bins(), 0U);
}

// --- Report ----------------------------------------------------------------------------------

absl::Time At(int hour) {
  return absl::FromCivil(absl::CivilHour(2026, 3, 1, hour), absl::UTCTimeZone());
}

// A small report: two numeric features (one drifted), one categorical.
ReportInput SmallInput() {
  ReportInput in;
  in.title = "Drift report";
  in.model = {.name = "bank_churners", .version = 7, .run_id = "0123abcd"};
  in.since = At(0);
  in.until = At(3);
  in.generated_at = At(3);
  in.rows = 300;
  in.reference_rows = 1000;
  const std::vector<double> ref = {1, 2, 3, 4, 5, 6};
  const std::vector<double> cur = {4, 5, 6, 7, 8, 9};
  in.features.push_back({.name = "Customer_Age",
                         .kind = drift::ColumnKind::kNumeric,
                         .test_name = "ks",
                         .score = 0.0021,
                         .threshold = 0.05,
                         .drifted = true,
                         .histogram = BinNumeric(ref, cur, 5)});
  in.features.push_back({.name = "Credit_Limit",
                         .test_name = "wasserstein",
                         .score = 0.03,
                         .threshold = 0.1,
                         .histogram = BinNumeric(ref, ref, 5)});
  const std::vector<std::string> cref = {"Blue", "Blue", "Gold"};
  const std::vector<std::string> ccur = {"Blue", "Silver"};
  in.features.push_back({.name = "Card_Category",
                         .kind = drift::ColumnKind::kCategorical,
                         .test_name = "chisquare",
                         .score = 0.4,
                         .threshold = 0.05,
                         .histogram = BinCategories(cref, ccur, 7)});
  in.dataset = {.columns = 3, .drifted_columns = 1, .share = 1.0 / 3, .threshold = 0.5};
  const std::vector<double> sref = {0.1, 0.2, 0.2, 0.9};
  const std::vector<double> scur = {0.3, 0.4, 0.97};
  in.scores = BinNumericInRange(sref, scur, 0.0, 1.0, kScoreBins);
  in.reference_mean_score = 0.35;
  in.current_mean_score = 0.55;
  return in;
}

// The text between the first `open` and the next `close`.
absl::string_view Between(absl::string_view s, absl::string_view open, absl::string_view close) {
  const size_t a = s.find(open);
  if (a == absl::string_view::npos) {
    return {};
  }
  const size_t b = s.find(close, a);
  return s.substr(a, b == absl::string_view::npos ? absl::string_view::npos : b - a);
}

TEST(RenderReportTest, Structure) {
  const ReportInput in = SmallInput();
  const std::string html = RenderReport(in);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>\n", 0), 0U);
  EXPECT_EQ(Count(html, "<html"), 1U);
  EXPECT_EQ(Count(html, "</html>"), 1U);
  EXPECT_EQ(Count(html, "<head>"), 1U);
  EXPECT_EQ(Count(html, "<body>"), 1U);
  EXPECT_THAT(html, HasSubstr("<meta name=\"viewport\""));
  EXPECT_THAT(html, HasSubstr("<meta charset=\"utf-8\">"));
  // One chart per feature plus the score distribution; every <svg> closed.
  EXPECT_EQ(Count(html, "<svg"), in.features.size() + 1);
  EXPECT_EQ(Count(html, "</svg>"), in.features.size() + 1);
  EXPECT_EQ(Count(html, "<g>"), Count(html, "</g>"));
  EXPECT_EQ(Count(html, "<table"), Count(html, "</table>"));
  EXPECT_EQ(Count(html, "<figure"), Count(html, "</figure>"));
  EXPECT_EQ(Count(html, "<section>"), Count(html, "</section>"));
  // The feature table: a row per feature, the drifted one marked.
  const absl::string_view table = Between(html, "<table id=\"features\">", "</table>");
  ASSERT_FALSE(table.empty());
  EXPECT_EQ(Count(table, "<tr class=\"feature"), in.features.size());
  EXPECT_EQ(Count(table, "<tr class=\"feature drifted\">"), 1U);
  EXPECT_THAT(table, HasSubstr("<tr class=\"feature drifted\"><td>Customer_Age</td><td>numeric"
                               "</td><td>ks</td><td class=\"n\">0.0021</td><td class=\"n\">0.05"
                               "</td><td><span class=\"badge drift\">drifted</span>"));
  EXPECT_THAT(table, HasSubstr("<td>Card_Category</td><td>categorical</td><td>chisquare</td>"));
  for (const FeatureSection& f : in.features) {
    EXPECT_THAT(html, HasSubstr(f.name));
  }
  EXPECT_EQ(Count(html, "<figure class=\"feature drifted\">"), 1U);
  // The summary.
  EXPECT_THAT(html, HasSubstr("<p class=\"verdict ok\">No dataset drift: 1 of 3 features drifted "
                              "(33.3%; threshold 50.0%)</p>"));
  EXPECT_THAT(html, HasSubstr("bank_churners version 7 (run 0123abcd)"));
  EXPECT_THAT(html, HasSubstr("2026-03-01 00:00:00 UTC \xE2\x80\x93 2026-03-01 03:00:00 UTC"));
  EXPECT_THAT(html, HasSubstr("300 in the window, 1000 reference"));
  EXPECT_THAT(html, HasSubstr("mean: reference 0.350, current 0.550"));
  // Sections in order: summary, table, charts, scores, quality.
  const size_t summary = html.find("class=\"verdict");
  const size_t features = html.find("<table id=\"features\">");
  const size_t charts = html.find("<h2>Distributions</h2>");
  const size_t scores = html.find("<h2>Score distribution</h2>");
  const size_t quality = html.find("<h2>Quality</h2>");
  EXPECT_LT(summary, features);
  EXPECT_LT(features, charts);
  EXPECT_LT(charts, scores);
  EXPECT_LT(scores, quality);
  EXPECT_NE(quality, std::string::npos);
  // Category labels and numeric bins in the tooltips.
  EXPECT_THAT(html, HasSubstr("<title>Silver: reference 0.0%, current 50.0%</title>"));
  EXPECT_THAT(html, HasSubstr("<title>[0.95, 1]: reference 0.0%, current 33.3%</title>"));
}

TEST(RenderReportTest, DriftedVerdict) {
  ReportInput in = SmallInput();
  in.dataset = {.columns = 3, .drifted_columns = 2, .share = 2.0 / 3, .drifted = true};
  const std::string html = RenderReport(in);
  EXPECT_THAT(html, HasSubstr("<p class=\"verdict drift\">Dataset drift detected: 2 of 3 "
                              "features drifted (66.7%; threshold 50.0%)</p>"));
}

void ExpectSelfContained(const std::string& html) {
  for (absl::string_view bad : {"http:", "https:", "src=", "<link", "@import", "url(", "<script",
                                "xmlns", "<img", "<iframe", "<object", "<embed", "//"}) {
    EXPECT_THAT(html, Not(HasSubstr(bad))) << bad;
  }
}

TEST(RenderReportTest, SelfContained) {
  ReportInput in = SmallInput();
  in.realized = RealizedQualitySection{.quality = {.roc_auc = 0.9}, .labeled_rows = 40};
  in.estimated = drift::Quality{.roc_auc = 0.8};
  ExpectSelfContained(RenderReport(in));
  EXPECT_EQ(Count(RenderReport(in), "<style>"), 1U);
}

TEST(RenderReportTest, EscapesDataText) {
  ReportInput in = SmallInput();
  in.title = "Report <b>";
  in.model.name = "m\"odel<i>";
  in.model.run_id = "r&d";
  in.features[0].name = "<script>alert(1)</script>";
  in.features[0].test_name = "<ks>";
  const std::vector<std::string> cats = {"\"&<>", "plain"};
  in.features[2].histogram = BinCategories(cats, cats, 7);
  const std::string html = RenderReport(in);
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("alert(1)</script>")));
  EXPECT_THAT(html, HasSubstr("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"));
  EXPECT_THAT(html, HasSubstr("aria-label=\"&lt;script&gt;alert(1)&lt;/script&gt;: reference"));
  EXPECT_THAT(html, HasSubstr("&quot;&amp;&lt;&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("\"&<>")));
  EXPECT_THAT(html, HasSubstr("<title>Report &lt;b&gt;</title>"));
  EXPECT_THAT(html, HasSubstr("m&quot;odel&lt;i&gt; version 7 (run r&amp;d)"));
  EXPECT_THAT(html, HasSubstr("<td>&lt;ks&gt;</td>"));
  EXPECT_THAT(html, Not(HasSubstr("<b>")));
  EXPECT_THAT(html, Not(HasSubstr("<i>")));
}

TEST(RenderReportTest, LongCategoryLabelsAreCutOnCodePoints) {
  ReportInput in = SmallInput();
  const std::vector<std::string> cats = {
      "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
      "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"};
  std::vector<std::string> many;
  many.reserve(7);
  for (int i = 0; i < 7; ++i) {
    many.push_back(absl::StrCat(cats[0], i));
  }
  in.features[2].histogram = BinCategories(many, many, 7);
  const std::string html = RenderReport(in);
  // The full label in the tooltip, a cut one (ending in an ellipsis) under the bars.
  EXPECT_THAT(html, HasSubstr(absl::StrCat("<title>", many[0], ": ")));
  EXPECT_THAT(html, HasSubstr("\xC3\xA9\xE2\x80\xA6</text>"));
}

TEST(RenderReportTest, Quality) {
  ReportInput in = SmallInput();
  EXPECT_THAT(RenderReport(in), HasSubstr("quality unknown"));
  EXPECT_THAT(RenderReport(in), Not(HasSubstr("<table id=\"quality\">")));

  in.estimated = drift::Quality{.roc_auc = 0.81, .precision = 0.5, .f1 = 0.25};
  std::string html = RenderReport(in);
  EXPECT_THAT(html, HasSubstr("estimated quality only"));
  EXPECT_THAT(html, HasSubstr("<th>Estimated (CBPE)</th>"));
  EXPECT_THAT(html, HasSubstr("<tr><td>ROC AUC</td><td class=\"n\">0.810</td></tr>"));

  in.realized = RealizedQualitySection{
      .quality = {.roc_auc = 0.9, .precision = 0.75, .recall = 0.6, .f1 = 0.667, .accuracy = 0.95},
      .labeled_rows = 120};
  html = RenderReport(in);
  EXPECT_THAT(html, HasSubstr("<th>Realized (120 labeled rows)</th><th>Estimated (CBPE)</th>"));
  EXPECT_THAT(html, HasSubstr("<tr><td>ROC AUC</td><td class=\"n\">0.900</td>"
                              "<td class=\"n\">0.810</td></tr>"));
  EXPECT_THAT(html, HasSubstr("<tr><td>Accuracy</td><td class=\"n\">0.950</td>"));
  EXPECT_THAT(html, Not(HasSubstr("estimated quality only")));
}

TEST(RenderReportTest, PreviousWindow) {
  ReportInput in = SmallInput();
  EXPECT_THAT(RenderReport(in), Not(HasSubstr("vs previous window")));
  in.previous = PreviousWindow{.since = At(21) - absl::Hours(24),
                               .until = At(0),
                               .rows = 280,
                               .dataset = {.columns = 3, .drifted_columns = 0, .share = 0.0}};
  in.features[0].drifted_vs_previous = false;
  in.features[1].drifted_vs_previous = true;
  const std::string html = RenderReport(in);
  EXPECT_THAT(html, HasSubstr("<th>vs previous window</th>"));
  EXPECT_THAT(html, HasSubstr("<dt>Against the previous window</dt><dd>No dataset drift: 0 of 3 "
                              "features drifted (0.0%; threshold 50.0%); 2026-02-28 21:00:00 UTC "
                              "\xE2\x80\x93 2026-03-01 00:00:00 UTC, 280 rows</dd>"));
  const absl::string_view table = Between(html, "<table id=\"features\">", "</table>");
  // Per row: drifted now, then against the previous window (the third one not compared).
  EXPECT_THAT(table, HasSubstr("drift\">drifted</span></td><td><span class=\"badge ok\">no</span>"
                               "</td></tr>"));
  EXPECT_THAT(table, HasSubstr("ok\">no</span></td><td><span class=\"badge drift\">drifted</span>"
                               "</td></tr>"));
  EXPECT_THAT(table, HasSubstr("</td><td>\xE2\x80\x94</td></tr>"));
}

TEST(RenderReportTest, EmptyHistogramSaysSo) {
  ReportInput in = SmallInput();
  in.features[1].histogram = HistogramPair{};
  in.scores = HistogramPair{};
  const std::string html = RenderReport(in);
  EXPECT_EQ(Count(html, ">no values</text></svg>"), 2U);
  EXPECT_EQ(Count(html, "<svg"), Count(html, "</svg>"));
}

// 10,000 reference and 10,000 current rows of 19 features (14 numeric in 20 bins, 5
// categorical with up to 7 categories), binned with the helpers.
ReportInput BigInput() {
  constexpr size_t kRows = 10000;
  std::mt19937_64 rng(42);
  auto uniform = [&rng] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
  ReportInput in = SmallInput();
  in.features.clear();
  in.rows = kRows;
  in.reference_rows = kRows;
  for (int f = 0; f < 19; ++f) {
    FeatureSection s;
    s.name = absl::StrCat("Feature_Number_", f);
    s.drifted = f % 3 == 0;
    s.score = uniform();
    s.threshold = 0.05;
    if (f < 14) {
      std::vector<double> ref(kRows);
      std::vector<double> cur(kRows);
      for (size_t i = 0; i < kRows; ++i) {
        ref[i] = 100.0 * uniform() * uniform();
        cur[i] = 100.0 * uniform() * uniform() + (s.drifted ? 10.0 : 0.0);
      }
      s.test_name = "wasserstein";
      s.histogram = BinNumeric(ref, cur, 20);
    } else {
      std::vector<std::string> ref(kRows);
      std::vector<std::string> cur(kRows);
      for (size_t i = 0; i < kRows; ++i) {
        ref[i] = absl::StrCat("Category level ", static_cast<int>(7 * uniform() * uniform()));
        cur[i] = absl::StrCat("Category level ", static_cast<int>(7 * uniform()));
      }
      s.kind = drift::ColumnKind::kCategorical;
      s.test_name = "jensenshannon";
      s.histogram = BinCategories(ref, cur, 7);
    }
    in.features.push_back(std::move(s));
  }
  in.dataset = {.columns = 19, .drifted_columns = 7, .share = 7.0 / 19};
  std::vector<double> sref(kRows);
  std::vector<double> scur(kRows);
  for (size_t i = 0; i < kRows; ++i) {
    sref[i] = uniform() * uniform();
    scur[i] = uniform();
  }
  in.scores = BinNumericInRange(sref, scur, 0.0, 1.0, kScoreBins);
  in.realized = RealizedQualitySection{.quality = {.roc_auc = 0.93}, .labeled_rows = 2500};
  in.estimated = drift::Quality{.roc_auc = 0.91};
  in.previous = PreviousWindow{.since = At(0) - absl::Hours(3), .until = At(0), .rows = kRows};
  return in;
}

TEST(RenderReportTest, NineteenFeaturesOfTenThousandRowsStaySmall) {
  const ReportInput in = BigInput();
  const std::string html = RenderReport(in);
  std::cout << "19-feature report of 10,000 rows: " << html.size() << " bytes\n";
  EXPECT_LT(html.size(), 200U * 1024U);
  EXPECT_EQ(Count(html, "<svg"), 20U);
  EXPECT_EQ(Count(html, "</svg>"), 20U);
  EXPECT_EQ(Count(Between(html, "<table id=\"features\">", "</table>"), "<tr class=\"feature"),
            19U);
  EXPECT_EQ(Count(html, "<tr class=\"feature drifted\">"), 7U);
  ExpectSelfContained(html);
  EXPECT_EQ(RenderReport(in), html);  // deterministic
  // CHURN_REPORT_SAMPLE_DIR: where to leave the page for a look (or a headless browser).
  const char* dir = std::getenv("CHURN_REPORT_SAMPLE_DIR");  // NOLINT(concurrency-mt-unsafe)
  if (dir != nullptr) {
    std::ofstream(absl::StrCat(dir, "/report-sample.html"), std::ios::binary) << html;
  }
}

// --- Index -----------------------------------------------------------------------------------

ReportEntry Entry(std::string file, int hour, bool drifted) {
  ReportEntry e;
  e.file_name = std::move(file);
  e.model_name = "bank_churners";
  e.model_version = 3;
  e.since = At(hour) - absl::Hours(3);
  e.until = At(hour);
  e.generated_at = At(hour);
  e.dataset = {
      .columns = 19, .drifted_columns = drifted ? size_t{12} : size_t{1}, .drifted = drifted};
  return e;
}

TEST(IsSafeReportFileNameTest, RefusesAnythingButAPlainName) {
  for (absl::string_view ok : {"report-20260301T030000Z.html", "a&b.html", "r.html", "x"}) {
    EXPECT_TRUE(IsSafeReportFileName(ok)) << ok;
  }
  for (absl::string_view bad :
       {"", ".", "..", "../etc/passwd", "a/b.html", "/abs.html", "a\\b.html", "x..html",
        "javascript:alert(1)", "a?b", "a#b", "a%2fb", "a b.html", "a\nb", "a\tb"}) {
    EXPECT_FALSE(IsSafeReportFileName(bad)) << bad;
  }
}

TEST(RenderIndexTest, NewestFirstEscapedAndRefusedNamesLeftOut) {
  std::vector<ReportEntry> entries = {
      Entry("old.html", 0, false),     Entry("new.html", 6, true),
      Entry("mid&<x>.html", 3, false), Entry("../secret.html", 9, false),
      Entry("sub/r.html", 9, false),   Entry("javascript:alert(1)", 9, false),
      Entry("b.html", 3, false)};
  entries[0].model_name = "<model>";
  const std::string html = RenderIndex(entries);
  ExpectSelfContained(html);
  EXPECT_EQ(Count(html, "<html"), 1U);
  EXPECT_EQ(Count(html, "<tr class=\"report"), 4U);
  EXPECT_THAT(html, HasSubstr("4 reports, newest first."));
  const size_t newest = html.find("href=\"new.html\"");
  const size_t mid = html.find("href=\"mid&amp;&lt;x&gt;.html\"");
  const size_t b = html.find("href=\"b.html\"");
  const size_t old = html.find("href=\"old.html\"");
  ASSERT_NE(newest, std::string::npos);
  ASSERT_NE(mid, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(old, std::string::npos);
  EXPECT_LT(newest, mid);  // 06:00 before 03:00
  EXPECT_LT(mid, b);       // same time: file names descending
  EXPECT_LT(b, old);
  EXPECT_THAT(html, Not(HasSubstr("secret")));
  EXPECT_THAT(html, Not(HasSubstr("sub/")));
  EXPECT_THAT(html, Not(HasSubstr("javascript")));
  EXPECT_THAT(html, HasSubstr("&lt;model&gt; version 3"));
  EXPECT_THAT(html, Not(HasSubstr("<model>")));
  EXPECT_THAT(html,
              HasSubstr("<tr class=\"report drifted\"><td><a href=\"new.html\">new.html</a>"));
  EXPECT_THAT(html, HasSubstr("2026-03-01 03:00:00 UTC \xE2\x80\x93 2026-03-01 06:00:00 UTC"));
  EXPECT_THAT(RenderIndex({}), HasSubstr("0 reports, newest first."));
}

}  // namespace
}  // namespace churn::report
