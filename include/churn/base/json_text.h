// File: churn/base/json_text.h
//
// Writing JSON text by hand on hot paths (the model server's answers, the HTTP server's error
// bodies, the prediction log's inputs), where building an nlohmann::json costs more than the
// rest of the request. Everywhere else, use nlohmann::json.
#ifndef CHURN_BASE_JSON_TEXT_H_
#define CHURN_BASE_JSON_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace churn::base {

// `text` as the inside of a JSON string: quote, backslash and control characters escaped
// (\n, \r, \t by name, the others as \u00XX); other bytes (UTF-8 included) as they are.
std::string JsonEscape(absl::string_view text);

// Appends `text` as a JSON string, quotes included.
void AppendJsonString(absl::string_view text, std::string* out);

// Appends the shortest text that reads back as `v` (std::to_chars); null when v is not finite
// (JSON has no NaN or infinity).
void AppendJsonNumber(double v, std::string* out);
// The same for a float (shorter: "0.1" rather than "0.10000000149011612").
void AppendJsonNumber(float v, std::string* out);

}  // namespace churn::base

#endif  // CHURN_BASE_JSON_TEXT_H_
