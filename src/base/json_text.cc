#include "churn/base/json_text.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace churn::base {

namespace {

bool NeedsEscape(char c) {
  return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
}

// Appends `text` escaped: the runs that need no escape (nearly all text) in one append each.
void AppendEscaped(absl::string_view text, std::string* out) {
  size_t run = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!NeedsEscape(c)) {
      continue;
    }
    out->append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        absl::StrAppend(out, "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    }
  }
  out->append(text.data() + run, text.size() - run);
}

}  // namespace

std::string JsonEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  AppendEscaped(text, &out);
  return out;
}

void AppendJsonString(absl::string_view text, std::string* out) {
  out->push_back('"');
  AppendEscaped(text, out);
  out->push_back('"');
}

namespace {

// std::to_chars of a float or a double: the shortest text that reads back as the same value.
template <typename T>
void AppendShortest(T v, std::string* out) {
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  char buffer[32];
  const auto r = std::to_chars(buffer, buffer + sizeof(buffer), v);
  out->append(buffer, r.ptr);
}

}  // namespace

void AppendJsonNumber(double v, std::string* out) {
  AppendShortest(v, out);
}

void AppendJsonNumber(float v, std::string* out) {
  AppendShortest(v, out);
}

}  // namespace churn::base
