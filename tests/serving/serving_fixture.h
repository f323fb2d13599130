// Test-only: a registry in a temporary data dir (the layout `churn --data-dir DIR` uses) with
// model versions trained in-process on the synthetic generator, for the serving tests.
#ifndef CHURN_TESTS_SERVING_SERVING_FIXTURE_H_
#define CHURN_TESTS_SERVING_SERVING_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "churn/base/file.h"
#include "churn/data/schema.h"
#include "churn/data/table.h"
#include "churn/registry/registry.h"

namespace churn::testing {

struct TrainedPackage {
  std::string model_json{};
  std::string pipeline_json{};
  std::string schema_yaml{};
  std::string manifest_json{};
  // Empty: a package without one (a version from before drift references).
  std::string drift_reference_json{};
};

class ServingFixture {
 public:
  // Opens the registry at <dir>/registry.db with artifacts under <dir>/objects; the rows are
  // `csv` (a bank_churners file) when given, else 3,000 synthetic ones.
  static absl::StatusOr<std::unique_ptr<ServingFixture>> Create(const std::string& csv = "");

  const std::string& DataDir() const { return data_dir_; }

  registry::Registry& Registry() { return *registry_; }

  const data::Schema& Schema() const { return schema_; }

  // The synthetic rows the models train on (label included).
  const data::Table& Rows() const { return table_; }

  // The same rows as the CSV text they were read from.
  const std::string& Csv() const { return csv_; }

  // Trains a model (`rounds` rounds of depth `depth`) on the synthetic rows.
  absl::StatusOr<TrainedPackage> Train(int rounds, int depth) const;
  // Logs `package` as a run's model/ artifacts, registers it as the next version of "churn" and
  // points `alias` at it (unless empty). Returns the version number.
  absl::StatusOr<int64_t> Register(const TrainedPackage& package, const std::string& alias);

 private:
  ServingFixture() = default;

  base::TempDir dir_;
  std::string data_dir_;
  std::unique_ptr<registry::Registry> registry_;
  data::Schema schema_;
  data::Table table_;
  std::string csv_;
  std::string experiment_id_;
};

// Row `r` of `table` as the JSON object a client sends: serving::RecordJson.
std::string RowJson(const data::Table& table, const data::Schema& schema, size_t r,
                    bool with_entity = false);

}  // namespace churn::testing

#endif  // CHURN_TESTS_SERVING_SERVING_FIXTURE_H_
