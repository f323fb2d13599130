#include "churn/data/csv_table.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "churn/base/parallel.h"
#include "churn/base/status_macros.h"

namespace churn::data {
namespace {

// How one field of the file is read: into which table column, under which spec.
struct FieldPlan {
  Column* column = nullptr;  // nullptr: dropped or extra, not read
};

std::string Clip(absl::string_view value) {
  constexpr size_t kMax = 80;
  if (value.size() <= kMax) {
    return std::string(value);
  }
  return absl::StrCat(value.substr(0, kMax), "...");
}

// Reads the data records of one chunk of the file into its own table and report. Chunks are
// independent, so they run on separate threads; MergeChunks stitches them back together.
class ChunkReader {
 public:
  ChunkReader(const Schema& schema, const ReadTableOptions& options,
              const std::vector<absl::string_view>& header, absl::string_view chunk,
              size_t first_line, size_t reserve_rows)
      : schema_(schema),
        options_(options),
        chunk_(chunk),
        first_line_(first_line),
        parser_(chunk, options.csv, first_line) {
    table_ = Table(schema_);
    for (const absl::string_view name : header) {
      const ColumnSpec* spec = schema_.Find(name);
      FieldPlan plan;
      if (spec != nullptr && spec->role != ColumnRole::kDropped) {
        plan.column = table_.FindMutable(name);
      }
      plans_.push_back(plan);
    }
    table_.Reserve(reserve_rows);
  }

  absl::Status Run() {
    CHURN_RETURN_IF_ERROR(CheckCsvBytes(chunk_, options_.csv, first_line_));
    std::vector<absl::string_view> fields;
    while (true) {
      CHURN_ASSIGN_OR_RETURN(const bool more, parser_.Next(&fields));
      if (!more) {
        return absl::OkStatus();
      }
      ReadRow(fields);
    }
  }

  Table& MutableTable() { return table_; }

  ValidationReport& MutableReport() { return report_; }

  bool Rejected() const { return rejected_; }

 private:
  // Records a violation; returns the policy that applies to it.
  ViolationPolicy Report(ViolationKind kind, absl::string_view column, absl::string_view value,
                         std::string message) {
    ValidationReport& report = report_;
    ++report.violations_total;
    ++report.counts[{std::string(ToString(kind)), std::string(column)}];
    if (report.first.size() < options_.max_reported) {
      report.first.push_back(Violation{.kind = kind,
                                       .line = parser_.Line(),
                                       .row = report.rows_read,
                                       .column = std::string(column),
                                       .value = Clip(value),
                                       .message = std::move(message)});
    }
    const ViolationPolicy policy = schema_.PolicyFor(kind);
    if (policy == ViolationPolicy::kReject) {
      rejected_ = true;
    }
    return policy;
  }

  bool IsMissingToken(absl::string_view field) const {
    return std::any_of(schema_.missing_values.begin(), schema_.missing_values.end(),
                       [field](const std::string& token) { return field == token; });
  }

  // Appends one cell; returns false when the row must be dropped.
  bool ReadCell(Column& column, absl::string_view field) {
    const ColumnSpec& spec = column.spec;
    bool missing = IsMissingToken(field);
    if (missing && !spec.allow_missing) {
      const ViolationPolicy p = Report(ViolationKind::kMissingValue, spec.name, field,
                                       "missing value in a column that requires one");
      if (p == ViolationPolicy::kDropRow) {
        return false;
      }
      if (p == ViolationPolicy::kTreatAsMissing) {
        ++report_.cells_set_missing;
      }
    }
    if (!missing) {
      const ParseOutcome outcome = ParseValue(column, field);
      if (outcome == ParseOutcome::kOk) {
        column.missing.push_back(0);
        return true;
      }
      if (outcome == ParseOutcome::kDrop) {
        return false;
      }
      ++report_.cells_set_missing;
    }
    PushMissing(column);
    return true;
  }

  enum class ParseOutcome { kOk, kMissing, kDrop };

  ParseOutcome Violate(ViolationKind kind, const ColumnSpec& spec, absl::string_view field,
                       std::string message) {
    switch (Report(kind, spec.name, field, std::move(message))) {
      case ViolationPolicy::kDropRow:
        return ParseOutcome::kDrop;
      case ViolationPolicy::kTreatAsMissing:
      case ViolationPolicy::kReject:  // the file is refused; keep scanning for the report
        break;
    }
    return ParseOutcome::kMissing;
  }

  ParseOutcome CheckRange(const ColumnSpec& spec, absl::string_view field, double v) {
    if ((spec.min && v < *spec.min) || (spec.max && v > *spec.max)) {
      return Violate(ViolationKind::kOutOfRange, spec, field,
                     absl::StrCat("outside the range [", spec.min ? *spec.min : -HUGE_VAL, ", ",
                                  spec.max ? *spec.max : HUGE_VAL, "]"));
    }
    return ParseOutcome::kOk;
  }

  // Parses a non-missing field into the column's value vector (on kOk only).
  ParseOutcome ParseValue(Column& column, absl::string_view field) {
    const ColumnSpec& spec = column.spec;
    const char* end = field.data() + field.size();
    switch (spec.type) {
      case ColumnType::kInteger: {
        int64_t v = 0;
        const auto r = std::from_chars(field.data(), end, v);
        if (r.ec != std::errc() || r.ptr != end) {
          return Violate(ViolationKind::kWrongType, spec, field, "not an integer");
        }
        const ParseOutcome range = CheckRange(spec, field, static_cast<double>(v));
        if (range == ParseOutcome::kOk) {
          column.ints.push_back(v);
        }
        return range;
      }
      case ColumnType::kFloat: {
        double v = 0;
        const auto r = std::from_chars(field.data(), end, v);
        if (r.ec != std::errc() || r.ptr != end || !std::isfinite(v)) {
          return Violate(ViolationKind::kWrongType, spec, field, "not a finite number");
        }
        const ParseOutcome range = CheckRange(spec, field, v);
        if (range == ParseOutcome::kOk) {
          column.floats.push_back(v);
        }
        return range;
      }
      case ColumnType::kCategorical: {
        const int code = spec.LevelIndex(field);
        if (code < 0) {
          return Violate(ViolationKind::kUnknownCategory, spec, field,
                         absl::StrCat("not one of the levels: ", absl::StrJoin(spec.levels, ", ")));
        }
        column.codes.push_back(code);
        return ParseOutcome::kOk;
      }
      case ColumnType::kString:
        column.strings.emplace_back(field);
        return ParseOutcome::kOk;
    }
    return ParseOutcome::kMissing;
  }

  static void PushMissing(Column& column) {
    column.missing.push_back(1);
    switch (column.spec.type) {
      case ColumnType::kInteger:
        column.ints.push_back(0);
        break;
      case ColumnType::kFloat:
        column.floats.push_back(0.0);
        break;
      case ColumnType::kCategorical:
        column.codes.push_back(-1);
        break;
      case ColumnType::kString:
        column.strings.emplace_back();
        break;
    }
  }

  static void Truncate(Column& column, size_t rows) {
    column.missing.resize(std::min(column.missing.size(), rows));
    column.ints.resize(std::min(column.ints.size(), rows));
    column.floats.resize(std::min(column.floats.size(), rows));
    column.codes.resize(std::min(column.codes.size(), rows));
    column.strings.resize(std::min(column.strings.size(), rows));
  }

  void ReadRow(const std::vector<absl::string_view>& fields) {
    ValidationReport& report = report_;
    ++report.rows_read;
    bool keep = true;
    if (fields.size() != plans_.size()) {
      keep = Report(ViolationKind::kRaggedRow, "", "",
                    absl::StrCat("has ", fields.size(), " fields, the header has ",
                                 plans_.size())) != ViolationPolicy::kDropRow;
      if (keep) {  // rejected: nothing more to learn from a misaligned row
        return;
      }
    } else {
      for (size_t i = 0; i < fields.size() && keep; ++i) {
        if (plans_[i].column != nullptr) {
          keep = ReadCell(*plans_[i].column, fields[i]);
        }
      }
    }
    Table& table = table_;
    if (!keep) {
      ++report.rows_dropped;
      report.dropped_ranges.emplace_back(parser_.RecordBegin(), parser_.RecordEnd());
      for (auto& column : table.MutableColumns()) {
        Truncate(column, table.NumRows());
      }
      return;
    }
    ++report.rows_accepted;
    table.CommitRow();
  }

  const Schema& schema_;
  const ReadTableOptions& options_;
  absl::string_view chunk_;
  size_t first_line_;
  CsvParser parser_;
  std::vector<FieldPlan> plans_;
  Table table_;
  ValidationReport report_;
  bool rejected_ = false;
};

// Occurrences of `c` in `text`. memchr jumps from one to the next with SIMD; std::count is a
// byte loop and cost 6x more on a large file.
size_t CountByte(absl::string_view text, char c) {
  size_t n = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  while ((p = static_cast<const char*>(std::memchr(p, c, static_cast<size_t>(end - p)))) !=
         nullptr) {
    ++n;
    ++p;
  }
  return n;
}

// Splits `body` into up to `parts` pieces at record boundaries. A line end is a record boundary
// when an even number of quotes precede it (RFC 4180 doubles quotes inside quoted fields, so the
// parity of the quote count says whether a position is inside a quoted field).
std::vector<absl::string_view> SplitAtRecords(absl::string_view body, size_t parts) {
  std::vector<absl::string_view> chunks;
  size_t begin = 0;
  for (size_t k = 1; k < parts; ++k) {
    size_t pos = std::max(begin, body.size() * k / parts);
    bool inside = CountByte(body.substr(begin, pos - begin), '"') % 2 == 1;
    for (; pos < body.size(); ++pos) {
      if (body[pos] == '"') {
        inside = !inside;
      } else if (body[pos] == '\n' && !inside) {
        break;
      }
    }
    if (pos >= body.size()) {
      break;
    }
    chunks.push_back(body.substr(begin, pos + 1 - begin));
    begin = pos + 1;
  }
  chunks.push_back(body.substr(begin));
  return chunks;
}

void AppendColumn(Column& to, Column& from) {
  to.missing.insert(to.missing.end(), from.missing.begin(), from.missing.end());
  to.ints.insert(to.ints.end(), from.ints.begin(), from.ints.end());
  to.floats.insert(to.floats.end(), from.floats.begin(), from.floats.end());
  to.codes.insert(to.codes.end(), from.codes.begin(), from.codes.end());
  to.strings.insert(to.strings.end(), std::make_move_iterator(from.strings.begin()),
                    std::make_move_iterator(from.strings.end()));
}

// Appends chunk `from` (whose bytes start at `offset` in the input) to `to`.
// `table_moved`: from's table has already been moved into `table`; merge only the report.
void MergeChunk(ChunkReader& from, size_t offset, size_t max_reported, bool table_moved,
                Table* table, ValidationReport* report) {
  ValidationReport& r = from.MutableReport();
  for (Violation& v : r.first) {
    v.row += report->rows_read;
    if (report->first.size() < max_reported) {
      report->first.push_back(std::move(v));
    }
  }
  for (const auto& [key, n] : r.counts) {
    report->counts[key] += n;
  }
  for (const auto& [b, e] : r.dropped_ranges) {
    report->dropped_ranges.emplace_back(b + offset, e + offset);
  }
  report->rows_read += r.rows_read;
  report->rows_accepted += r.rows_accepted;
  report->rows_dropped += r.rows_dropped;
  report->cells_set_missing += r.cells_set_missing;
  report->violations_total += r.violations_total;
  if (table_moved) {
    return;
  }
  for (size_t c = 0; c < table->NumColumns(); ++c) {
    AppendColumn(table->MutableColumns()[c], from.MutableTable().MutableColumns()[c]);
  }
  for (size_t i = 0; i < from.MutableTable().NumRows(); ++i) {
    table->CommitRow();
  }
}

absl::Status CheckHeader(const Schema& schema, const std::vector<absl::string_view>& header) {
  std::set<absl::string_view> seen;
  std::vector<std::string> extra;
  for (const absl::string_view name : header) {
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("line 1: column '", name, "' appears twice in the header"));
    }
    if (schema.Find(name) == nullptr) {
      extra.emplace_back(name);
    }
  }
  std::vector<std::string> missing;
  for (const auto& c : schema.columns) {
    if (!seen.contains(c.name)) {
      missing.push_back(c.name);
    }
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "line 1: the header lacks column(s) the schema requires: ", absl::StrJoin(missing, ", ")));
  }
  if (!extra.empty() && !schema.allow_extra_columns) {
    return absl::InvalidArgumentError(
        absl::StrCat("line 1: the header has column(s) the schema does not declare: ",
                     absl::StrJoin(extra, ", "), " (set allow_extra_columns to ignore them)"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ValidationReport::ToString() const {
  std::string out = absl::StrCat(rows_read, " rows read, ", rows_accepted, " accepted, ",
                                 rows_dropped, " dropped, ", cells_set_missing,
                                 " cells set missing, ", violations_total, " violations");
  for (const auto& v : first) {
    absl::StrAppend(&out, "\n  line ", v.line, " (row ", v.row, ")");
    if (!v.column.empty()) {
      absl::StrAppend(&out, ", column '", v.column, "': '", v.value, "'");
    }
    absl::StrAppend(&out, " ", v.message, " [", churn::data::ToString(v.kind), "]");
  }
  if (violations_total > first.size()) {
    absl::StrAppend(&out, "\n  ... ", violations_total - first.size(), " more; counts:");
  } else if (!counts.empty()) {
    absl::StrAppend(&out, "\n  counts:");
  }
  if (!counts.empty()) {
    for (const auto& [key, n] : counts) {
      absl::StrAppend(&out, "\n    ", key.first, key.second.empty() ? "" : " in ", key.second, ": ",
                      n);
    }
  }
  return out;
}

absl::StatusOr<ReadTableResult> ReadCsvTable(absl::string_view input, const Schema& schema,
                                             const ReadTableOptions& options) {
  CsvParser header_parser(input, options.csv);
  std::vector<absl::string_view> view;
  auto header_read = header_parser.Next(&view);
  // The bytes up to the end of the header are checked here (before any header error, so that
  // binary input is called binary), those of the body in each chunk's thread.
  const size_t body_begin = header_read.ok() ? header_parser.RecordEnd() : input.size();
  CHURN_RETURN_IF_ERROR(CheckCsvBytes(input.substr(0, body_begin), options.csv));
  CHURN_ASSIGN_OR_RETURN(const bool any, std::move(header_read));
  if (!any) {
    return absl::InvalidArgumentError("the file is empty (no header line)");
  }
  // The views point into the parser's scratch when a name was quoted: keep copies.
  const std::vector<std::string> names(view.begin(), view.end());
  const std::vector<absl::string_view> header(names.begin(), names.end());
  CHURN_RETURN_IF_ERROR(CheckHeader(schema, header));
  const absl::string_view body = input.substr(body_begin);
  const std::vector<absl::string_view> chunks = SplitAtRecords(
      body, body.size() < options.parallel_bytes ? 1 : std::max<size_t>(base::MaxParallelism(), 2));
  std::vector<std::unique_ptr<ChunkReader>> readers;
  size_t first_line = 1 + CountByte(input.substr(0, body_begin), '\n');
  for (const absl::string_view chunk : chunks) {
    const size_t lines = CountByte(chunk, '\n');
    // Line ends bound the row count from above. The first chunk's table becomes the result, so
    // it reserves room for the whole file: appending the others then never reallocates.
    const size_t reserve = readers.empty() ? CountByte(body, '\n') + 1 : lines + 1;
    readers.push_back(
        std::make_unique<ChunkReader>(schema, options, header, chunk, first_line, reserve));
    first_line += lines;
  }
  std::vector<absl::Status> statuses(readers.size());
  base::ParallelFor(readers.size(), [&](size_t i) { statuses[i] = readers[i]->Run(); });
  for (const absl::Status& s : statuses) {
    CHURN_RETURN_IF_ERROR(s);  // malformed CSV: the first chunk's error is the first in the file
  }
  // The first chunk's table becomes the result; later chunks are appended to it.
  ReadTableResult result;
  result.table = std::move(readers[0]->MutableTable());
  bool rejected = false;
  for (size_t i = 0; i < readers.size(); ++i) {
    const auto offset = static_cast<size_t>(chunks[i].data() - input.data());
    rejected = rejected || readers[i]->Rejected();
    MergeChunk(*readers[i], offset, options.max_reported, i == 0, &result.table, &result.report);
  }
  const ValidationReport& report = result.report;
  if (report.rows_read == 0) {
    return absl::InvalidArgumentError("the file has a header but no data rows");
  }
  if (rejected) {
    return absl::InvalidArgumentError(absl::StrCat("the file is rejected by the schema '",
                                                   schema.name, "': ", report.ToString()));
  }
  if (report.rows_accepted == 0) {
    return absl::InvalidArgumentError(absl::StrCat("every row was dropped: ", report.ToString()));
  }
  return result;
}

}  // namespace churn::data
