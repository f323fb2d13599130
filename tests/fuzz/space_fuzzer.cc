// Fuzzes the search-space YAML reader and the samplers behind it: any input must give a space or
// an InvalidArgument, never crash, leak or hang; a space must survive ToYaml -> FromYaml equal,
// and every suggestion TPE or random search makes in it must pass the space's own Check.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "churn/train/search_space.h"
#include "churn/train/tpe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using churn::train::SearchSpace;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<SearchSpace> space = SearchSpace::FromYaml(text);
  if (!space.ok()) {
    if (space.status().code() != absl::StatusCode::kInvalidArgument) {
      std::abort();
    }
    return 0;
  }
  absl::StatusOr<SearchSpace> again = SearchSpace::FromYaml(space->ToYaml());
  if (!again.ok() || !(*again == *space)) {
    std::abort();
  }
  churn::train::TpeSampler tpe(*space, {.startup_trials = 2, .ei_candidates = 4, .seed = size});
  churn::train::RandomSampler random(*space, size);
  std::vector<churn::train::Observation> history;
  for (int64_t trial = 0; trial < 5; ++trial) {
    churn::train::Assignment a = tpe.Suggest(trial, history);
    if (!space->Check(a).ok() || !space->Check(random.Suggest(trial, history)).ok()) {
      std::abort();
    }
    history.push_back({.params = a, .value = static_cast<double>(trial % 3)});
  }
  return 0;
}
