#include "churn/data/profile.h"

#include <algorithm>
#include <cmath>
#include <span>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "churn/base/parallel.h"

namespace churn::data {
namespace {

using nlohmann::json;

// numpy.quantile's default ("linear") for each q: the value between the order statistics at
// floor(q * (n - 1)) and the next one. Order statistics come from selection (nth_element on ever
// smaller tails), not a full sort: O(n) per quantile. Reorders `values`.
std::vector<double> Quantiles(std::vector<double>& values, std::span<const double> qs) {
  const size_t n = values.size();
  std::vector<size_t> ranks;
  for (const double q : qs) {
    const auto lo = static_cast<size_t>(std::floor(q * static_cast<double>(n - 1)));
    ranks.push_back(lo);
    ranks.push_back(std::min(lo + 1, n - 1));
  }
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  absl::flat_hash_map<size_t, double> order_statistic;
  size_t from = 0;
  for (const size_t rank : ranks) {
    const auto begin = values.begin();
    std::nth_element(begin + static_cast<ptrdiff_t>(from), begin + static_cast<ptrdiff_t>(rank),
                     values.end());
    order_statistic[rank] = values[rank];
    from = rank + 1;  // everything after `rank` is now >= values[rank]
  }
  std::vector<double> out;
  for (const double q : qs) {
    const double pos = q * static_cast<double>(n - 1);
    const auto lo = static_cast<size_t>(std::floor(pos));
    const double a = order_statistic[lo];
    const double b = order_statistic[std::min(lo + 1, n - 1)];
    out.push_back(a + (pos - static_cast<double>(lo)) * (b - a));
  }
  return out;
}

void ProfileNumeric(const Column& column, ColumnProfile* p) {
  std::vector<double> values;
  values.reserve(column.size());
  for (size_t r = 0; r < column.size(); ++r) {
    if (!column.IsMissing(r)) {
      values.push_back(column.AsDouble(r));
    }
  }
  p->count = values.size();
  p->missing = column.size() - values.size();
  if (values.empty()) {
    return;
  }
  // Two-pass mean and variance: exact enough for any sane column, no cancellation.
  double sum = 0;
  for (const double v : values) {
    sum += v;
  }
  p->mean = sum / static_cast<double>(values.size());
  double ss = 0;
  for (const double v : values) {
    ss += (v - p->mean) * (v - p->mean);
  }
  p->std = std::sqrt(ss / static_cast<double>(values.size()));
  const auto [min, max] = std::minmax_element(values.begin(), values.end());
  p->min = *min;
  p->max = *max;
  // Distinct values, counted exactly up to the cap: drift tests only ask "how few?", and stopping
  // there keeps a high-cardinality column from building a set as large as itself.
  absl::flat_hash_set<double> distinct;  // absl::Hash counts -0.0 and 0.0 once, as == does
  for (const double v : values) {
    distinct.insert(v);
    if (distinct.size() > kProfileDistinctCap) {
      break;
    }
  }
  p->distinct = distinct.size();
  const int bins = kProfileHistogramBins;
  // numpy.linspace(min, max, bins + 1): start + i * step, the last edge exactly max.
  const double width = (p->max - p->min) / bins;
  for (int i = 0; i <= bins; ++i) {
    p->bin_edges.push_back(i == bins ? p->max : p->min + width * i);
  }
  p->bin_counts.assign(bins, 0);
  // numpy.histogram's equal-width path: scale to a bin index, then correct it against the edges
  // so values on an edge land where numpy puts them (half-open bins, the last one closed).
  const double norm = p->max > p->min ? bins / (p->max - p->min) : 0.0;
  for (const double v : values) {
    int b = std::min(static_cast<int>((v - p->min) * norm), bins - 1);
    if (b > 0 && v < p->bin_edges[static_cast<size_t>(b)]) {
      --b;
    } else if (b < bins - 1 && v >= p->bin_edges[static_cast<size_t>(b) + 1]) {
      ++b;
    }
    ++p->bin_counts[static_cast<size_t>(b)];
  }
  p->quantiles = Quantiles(values, kProfileQuantiles);
}

void ProfileCategorical(const Column& column, ColumnProfile* p) {
  p->levels = column.spec.levels;
  p->level_counts.assign(p->levels.size(), 0);
  for (size_t r = 0; r < column.size(); ++r) {
    if (column.IsMissing(r)) {
      ++p->missing;
    } else {
      ++p->count;
      ++p->level_counts[static_cast<size_t>(column.codes[r])];
    }
  }
}

template <typename T>
absl::Status Get(const json& j, const char* key, T* out) {
  if (!j.contains(key)) {
    return absl::InvalidArgumentError(absl::StrCat("profile: missing field '", key, "'"));
  }
  try {
    j.at(key).get_to(*out);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("profile: field '", key, "': ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace

const ColumnProfile* DatasetProfile::Find(absl::string_view name) const {
  for (const auto& c : columns) {
    if (c.name == name) {
      return &c;
    }
  }
  return nullptr;
}

DatasetProfile ComputeProfile(const Table& table, const Schema& schema) {
  DatasetProfile profile;
  profile.rows = table.NumRows();
  if (const Column* target = table.Find(schema.target)) {
    const int positive_code = target->spec.LevelIndex(schema.positive_value);
    for (size_t r = 0; r < target->size(); ++r) {
      if (target->IsMissing(r)) {
        continue;
      }
      const bool positive = target->spec.type == ColumnType::kCategorical
                                ? target->codes[r] == positive_code
                                : target->AsText(r) == schema.positive_value;
      profile.positives += positive ? 1 : 0;
    }
  }
  std::vector<const Column*> columns;
  for (const Column& column : table.Columns()) {
    if (column.spec.type != ColumnType::kString) {
      columns.push_back(&column);
    }
  }
  // Columns are independent; numeric ones sort a copy of their values, the costly part.
  profile.columns.resize(columns.size());
  base::ParallelFor(columns.size(), [&](size_t i) {
    const Column& column = *columns[i];
    ColumnProfile& p = profile.columns[i];
    p.name = column.spec.name;
    p.type = column.spec.type;
    p.role = column.spec.role;
    if (column.spec.type == ColumnType::kCategorical) {
      ProfileCategorical(column, &p);
    } else {
      ProfileNumeric(column, &p);
    }
  });
  return profile;
}

std::string ProfileToJson(const DatasetProfile& profile) {
  json columns = json::array();
  for (const auto& c : profile.columns) {
    json j = {{"name", c.name},
              {"type", std::string(ToString(c.type))},
              {"role", std::string(ToString(c.role))},
              {"count", c.count},
              {"missing", c.missing}};
    if (c.type == ColumnType::kCategorical) {
      j["levels"] = c.levels;
      j["level_counts"] = c.level_counts;
    } else {
      j["mean"] = c.mean;
      j["std"] = c.std;
      j["min"] = c.min;
      j["max"] = c.max;
      j["distinct"] = c.distinct;
      j["quantile_probs"] =
          std::vector<double>(std::begin(kProfileQuantiles), std::end(kProfileQuantiles));
      j["quantiles"] = c.quantiles;
      j["bin_edges"] = c.bin_edges;
      j["bin_counts"] = c.bin_counts;
    }
    columns.push_back(std::move(j));
  }
  const json out = {
      {"rows", profile.rows}, {"positives", profile.positives}, {"columns", std::move(columns)}};
  return out.dump(1);
}

absl::StatusOr<DatasetProfile> ProfileFromJson(absl::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("profile is not a JSON object");
  }
  DatasetProfile profile;
  if (absl::Status s = Get(j, "rows", &profile.rows); !s.ok()) {
    return s;
  }
  if (absl::Status s = Get(j, "positives", &profile.positives); !s.ok()) {
    return s;
  }
  if (!j.contains("columns") || !j["columns"].is_array()) {
    return absl::InvalidArgumentError("profile: 'columns' must be an array");
  }
  for (const json& jc : j["columns"]) {
    ColumnProfile c;
    std::string type;
    std::string role;
    absl::Status s = Get(jc, "name", &c.name);
    s.Update(Get(jc, "type", &type));
    s.Update(Get(jc, "role", &role));
    s.Update(Get(jc, "count", &c.count));
    s.Update(Get(jc, "missing", &c.missing));
    if (!s.ok()) {
      return s;
    }
    auto t = ColumnTypeFromString(type);
    auto r = ColumnRoleFromString(role);
    if (!t.ok() || !r.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("profile: column '", c.name, "' has a bad type or role"));
    }
    c.type = *t;
    c.role = *r;
    if (c.type == ColumnType::kCategorical) {
      s.Update(Get(jc, "levels", &c.levels));
      s.Update(Get(jc, "level_counts", &c.level_counts));
    } else {
      s.Update(Get(jc, "mean", &c.mean));
      s.Update(Get(jc, "std", &c.std));
      s.Update(Get(jc, "min", &c.min));
      s.Update(Get(jc, "max", &c.max));
      s.Update(Get(jc, "distinct", &c.distinct));
      s.Update(Get(jc, "quantiles", &c.quantiles));
      s.Update(Get(jc, "bin_edges", &c.bin_edges));
      s.Update(Get(jc, "bin_counts", &c.bin_counts));
    }
    if (!s.ok()) {
      return s;
    }
    profile.columns.push_back(std::move(c));
  }
  return profile;
}

}  // namespace churn::data
