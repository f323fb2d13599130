// The request contract: decoding a client's JSON must give exactly what the feature pipeline
// gives for the same record (TransformRecord, the path training's code shares), and every bad
// field is refused naming it.
#include "churn/serving/request_decoder.h"

#include <cmath>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "serving/serving_fixture.h"
#include "testing/test_env.h"

namespace churn::serving {
namespace {

using ::testing::HasSubstr;
using testing::StatusIs;

class RequestDecoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = testing::ServingFixture::Create();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = *std::move(f);
    auto p = features::FeaturePipeline::Fit(fixture_->Rows(), fixture_->Schema());
    ASSERT_TRUE(p.ok()) << p.status();
    pipeline_ = *std::move(p);
  }

  RequestDecoder Decoder(UnknownCategoryPolicy policy = UnknownCategoryPolicy::kReject) const {
    auto d = RequestDecoder::Create(fixture_->Schema(), pipeline_, policy);
    EXPECT_TRUE(d.ok()) << d.status();
    return *std::move(d);
  }

  // A valid record with `field` replaced by `value` (raw JSON) or removed (empty value).
  std::string With(const std::string& field, const std::string& value) const {
    nlohmann::json j =
        nlohmann::json::parse(testing::RowJson(fixture_->Rows(), fixture_->Schema(), 0));
    j.erase(field);
    std::string text = j.dump();
    if (!value.empty()) {
      text.insert(1, absl::StrCat("\"", field, "\":", value, ","));
    }
    return text;
  }

  std::unique_ptr<testing::ServingFixture> fixture_;
  features::FeaturePipeline pipeline_;
};

// Equal bit for bit (NaN where missing) to the pipeline's own encoding of the same record.
TEST_F(RequestDecoderTest, EqualsThePipelineOnEveryRow) {
  const RequestDecoder decoder = Decoder();
  const data::Table& rows = fixture_->Rows();
  for (size_t r = 0; r < rows.NumRows(); ++r) {
    const std::string json = testing::RowJson(rows, fixture_->Schema(), r, /*with_entity=*/true);
    DecodedRecord got;
    ASSERT_TRUE(decoder.DecodeOne(json, &got).ok()) << json;
    features::RawRecord raw;
    const nlohmann::json parsed = nlohmann::json::parse(json);
    for (const auto& [key, value] : parsed.items()) {
      for (const auto* spec : fixture_->Schema().Features()) {
        if (absl::AsciiStrToLower(spec->name) == key && !value.is_null()) {
          raw[spec->name] = value.is_string() ? value.get<std::string>() : value.dump();
        }
      }
    }
    auto want = pipeline_.TransformRecord(raw);
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_EQ(got.features.size(), want->size());
    for (size_t j = 0; j < want->size(); ++j) {
      if (std::isnan((*want)[j])) {
        EXPECT_TRUE(std::isnan(got.features[j])) << "row " << r << " feature " << j;
      } else {
        EXPECT_EQ(got.features[j], (*want)[j]) << "row " << r << " feature " << j;
      }
    }
    EXPECT_FALSE(got.customer_id.empty());
    EXPECT_TRUE(nlohmann::json::accept(got.inputs_json)) << got.inputs_json;
  }
}

TEST_F(RequestDecoderTest, BadFieldsAreRefusedNamingThem) {
  const RequestDecoder decoder = Decoder();
  DecodedRecord out;
  const std::pair<std::string, std::string> cases[][2] = {
      {{"customer_age", ""}, {"customer_age", "is required"}},
      {{"customer_age", R"("45")"}, {"customer_age", "expected a number, got a string"}},
      {{"customer_age", "45.5"}, {"customer_age", "expected an integer"}},
      {{"customer_age", "-3"}, {"customer_age", "out of range"}},
      {{"gender", R"("X")"}, {"gender", "unknown category 'X'"}},
      {{"gender", "1"}, {"gender", "got a number"}},
      {{"credit_limit", "[1]"}, {"credit_limit", "expected a number"}},
      {{"credit_limit", "1e999"}, {"credit_limit", ""}},
  };
  for (const auto& c : cases) {
    const absl::Status s = decoder.DecodeOne(With(c[0].first, c[0].second), &out);
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, c[1].first))
        << c[0].first << "=" << c[0].second;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c[1].second));
  }
  EXPECT_THAT(decoder.DecodeOne("{not json", &out),
              StatusIs(absl::StatusCode::kInvalidArgument, "malformed JSON"));
  EXPECT_THAT(decoder.DecodeOne("[1,2]", &out),
              StatusIs(absl::StatusCode::kInvalidArgument, "JSON object"));
  const std::string twice = With("customer_age", "45");
  EXPECT_THAT(decoder.DecodeOne(absl::StrCat("{\"customer_age\":46,", twice.substr(1)), &out),
              StatusIs(absl::StatusCode::kInvalidArgument, "given twice"));
}

TEST_F(RequestDecoderTest, UnknownBucketPolicyCountsInsteadOfRefusing) {
  const RequestDecoder decoder = Decoder(UnknownCategoryPolicy::kUnknownBucket);
  DecodedRecord out;
  ASSERT_TRUE(decoder.DecodeOne(With("gender", R"("X")"), &out).ok());
  ASSERT_EQ(out.unknown_fields.size(), 1U);
  EXPECT_EQ(decoder.Fields()[static_cast<size_t>(out.unknown_fields[0])], "gender");
  const auto& features = pipeline_.Features();
  for (size_t j = 0; j < features.size(); ++j) {
    if (features[j].name == "Gender") {
      EXPECT_EQ(out.features[j], static_cast<float>(features[j].levels.size()));
    }
  }
}

TEST_F(RequestDecoderTest, BatchAndInferGiveWhatSingleRecordsGive) {
  const RequestDecoder decoder = Decoder();
  const data::Table& rows = fixture_->Rows();
  std::string batch = R"({"records":[)";
  nlohmann::json columns = nlohmann::json::object();
  for (size_t r = 0; r < 20; ++r) {
    const std::string one = testing::RowJson(rows, fixture_->Schema(), r);
    absl::StrAppend(&batch, r == 0 ? "" : ",", one);
    const nlohmann::json parsed = nlohmann::json::parse(one);
    for (const auto& [key, value] : parsed.items()) {
      columns[key].push_back(value);
    }
  }
  batch += "]}";
  nlohmann::json infer = {{"id", "req-1"}, {"inputs", nlohmann::json::array()}};
  for (const auto& [key, values] : columns.items()) {
    infer["inputs"].push_back(
        {{"name", key}, {"datatype", "FP64"}, {"shape", {20}}, {"data", values}});
  }
  std::vector<DecodedRecord> from_batch;
  ASSERT_TRUE(decoder.DecodeBatch(batch, 100, &from_batch).ok());
  std::vector<DecodedRecord> from_infer;
  std::string id;
  const absl::Status s = decoder.DecodeInferRequest(infer.dump(), 100, &id, &from_infer);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(id, "req-1");
  ASSERT_EQ(from_batch.size(), 20U);
  ASSERT_EQ(from_infer.size(), 20U);
  for (size_t r = 0; r < 20; ++r) {
    DecodedRecord one;
    ASSERT_TRUE(decoder.DecodeOne(testing::RowJson(rows, fixture_->Schema(), r), &one).ok());
    for (size_t j = 0; j < one.features.size(); ++j) {
      const float a = one.features[j];
      for (const float b : {from_batch[r].features[j], from_infer[r].features[j]}) {
        EXPECT_TRUE(a == b || (std::isnan(a) && std::isnan(b))) << r << " " << j;
      }
    }
  }
  EXPECT_THAT(decoder.DecodeBatch(batch, 19, &from_batch),
              StatusIs(absl::StatusCode::kInvalidArgument, "more than 19 records"));
  EXPECT_THAT(decoder.DecodeBatch(R"({"records":[{}, 3]})", 10, &from_batch),
              StatusIs(absl::StatusCode::kInvalidArgument, "record 0"));
}

}  // namespace
}  // namespace churn::serving
