#include "console/html.h"

#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

#include "churn/base/time.h"
#include "churn/report/html_report.h"

namespace churn::console::internal {
namespace {

// One style sheet for every page (CSP allows inline styles only). Narrow screens: the
// navigation wraps, grids fall to one column, tables scroll inside their box.
constexpr absl::string_view kStyle = R"css(
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;
background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:.45em 12px}
nav{display:flex;flex-wrap:wrap;gap:.2em 1em;align-items:center;max-width:1200px;margin:0 auto}
nav a{color:#cfd6e0;text-decoration:none;padding:.2em 0}
nav a.brand{color:#fff;font-weight:700;margin-right:.5em}
nav a.on{color:#fff;border-bottom:2px solid #e8833a}
main{max-width:1200px;margin:0 auto;padding:12px}
h1{font-size:1.4em;margin:.3em 0 .5em;overflow-wrap:anywhere}
h2{font-size:1.15em;margin:1.3em 0 .5em;border-bottom:1px solid #d8dde6;padding-bottom:.2em}
a{color:#1f5fa8}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
.card{background:#fff;border:1px solid #e4e7ec;border-radius:6px;padding:8px 12px}
.card h2{margin-top:.3em}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;background:#fff;border:1px solid #e4e7ec;
border-radius:6px;margin:.4em 0}
table{border-collapse:collapse;min-width:100%}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #e4e7ec;white-space:nowrap;
vertical-align:top}
th{background:#f3f5f8;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.wrap{white-space:normal;min-width:12em;max-width:40em;overflow-wrap:anywhere}
tr.diff td{background:#fff6db}
tr.front td{background:#e8f1fb}
tr.drifted td{background:#fde4e1}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:.4em 0}
dl.kv dt{font-weight:600;color:#3b4350}
dl.kv dd{margin:0;overflow-wrap:anywhere}
.badge{display:inline-block;padding:0 .45em;border-radius:4px;font-size:.82em;font-weight:600;
white-space:nowrap}
.s-ok{background:#e3f4e8;color:#1b5e33}
.s-bad{background:#c0392b;color:#fff}
.s-run{background:#dbe9fb;color:#1f4f8a}
.s-wait{background:#fff1cc;color:#7a5200}
.s-off{background:#eceef1;color:#4a5261}
.alias{background:#efe6fb;color:#4b2a83}
pre{background:#14181f;color:#e6e6e6;padding:10px;border-radius:6px;overflow:auto;font-size:.85em;
max-height:70vh;margin:.4em 0}
pre.json{background:#fff;color:#1d2430;border:1px solid #e4e7ec}
form.filters{display:flex;flex-wrap:wrap;gap:.5em;align-items:flex-end;margin:.5em 0}
form.filters label{display:flex;flex-direction:column;font-size:.85em;gap:.15em}
input,select,button{font:inherit;padding:.3em .5em;max-width:100%}
input[type=text]{min-width:12em}
button{background:#1f5fa8;color:#fff;border:0;border-radius:4px;padding:.4em .9em}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px}
figure{margin:0;padding:8px;background:#fff;border:1px solid #e4e7ec;border-radius:6px}
figcaption{font-weight:600;font-size:.95em;overflow-wrap:anywhere}
svg{display:block;width:100%;height:auto}
svg text{font-size:12px;fill:#3b4350}
svg .ax{stroke:#9aa3b1;stroke-width:1}
svg .gl{stroke:#e9ecf0;stroke-width:1}
.muted{color:#5b6472}
.empty{color:#5b6472;font-style:italic}
footer{max-width:1200px;margin:1em auto 2em;padding:0 12px;color:#5b6472;font-size:.85em}
@media (max-width:600px){body{font-size:14px}th,td{padding:.3em .45em}main{padding:8px}}
)css";

struct NavEntry {
  Section section;
  const char* href;
  const char* label;
};

constexpr NavEntry kNav[] = {
    {Section::kOverview, "/ui", "Overview"},       {Section::kModels, "/ui/models", "Models"},
    {Section::kRuns, "/ui/runs", "Runs"},          {Section::kFlows, "/ui/flows", "Flows"},
    {Section::kReports, "/ui/reports", "Reports"}, {Section::kDrift, "/ui/drift", "Drift"},
};

bool IsUnreserved(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

}  // namespace

PageWriter::PageWriter(absl::string_view title, Section section)
    : title_(title), section_(section) {}

void PageWriter::Add(absl::string_view html) {
  absl::StrAppend(&body_, html);
}

void PageWriter::Text(absl::string_view text) {
  absl::StrAppend(&body_, Esc(text));
}

std::string PageWriter::Finish(absl::Time now) {
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
  if (refresh_seconds_ > 0) {
    absl::StrAppend(&out, R"(<meta http-equiv="refresh" content=")", refresh_seconds_, "\">\n");
  }
  absl::StrAppend(&out, "<title>", Esc(title_), " · churn</title>\n<style>", kStyle,
                  "</style>\n</head>\n<body>\n<header><nav aria-label=\"console\">"
                  R"(<a class="brand" href="/ui">churn</a>)");
  for (const NavEntry& e : kNav) {
    if (e.section == Section::kOverview) {
      continue;  // the brand links there
    }
    absl::StrAppend(&out, "<a href=\"", e.href, "\"", e.section == section_ ? " class=\"on\"" : "",
                    ">", e.label, "</a>");
  }
  absl::StrAppend(&out, "</nav></header>\n<main>\n", body_, "</main>\n<footer>Rendered ",
                  TimeAt(now), ". Times are UTC.</footer>\n</body>\n</html>\n");
  return out;
}

std::string Esc(absl::string_view text) {
  return report::HtmlEscape(text);
}

std::string UrlPart(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (IsUnreserved(c)) {
      out.push_back(c);
    } else {
      absl::StrAppendFormat(&out, "%%%02X", static_cast<unsigned char>(c));
    }
  }
  return out;
}

std::string Link(absl::string_view href, absl::string_view text) {
  return absl::StrCat("<a href=\"", Esc(href), "\">", Esc(text), "</a>");
}

std::string RunHref(absl::string_view run_id) {
  return absl::StrCat("/ui/runs/", UrlPart(run_id));
}

std::string StudyHref(absl::string_view run_id) {
  return absl::StrCat("/ui/studies/", UrlPart(run_id));
}

std::string ModelHref(absl::string_view name) {
  return absl::StrCat("/ui/models/", UrlPart(name));
}

std::string VersionHref(absl::string_view name, int64_t version) {
  return absl::StrCat(ModelHref(name), "/versions/", version);
}

std::string FlowRunHref(int64_t id) {
  return absl::StrCat("/ui/flows/runs/", id);
}

std::string TimeAt(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) {
    return "-";
  }
  return absl::StrCat("<time datetime=\"", base::FormatRfc3339(t), "\">",
                      absl::FormatTime("%Y-%m-%d %H:%M:%S", t, absl::UTCTimeZone()), "</time>");
}

std::string TimeMs(int64_t ms) {
  return ms == 0 ? "-" : TimeAt(absl::FromUnixMillis(ms));
}

std::string DurationMs(int64_t ms) {
  if (ms < 0) {
    return "-";
  }
  if (ms < 1000) {
    return absl::StrCat(ms, " ms");
  }
  const int64_t s = ms / 1000;
  if (s < 60) {
    return absl::StrFormat("%.1f s", static_cast<double>(ms) / 1000.0);
  }
  if (s < 3600) {
    return absl::StrFormat("%d m %02d s", s / 60, s % 60);
  }
  if (s < 86400) {
    return absl::StrFormat("%d h %02d m", s / 3600, s % 3600 / 60);
  }
  return absl::StrFormat("%d d %02d h", s / 86400, s % 86400 / 3600);
}

std::string Elapsed(int64_t start_ms, int64_t end_ms, int64_t now_ms) {
  if (start_ms == 0) {
    return "-";
  }
  if (end_ms == 0) {
    return absl::StrCat(DurationMs(now_ms - start_ms), " <span class=\"muted\">(running)</span>");
  }
  return DurationMs(end_ms - start_ms);
}

std::string Number(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  return absl::StrFormat("%.6g", value);
}

std::string Bytes(int64_t bytes) {
  if (bytes < 1024) {
    return absl::StrCat(bytes, " B");
  }
  if (bytes < int64_t{1024} * 1024) {
    return absl::StrFormat("%.1f KiB", static_cast<double>(bytes) / 1024.0);
  }
  return absl::StrFormat("%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

std::string Badge(absl::string_view state) {
  const std::string s = absl::AsciiStrToLower(state);
  const char* css = "off";
  if (s == "finished" || s == "completed" || s == "ready" || s == "complete" || s == "ok" ||
      s == "no drift" || s == "enabled") {
    css = "ok";
  } else if (s == "failed" || s == "crashed" || s == "drifted" || s == "drift") {
    css = "bad";
  } else if (s == "running") {
    css = "run";
  } else if (s == "scheduled" || s == "retrying" || s == "pruned" || s == "waiting") {
    css = "wait";
  }
  return absl::StrCat("<span class=\"badge s-", css, "\">", Esc(state), "</span>");
}

std::string Numeric(absl::string_view html) {
  return absl::StrCat("\x02", html);
}

std::string RowClass(absl::string_view css_class) {
  return absl::StrCat("\x01", css_class, "\x01");
}

std::string Table(const std::vector<std::string>& head,
                  const std::vector<std::vector<std::string>>& rows) {
  std::string out = "<div class=\"scroll\"><table>\n<thead><tr>";
  for (const std::string& h : head) {
    absl::StrAppend(&out, "<th>", h, "</th>");
  }
  absl::StrAppend(&out, "</tr></thead>\n<tbody>\n");
  for (const std::vector<std::string>& row : rows) {
    absl::string_view css;
    size_t first = 0;
    if (!row.empty() && absl::StartsWith(row[0], "\x01")) {
      const size_t end = row[0].find('\x01', 1);
      css = absl::string_view(row[0]).substr(1, end - 1);
      first = 1;
    }
    absl::StrAppend(&out, css.empty() ? "<tr>" : absl::StrCat("<tr class=\"", css, "\">"));
    for (size_t i = first; i < row.size(); ++i) {
      absl::string_view cell = row[i];
      const bool numeric = absl::ConsumePrefix(&cell, "\x02");
      absl::StrAppend(&out, numeric ? "<td class=\"n\">" : "<td>", cell, "</td>");
    }
    absl::StrAppend(&out, "</tr>\n");
  }
  absl::StrAppend(&out, "</tbody></table></div>\n");
  return out;
}

std::string KeyValues(const std::vector<std::pair<std::string, std::string>>& items) {
  std::string out = "<dl class=\"kv\">";
  for (const auto& item : items) {
    absl::StrAppend(&out, "<dt>", Esc(item.first), "</dt><dd>", item.second, "</dd>");
  }
  absl::StrAppend(&out, "</dl>\n");
  return out;
}

std::string Figure(absl::string_view caption, absl::string_view svg) {
  return absl::StrCat("<figure><figcaption>", Esc(caption), "</figcaption>\n", svg, "</figure>\n");
}

std::string Empty(absl::string_view text) {
  return absl::StrCat("<p class=\"empty\">", Esc(text), "</p>\n");
}

absl::StatusOr<int64_t> IntParam(const http::Request& request, absl::string_view name,
                                 int64_t fallback, int64_t lo, int64_t hi) {
  const std::optional<std::string> text = request.Query(name);
  if (!text || text->empty()) {
    return fallback;
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(*text, &value) || value < lo || value > hi) {
    return absl::InvalidArgumentError(absl::StrCat("query parameter '", name, "': '", *text,
                                                   "' is not an integer in ", lo, "..", hi));
  }
  return value;
}

std::vector<std::string> ParamValues(const http::Request& request, absl::string_view name) {
  std::vector<std::string> out;
  for (const auto& [key, value] : request.query) {
    if (key == name) {
      out.push_back(value);
    }
  }
  return out;
}

std::string FilterLiteral(absl::string_view value) {
  return absl::StrCat("'", absl::StrReplaceAll(value, {{"'", "''"}}), "'");
}

}  // namespace churn::console::internal
