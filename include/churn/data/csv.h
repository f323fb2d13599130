// File: churn/data/csv.h
//
// An RFC 4180 CSV parser over bytes in memory: quoted fields with embedded delimiters, quotes
// ("") and line breaks; CRLF or LF line ends; a leading UTF-8 byte-order mark is skipped;
// completely empty lines are skipped. Strict where RFC 4180 is: a quote inside an unquoted field,
// text after a closing quote, or an unterminated quoted field is an error naming the line.
//
//   CHURN_RETURN_IF_ERROR(CheckCsvBytes(bytes, options));   // NUL bytes, UTF-8, line length
//   CsvParser parser(bytes, options);
//   std::vector<absl::string_view> fields;
//   while (true) {
//     CHURN_ASSIGN_OR_RETURN(bool more, parser.Next(&fields));
//     if (!more) break;
//     ...
//   }
//
// Not thread-safe; views returned by Next stay valid until the next call of Next.
#ifndef CHURN_DATA_CSV_H_
#define CHURN_DATA_CSV_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace churn::data {

struct CsvOptions {
  // Field separator. Default ','.
  char delimiter = ',';
  // Longest record accepted, in bytes (a record longer than this is an error, so a corrupt file
  // with no line breaks fails fast). Default 1 MiB.
  size_t max_record_bytes = size_t{1} << 20;
};

// Checks the whole input before parsing: no NUL byte, valid UTF-8 (after an optional BOM), no
// line longer than options.max_record_bytes. InvalidArgument naming line and byte column;
// `first_line` numbers the first line of `input` (for a chunk cut from a larger file).
absl::Status CheckCsvBytes(absl::string_view input, const CsvOptions& options,
                           size_t first_line = 1);

// Writes one field, quoted when it holds the delimiter, a quote, CR or LF.
void AppendCsvField(absl::string_view field, char delimiter, std::string* out);

class CsvParser {
 public:
  // `input` must outlive the parser.
  // `first_line` numbers the first line of `input` (for a chunk cut from a larger file).
  CsvParser(absl::string_view input, CsvOptions options, size_t first_line = 1);

  // Parses the next record into `fields` (cleared first). Returns false at the end of input,
  // InvalidArgument (naming the line) for malformed CSV.
  absl::StatusOr<bool> Next(std::vector<absl::string_view>* fields);

  // The 1-based physical line where the last record returned started.
  size_t Line() const { return record_line_; }

  // Byte range [record_begin, record_end) of the last record in the input, its line end included.
  size_t RecordBegin() const { return record_begin_; }

  size_t RecordEnd() const { return pos_; }

 private:
  absl::Status Error(absl::string_view what) const;
  void SkipEmptyLines();
  // Parses the field at pos_; `index` (1-based) is for messages.
  absl::StatusOr<absl::string_view> ParseField(size_t index);
  // Whether pos_ is at a line end (LF, CRLF, a final CR) or the end of input.
  bool AtLineEnd() const;
  void ConsumeLineEnd();
  // Parses a quoted field starting at pos_ (on the opening quote) into the scratch buffer.
  absl::StatusOr<absl::string_view> ParseQuoted();

  absl::string_view input_;
  CsvOptions options_;
  size_t pos_ = 0;
  size_t line_ = 1;
  size_t record_line_ = 0;
  size_t record_begin_ = 0;
  std::string scratch_;
};

}  // namespace churn::data

#endif  // CHURN_DATA_CSV_H_
