#include "churn/base/json_text.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace churn::base {

std::string JsonEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(&out, "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
        } else {
          out += c;
        }
    }
  }
  return out;
}

void AppendJsonString(absl::string_view text, std::string* out) {
  out->push_back('"');
  out->append(JsonEscape(text));
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
