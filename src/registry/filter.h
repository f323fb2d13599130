// Private to the registry module: MLflow's search syntax, parsed and compiled to SQL.
//
//   filter   := clause ( AND clause )*
//   clause   := ident cmp value | ident [NOT] IN '(' value (',' value)* ')' | ident IS [NOT] NULL
//   ident    := [entity '.'] key      entity: metric(s) param(s) tag(s) attribute(s) attr run
//               key: a bare word (letters, digits, _ . - : /), or `backticked` / "double quoted"
//   cmp      := = != <> < <= > >= LIKE ILIKE
//   value    := 'single quoted' | "double quoted" | number
//   order_by := ident [ASC | DESC]
//
// Keywords are case-insensitive; OR is refused (MLflow has none). The compiled SQL holds only
// fixed text and '?' placeholders: keys and values are always bound, never spliced, and columns
// come from a whitelist, so no filter string can change the statement's shape.
#ifndef CHURN_REGISTRY_FILTER_H_
#define CHURN_REGISTRY_FILTER_H_

#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "registry/sql_db.h"

namespace churn::registry::internal {

enum class Entity { kAttribute, kMetric, kParam, kTag };
enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kLike, kILike, kIn, kNotIn, kIsNull, kIsNotNull };

using FilterValue = std::variant<double, std::string>;

struct Clause {
  Entity entity = Entity::kAttribute;
  std::string key;
  Op op = Op::kEq;
  std::vector<FilterValue> values;  // one, or several for IN, none for IS [NOT] NULL
};

struct OrderBy {
  Entity entity = Entity::kAttribute;
  std::string key;
  bool ascending = true;
};

// InvalidArgument, naming the offending token and its position, for anything else.
absl::StatusOr<std::vector<Clause>> ParseFilter(absl::string_view filter);
absl::StatusOr<OrderBy> ParseOrderBy(absl::string_view text);

// What one kind of search may filter and order on.
struct AttributeColumn {
  const char* name;    // as written in a filter: "start_time"
  const char* column;  // SQL: "r.start_time"
  bool numeric;
};

struct SearchSpec {
  const char* what;  // "runs", for messages
  std::vector<AttributeColumn> attributes;
  // "<table> x WHERE x.<id> = <outer id>", the row source of each entity's EXISTS / scalar
  // subqueries; nullptr when the entity cannot be searched.
  const char* metrics = nullptr;
  const char* params = nullptr;
  const char* tags = nullptr;
  // The searched row's key and the same key in those tables, for filters, which compile to
  // "<outer_key> IN (SELECT <inner_key> FROM <table> x WHERE x.key = ? AND x.value ...)": one
  // index range scan on (key, value) per clause instead of a lookup per searched row.
  const char* outer_key = nullptr;  // "r.run_uuid", "(v.name, v.version)"
  const char* inner_key = nullptr;  // "x.run_uuid", "x.name, x.version"
};

// SQL text and the values bound to its placeholders, in order.
struct SqlFragment {
  std::string sql;
  std::vector<SqlValue> params;
};

// " AND (...)" for each clause. InvalidArgument for an attribute or entity `spec` does not
// allow, or a comparison the value's type does not allow (a metric against a string, LIKE on a
// number, ...).
absl::StatusOr<SqlFragment> CompileFilter(const std::vector<Clause>& clauses,
                                          const SearchSpec& spec);

// "expr IS NULL, expr ASC|DESC, " for each order: values sort before missing ones.
absl::StatusOr<SqlFragment> CompileOrderBy(const std::vector<OrderBy>& orders,
                                           const SearchSpec& spec);

// The opaque page token of MLflow: base64 of {"offset": N}. Empty token is offset 0;
// InvalidArgument for anything that does not decode.
std::string EncodePageToken(int64_t offset);
absl::StatusOr<int64_t> DecodePageToken(absl::string_view token);

}  // namespace churn::registry::internal

#endif  // CHURN_REGISTRY_FILTER_H_
