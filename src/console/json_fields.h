// Reading fields of JSON the console did not write (GET /drift, pareto.json, flow parameters)
// without exceptions: a missing field or one of another type gives the fallback, never a throw.
#ifndef CHURN_CONSOLE_JSON_FIELDS_H_
#define CHURN_CONSOLE_JSON_FIELDS_H_

#include <cstdint>
#include <limits>
#include <string>

#include "nlohmann/json.hpp"

namespace churn::console::internal {

inline const nlohmann::json& Field(const nlohmann::json& j, const char* key) {
  static const auto* const kNull = new nlohmann::json();
  if (!j.is_object()) {
    return *kNull;
  }
  const auto it = j.find(key);
  return it == j.end() ? *kNull : *it;
}

// A number; NaN when absent or not a number.
inline double NumberField(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = Field(j, key);
  return v.is_number() ? v.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

inline int64_t IntField(const nlohmann::json& j, const char* key, int64_t fallback = 0) {
  const nlohmann::json& v = Field(j, key);
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

inline std::string StringField(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = Field(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

inline bool BoolField(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = Field(j, key);
  return v.is_boolean() && v.get<bool>();
}

// The array field, or an empty array.
inline const nlohmann::json& ArrayField(const nlohmann::json& j, const char* key) {
  static const auto* const kEmpty = new nlohmann::json(nlohmann::json::array());
  const nlohmann::json& v = Field(j, key);
  return v.is_array() ? v : *kEmpty;
}

}  // namespace churn::console::internal

#endif  // CHURN_CONSOLE_JSON_FIELDS_H_
