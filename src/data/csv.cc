// The parser works on the whole input in memory: the common unquoted field is a memchr-free scan
// to the next delimiter or line end and becomes a view into the input, with no copy. Only quoted
// fields that contain "" are unescaped, into a scratch buffer reserved to the record's size up
// front so that the views into it stay valid for the whole record.
#include "churn/data/csv.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

#include "churn/base/status_macros.h"

namespace churn::data {
namespace {

// Length of the UTF-8 sequence starting at p (1..4), or 0 when it is not valid UTF-8 (overlong
// forms, surrogates and code points above U+10FFFF are invalid, as RFC 3629 says).
size_t Utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  size_t n = 0;
  unsigned int lo = 0x80;
  unsigned int hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    lo = c == 0xE0 ? 0xA0 : 0x80;
    hi = c == 0xED ? 0x9F : 0xBF;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    lo = c == 0xF0 ? 0x90 : 0x80;
    hi = c == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (static_cast<size_t>(end - p) < n || p[1] < lo || p[1] > hi) {
    return 0;
  }
  for (size_t i = 2; i < n; ++i) {
    if ((p[i] & 0xC0) != 0x80) {
      return 0;
    }
  }
  return n;
}

constexpr absl::string_view kBom = "\xEF\xBB\xBF";

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

// Nonzero when some byte of `w` equals `c` (the classic SWAR zero-byte test on w ^ c).
constexpr uint64_t HasByte(uint64_t w, unsigned char c) {
  const uint64_t x = w ^ (kOnes * c);
  return (x - kOnes) & ~x & kHighs;
}

absl::string_view StripBom(absl::string_view input) {
  return input.substr(0, 3) == kBom ? input.substr(3) : input;
}

}  // namespace

absl::Status CheckCsvBytes(absl::string_view input, const CsvOptions& options, size_t first_line) {
  input = StripBom(input);
  const auto* p = reinterpret_cast<const unsigned char*>(input.data());
  const auto* end = p + input.size();
  const auto* line_start = p;
  size_t line = first_line;
  while (p < end) {
    // Fast path: 8 ASCII bytes without NUL or LF at a time.
    if (end - p >= 8) {
      uint64_t w = 0;
      std::memcpy(&w, p, 8);
      if ((w & kHighs) == 0 && (HasByte(w, 0) | HasByte(w, '\n')) == 0) {
        p += 8;
        continue;
      }
    }
    const unsigned char c = *p;
    if (c == '\n') {
      if (static_cast<size_t>(p - line_start) > options.max_record_bytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "line ", line, " is longer than the limit of ", options.max_record_bytes, " bytes"));
      }
      ++line;
      line_start = ++p;
    } else if (c == 0) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line, ", byte ", p - line_start + 1,
                                                     ": NUL byte (binary data, not CSV text)"));
    } else if (c < 0x80) {
      ++p;
    } else {
      const size_t n = Utf8SequenceLength(p, end);
      if (n == 0) {
        return absl::InvalidArgumentError(absl::StrCat("line ", line, ", byte ", p - line_start + 1,
                                                       ": invalid UTF-8 (byte 0x", absl::Hex(c),
                                                       ")"));
      }
      p += n;
    }
  }
  if (static_cast<size_t>(end - line_start) > options.max_record_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("line ", line, " is longer than the limit of ",
                                                   options.max_record_bytes, " bytes"));
  }
  return absl::OkStatus();
}

void AppendCsvField(absl::string_view field, char delimiter, std::string* out) {
  const bool quote =
      field.find_first_of(std::string{delimiter, '"', '\r', '\n'}) != absl::string_view::npos;
  if (!quote) {
    out->append(field.data(), field.size());
    return;
  }
  out->push_back('"');
  for (const char c : field) {
    if (c == '"') {
      out->push_back('"');
    }
    out->push_back(c);
  }
  out->push_back('"');
}

CsvParser::CsvParser(absl::string_view input, CsvOptions options, size_t first_line)
    : input_(input), options_(options), line_(first_line) {
  if (input_.substr(0, 3) == kBom) {
    pos_ = 3;
  }
}

absl::Status CsvParser::Error(absl::string_view what) const {
  return absl::InvalidArgumentError(absl::StrCat("line ", line_, ": ", what));
}

void CsvParser::SkipEmptyLines() {
  while (pos_ < input_.size()) {
    if (input_[pos_] == '\n') {
      ++pos_;
      ++line_;
    } else if (input_[pos_] == '\r' && pos_ + 1 < input_.size() && input_[pos_ + 1] == '\n') {
      pos_ += 2;
      ++line_;
    } else {
      break;
    }
  }
}

absl::StatusOr<absl::string_view> CsvParser::ParseQuoted() {
  const size_t open_line = line_;
  ++pos_;  // the opening quote
  const size_t start = pos_;
  bool escaped = false;
  size_t close = absl::string_view::npos;
  while (pos_ < input_.size()) {
    const char c = input_[pos_];
    if (c == '"') {
      if (pos_ + 1 < input_.size() && input_[pos_ + 1] == '"') {
        escaped = true;
        pos_ += 2;
        continue;
      }
      close = pos_++;
      break;
    }
    if (c == '\n') {
      ++line_;
    }
    ++pos_;
  }
  if (close == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", open_line, ": quoted field is never closed"));
  }
  if (pos_ - record_begin_ > options_.max_record_bytes) {
    return Error(
        absl::StrCat("record is longer than the limit of ", options_.max_record_bytes, " bytes"));
  }
  absl::string_view raw = input_.substr(start, close - start);
  if (!escaped) {
    return raw;
  }
  const size_t begin = scratch_.size();
  for (size_t i = 0; i < raw.size(); ++i) {
    scratch_.push_back(raw[i]);
    if (raw[i] == '"') {
      ++i;  // skip the second quote of ""
    }
  }
  return absl::string_view(scratch_).substr(begin);
}

bool CsvParser::AtLineEnd() const {
  if (pos_ >= input_.size() || input_[pos_] == '\n') {
    return true;
  }
  return input_[pos_] == '\r' && (pos_ + 1 == input_.size() || input_[pos_ + 1] == '\n');
}

void CsvParser::ConsumeLineEnd() {
  if (pos_ < input_.size() && input_[pos_] == '\r') {
    ++pos_;
  }
  if (pos_ < input_.size() && input_[pos_] == '\n') {
    ++pos_;
    ++line_;
  }
}

absl::StatusOr<absl::string_view> CsvParser::ParseField(size_t index) {
  if (pos_ < input_.size() && input_[pos_] == '"') {
    CHURN_ASSIGN_OR_RETURN(const absl::string_view field, ParseQuoted());
    if (!AtLineEnd() && input_[pos_] != options_.delimiter) {
      return Error(absl::StrCat("unexpected text after the closing quote of field ", index));
    }
    return field;
  }
  const size_t start = pos_;
  while (pos_ < input_.size()) {
    const char c = input_[pos_];
    if (c == options_.delimiter || c == '\n') {
      break;
    }
    if (c == '"') {
      return Error(absl::StrCat("quote inside unquoted field ", index,
                                " (quote the whole field and double the quote)"));
    }
    ++pos_;
  }
  size_t stop = pos_;
  if (stop > start && input_[stop - 1] == '\r' && (stop == input_.size() || input_[stop] == '\n')) {
    --stop;  // the CR of a CRLF
  }
  return input_.substr(start, stop - start);
}

absl::StatusOr<bool> CsvParser::Next(std::vector<absl::string_view>* fields) {
  fields->clear();
  SkipEmptyLines();
  if (pos_ >= input_.size()) {
    return false;
  }
  record_begin_ = pos_;
  record_line_ = line_;
  scratch_.clear();
  // Unescaped text is never longer than the rest of the record; reserving once keeps views valid.
  scratch_.reserve(std::min(input_.size() - pos_, options_.max_record_bytes));
  while (true) {
    CHURN_ASSIGN_OR_RETURN(const absl::string_view field, ParseField(fields->size() + 1));
    fields->push_back(field);
    if (pos_ - record_begin_ > options_.max_record_bytes) {
      return Error(
          absl::StrCat("record is longer than the limit of ", options_.max_record_bytes, " bytes"));
    }
    if (pos_ < input_.size() && input_[pos_] == options_.delimiter) {
      ++pos_;
      continue;
    }
    ConsumeLineEnd();
    return true;
  }
}

}  // namespace churn::data
