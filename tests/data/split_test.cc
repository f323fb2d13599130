#include "churn/data/split.h"

#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/test_env.h"

#include "churn/data/schema.h"
#include "churn/data/table.h"

namespace churn::data {
namespace {

using ::churn::testing::StatusIs;

// 1,000 rows, 16% positives like the churn data.
std::vector<float> Labels(size_t n, size_t positives) {
  std::vector<float> labels(n, 0.0F);
  for (size_t i = 0; i < positives; ++i) {
    labels[(i * 7919) % n] = 1.0F;
  }
  return labels;
}

size_t CountPositives(const std::vector<float>& labels, const std::vector<size_t>& rows) {
  size_t n = 0;
  for (const size_t r : rows) {
    n += labels[r] == 1.0F ? 1 : 0;
  }
  return n;
}

TEST(StratifiedSplit, PartsHaveTheirShareOfEachClassAndCoverEveryRowOnce) {
  const std::vector<float> labels = Labels(1000, 160);
  CHURN_ASSERT_OK_AND_ASSIGN(const Split split, StratifiedSplit(labels, {}));
  EXPECT_EQ(split.train.size(), 600U);
  EXPECT_EQ(split.valid.size(), 200U);
  EXPECT_EQ(split.test.size(), 200U);
  EXPECT_EQ(CountPositives(labels, split.train), 96U);
  EXPECT_EQ(CountPositives(labels, split.valid), 32U);
  EXPECT_EQ(CountPositives(labels, split.test), 32U);
  std::set<size_t> all;
  for (const auto* part : {&split.train, &split.valid, &split.test}) {
    EXPECT_TRUE(std::is_sorted(part->begin(), part->end()));
    all.insert(part->begin(), part->end());
  }
  EXPECT_EQ(all.size(), 1000U);
  EXPECT_EQ(*all.rbegin(), 999U);
}

TEST(StratifiedSplit, SameSeedSameSplitOtherSeedOtherSplit) {
  const std::vector<float> labels = Labels(500, 80);
  CHURN_ASSERT_OK_AND_ASSIGN(const Split a, StratifiedSplit(labels, {.seed = 7}));
  CHURN_ASSERT_OK_AND_ASSIGN(const Split b, StratifiedSplit(labels, {.seed = 7}));
  CHURN_ASSERT_OK_AND_ASSIGN(const Split c, StratifiedSplit(labels, {.seed = 8}));
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.test, b.test);
  EXPECT_EQ(a.Fingerprint(), b.Fingerprint());
  EXPECT_NE(a.train, c.train);
  EXPECT_NE(a.Fingerprint(), c.Fingerprint());
  EXPECT_EQ(a.Fingerprint().size(), 16U);
}

// The shuffle is our own over mt19937_64, whose output the standard fixes: this split must never
// change, whatever the standard library (a changed split silently changes every study).
TEST(StratifiedSplit, IsStableAcrossLibraries) {
  const std::vector<float> labels = Labels(20, 5);
  CHURN_ASSERT_OK_AND_ASSIGN(const Split split, StratifiedSplit(labels, {.seed = 42}));
  std::mt19937_64 rng(42);
  EXPECT_EQ(rng(), 13930160852258120406ULL);  // the standard's fixed sequence
  EXPECT_EQ(split.Fingerprint(), StratifiedSplit(labels, {.seed = 42})->Fingerprint());
  EXPECT_EQ(split.train.size() + split.valid.size() + split.test.size(), 20U);
}

TEST(StratifiedSplit, RejectsBadInput) {
  EXPECT_THAT(StratifiedSplit(Labels(100, 20), {.train_fraction = 0.9, .valid_fraction = 0.2}),
              StatusIs(absl::StatusCode::kInvalidArgument, "fractions"));
  EXPECT_THAT(StratifiedSplit(Labels(100, 20), {.train_fraction = 0.0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(StratifiedSplit(std::vector<float>{0, 1, 2, 0, 1, 0, 1, 0}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "row 2"));
  EXPECT_THAT(StratifiedSplit(Labels(100, 2), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "too few"));
}

TEST(TakeRows, CopiesTheChosenRowsOfEveryColumn) {
  Schema schema;
  ColumnSpec num;
  num.name = "x";
  num.type = ColumnType::kFloat;
  ColumnSpec cat;
  cat.name = "c";
  cat.type = ColumnType::kCategorical;
  cat.levels = {"a", "b"};
  schema.columns = {num, cat};
  Table table(schema);
  for (int i = 0; i < 4; ++i) {
    Column& x = table.MutableColumns()[0];
    x.floats.push_back(i * 1.5);
    x.missing.push_back(i == 2 ? 1 : 0);
    Column& c = table.MutableColumns()[1];
    c.codes.push_back(i % 2);
    c.missing.push_back(0);
    table.CommitRow();
  }
  const std::vector<size_t> rows = {3, 2, 0};
  const Table out = TakeRows(table, rows);
  ASSERT_EQ(out.NumRows(), 3U);
  EXPECT_EQ(out.Find("x")->AsText(0), "4.5");
  EXPECT_TRUE(out.Find("x")->IsMissing(1));
  EXPECT_EQ(out.Find("c")->AsText(0), "b");
  EXPECT_EQ(out.Find("c")->AsText(2), "a");

  const std::vector<float> matrix = {0, 1, 10, 11, 20, 21};
  EXPECT_EQ(TakeRows(matrix, 2, std::vector<size_t>{2, 0}), (std::vector<float>{20, 21, 0, 1}));
}

}  // namespace
}  // namespace churn::data
