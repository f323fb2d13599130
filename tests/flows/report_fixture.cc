#include "flows/report_fixture.h"

#include <utility>

#include "absl/strings/str_cat.h"

#include "churn/base/status_macros.h"
#include "churn/data/csv_table.h"
#include "churn/features/pipeline.h"
#include "churn/model/scorer.h"
#include "churn/serving/request_decoder.h"

namespace churn::testing {

namespace {

// The training flow's reference is the test split (2,000 rows of a 10,000-row snapshot); the
// serving fixture's is its 600 held-out rows, too few to stand for the generator (Evidently's
// chi-square, which takes the reference's proportions as exact, tells one sample of 600 from
// another). So: 2,000 fresh rows of the generator, scored by the trained model.
absl::StatusOr<std::string> RepresentativeReference(const TrainedPackage& package,
                                                    const data::Schema& schema) {
  CHURN_ASSIGN_OR_RETURN(const std::string csv, data::GenerateSynthCsv({.rows = 2000, .seed = 8}));
  CHURN_ASSIGN_OR_RETURN(const data::ReadTableResult read,
                         data::ReadCsvTable(csv, schema, data::ReadTableOptions{}));
  CHURN_ASSIGN_OR_RETURN(const features::FeaturePipeline pipeline,
                         features::FeaturePipeline::FromJson(package.pipeline_json));
  CHURN_ASSIGN_OR_RETURN(const model::CompiledModel trees,
                         model::CompiledModel::FromXgboostJson(package.model_json));
  CHURN_ASSIGN_OR_RETURN(const std::vector<float> x, pipeline.Transform(read.table));
  CHURN_ASSIGN_OR_RETURN(const std::vector<float> y, features::Labels(read.table, schema));
  std::vector<float> scores(y.size());
  trees.PredictBatch(x, y.size(), absl::MakeSpan(scores));
  CHURN_ASSIGN_OR_RETURN(const drift::ReferenceProfile reference,
                         serving::BuildDriftReference(pipeline, x, scores, y, 0.5));
  return reference.ToJson();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReportFixture>> ReportFixture::Create() {
  std::unique_ptr<ReportFixture> f(new ReportFixture());
  CHURN_ASSIGN_OR_RETURN(f->serving_, ServingFixture::Create());
  CHURN_ASSIGN_OR_RETURN(TrainedPackage package, f->serving_->Train(20, 3));
  CHURN_ASSIGN_OR_RETURN(package.drift_reference_json,
                         RepresentativeReference(package, f->serving_->Schema()));
  CHURN_RETURN_IF_ERROR(f->serving_->Register(package, "production").status());
  CHURN_ASSIGN_OR_RETURN(
      f->model_, serving::LoadServedModel(f->Registry(), {.name = "churn", .alias = "production"}));
  CHURN_ASSIGN_OR_RETURN(f->log_,
                         serving::PredictionLog::Open(
                             {.url = "sqlite:" + f->serving_->DataDir() + "/predictions.db"}));
  return f;
}

absl::StatusOr<LoggedTraffic> ReportFixture::Log(const Traffic& t) {
  const data::Schema& schema = model_->Schema();
  CHURN_ASSIGN_OR_RETURN(
      const std::string csv,
      data::GenerateSynthCsv({.rows = t.rows, .seed = t.seed, .drift = t.drift}));
  CHURN_ASSIGN_OR_RETURN(data::ReadTableResult read,
                         data::ReadCsvTable(csv, schema, data::ReadTableOptions{}));
  const data::Table& table = read.table;
  CHURN_ASSIGN_OR_RETURN(const std::vector<float> x, model_->Pipeline().Transform(table));
  CHURN_ASSIGN_OR_RETURN(const std::vector<float> y, features::Labels(table, schema));
  const data::Column* entity = table.Find(schema.entity_key);
  const size_t width = model_->Pipeline().NumFeatures();
  const int64_t since = absl::ToUnixMicros(t.since);
  const int64_t span = absl::ToUnixMicros(t.until) - since;
  LoggedTraffic out;
  std::vector<serving::PredictionRecord> records;
  for (size_t r = 0; r < table.NumRows(); ++r) {
    const float p = model_->Trees().Predict(absl::MakeConstSpan(x).subspan(r * width, width));
    out.request_ids.push_back(absl::StrCat(t.prefix, "-", r));
    out.customer_ids.push_back(absl::StrCat(t.prefix, "-", entity->AsText(r)));
    out.times_us.push_back(since +
                           span * static_cast<int64_t>(r) / static_cast<int64_t>(table.NumRows()));
    out.churned.push_back(y[r] >= 0.5f ? 1 : 0);
    out.probabilities.push_back(p);
    records.push_back({.request_id = out.request_ids.back(),
                       .time_us = out.times_us.back(),
                       .model_name = model_->Name(),
                       .model_version = model_->Version(),
                       .customer_id = out.customer_ids.back(),
                       .inputs_json = serving::RecordJson(schema, table, r, true),
                       .probability = p,
                       .label = p >= model_->Threshold() ? 1 : 0});
  }
  CHURN_RETURN_IF_ERROR(log_->Append(std::move(records), nullptr));
  log_->Flush();
  return out;
}

absl::Status ReportFixture::FeedbackByRequest(const LoggedTraffic& logged, size_t count) {
  for (size_t r = 0; r < count && r < logged.request_ids.size(); ++r) {
    CHURN_RETURN_IF_ERROR(log_->AddFeedback({.request_id = logged.request_ids[r],
                                             .churned = logged.churned[r],
                                             .time_us = logged.times_us[r] + 60'000'000},
                                            nullptr));
  }
  log_->Flush();
  return absl::OkStatus();
}

}  // namespace churn::testing
