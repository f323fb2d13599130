// Fuzzes MLflow's search syntax: ParseFilter, ParseOrderBy, CompileFilter and the page-token
// decoder. Any input must parse or give an InvalidArgument, never crash, leak or hang; and a
// compiled filter must keep its shape: as many '?' placeholders as bound values, and no quote
// character of the input in the SQL text (values never reach the statement).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "registry/filter.h"

namespace {

using churn::registry::internal::SearchSpec;

const SearchSpec& Spec() {
  static const auto* const kSpec = new SearchSpec{"runs",
                                                  {{"run_id", "r.run_uuid", false},
                                                   {"status", "r.status", false},
                                                   {"start_time", "r.start_time", true}},
                                                  "latest_metrics x WHERE x.run_uuid = r.run_uuid",
                                                  "params x WHERE x.run_uuid = r.run_uuid",
                                                  "tags x WHERE x.run_uuid = r.run_uuid",
                                                  "r.run_uuid",
                                                  "x.run_uuid"};
  return *kSpec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  namespace internal = churn::registry::internal;
  (void)internal::ParseOrderBy(input);
  (void)internal::DecodePageToken(input);
  auto clauses = internal::ParseFilter(input);
  if (!clauses.ok()) {
    return 0;
  }
  auto sql = internal::CompileFilter(*clauses, Spec());
  if (!sql.ok()) {
    return 0;
  }
  size_t marks = 0;
  for (const char c : sql->sql) {
    marks += c == '?' ? 1 : 0;
    if (c == '\'' || c == '"' || c == '`' || c == ';') {
      std::abort();  // input text reached the statement
    }
  }
  if (marks != sql->params.size()) {
    std::abort();
  }
  return 0;
}
