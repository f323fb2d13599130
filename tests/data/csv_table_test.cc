#include "churn/data/csv_table.h"

#include "absl/strings/str_cat.h"
#include "testing/test_env.h"

namespace churn::data {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kSchema[] = R"yaml(
name: tiny
target: y
positive_value: "yes"
entity_key: id
columns:
  - {name: id, type: string, role: entity_key}
  - {name: y, type: categorical, role: target, levels: ["no", "yes"]}
  - {name: n, type: integer, min: 0, max: 100}
  - {name: x, type: float, allow_missing: true}
  - {name: c, type: categorical, levels: [a, b, Unknown]}
  - {name: leak, type: float, role: dropped, drop_reason: leaks the label}
)yaml";

Schema TinySchema(absl::string_view extra = "") {
  auto schema = ParseSchemaYaml(std::string(kSchema) + std::string(extra));
  EXPECT_THAT(schema, IsOk());
  return *schema;
}

absl::StatusOr<ReadTableResult> Read(absl::string_view csv, const Schema& schema,
                                     size_t max_reported = 20) {
  ReadTableOptions options;
  options.max_reported = max_reported;
  return ReadCsvTable(csv, schema, options);
}

TEST(ReadCsvTable, ReadsTypedColumnsInSchemaOrderWhateverTheHeaderOrder) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      auto r, Read("leak,c,x,n,y,id\n0.5,a,1.5,7,yes,A1\n0.1,Unknown,,0,no,A2\n", TinySchema()));
  const Table& t = r.table;
  ASSERT_EQ(t.NumRows(), 2U);
  ASSERT_EQ(t.NumColumns(), 5U);  // the dropped column is not read
  EXPECT_EQ(t.Columns()[0].spec.name, "id");
  EXPECT_EQ(t.Find("id")->strings[1], "A2");
  EXPECT_EQ(t.Find("y")->codes[0], 1);
  EXPECT_EQ(t.Find("n")->ints[0], 7);
  EXPECT_DOUBLE_EQ(t.Find("x")->floats[0], 1.5);
  EXPECT_TRUE(t.Find("x")->IsMissing(1));
  EXPECT_EQ(t.Find("c")->codes[1], 2);
  EXPECT_EQ(t.Find("leak"), nullptr);
  EXPECT_EQ(r.report.rows_accepted, 2U);
  EXPECT_EQ(r.report.violations_total, 0U);
}

TEST(ReadCsvTable, EmptyFileIsAnError) {
  EXPECT_THAT(Read("", TinySchema()), StatusIs(absl::StatusCode::kInvalidArgument, "empty"));
  EXPECT_THAT(Read("\n\n", TinySchema()), StatusIs(absl::StatusCode::kInvalidArgument, "empty"));
}

TEST(ReadCsvTable, HeaderOnlyIsAnError) {
  EXPECT_THAT(Read("id,y,n,x,c,leak\n", TinySchema()),
              StatusIs(absl::StatusCode::kInvalidArgument, "no data rows"));
}

TEST(ReadCsvTable, MissingColumnIsNamed) {
  EXPECT_THAT(
      Read("id,y,n,x,leak\nA,no,1,2,0\n", TinySchema()),
      StatusIs(absl::StatusCode::kInvalidArgument, "lacks column(s) the schema requires: c"));
}

TEST(ReadCsvTable, ExtraColumnIsNamedUnlessAllowed) {
  const std::string csv = "id,y,n,x,c,leak,extra\nA,no,1,2,a,0,z\n";
  EXPECT_THAT(Read(csv, TinySchema()),
              StatusIs(absl::StatusCode::kInvalidArgument, "does not declare: extra"));
  CHURN_ASSERT_OK_AND_ASSIGN(auto r, Read(csv, TinySchema("allow_extra_columns: true\n")));
  EXPECT_EQ(r.table.NumRows(), 1U);
}

TEST(ReadCsvTable, DuplicateHeaderColumnIsAnError) {
  EXPECT_THAT(Read("id,y,n,x,c,leak,n\nA,no,1,2,a,0,1\n", TinySchema()),
              StatusIs(absl::StatusCode::kInvalidArgument, "appears twice"));
}

TEST(ReadCsvTable, WrongTypeNamesLineRowColumnAndValue) {
  auto r = Read("id,y,n,x,c,leak\nA,no,1,2,a,0\nB,no,seven,2,a,0\n", TinySchema());
  ASSERT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(r.status().message(),
              HasSubstr("line 3 (row 2), column 'n': 'seven' not an integer [wrong_type]"));
}

TEST(ReadCsvTable, IntegerColumnRefusesDecimalsAndFloatRefusesNonFinite) {
  EXPECT_THAT(Read("id,y,n,x,c,leak\nA,no,1.0,2,a,0\n", TinySchema()),
              StatusIs(absl::StatusCode::kInvalidArgument, "'1.0' not an integer"));
  EXPECT_THAT(Read("id,y,n,x,c,leak\nA,no,1,nan,a,0\n", TinySchema()),
              StatusIs(absl::StatusCode::kInvalidArgument, "not a finite number"));
  EXPECT_THAT(Read("id,y,n,x,c,leak\nA,no, 1,2,a,0\n", TinySchema()),
              StatusIs(absl::StatusCode::kInvalidArgument, "not an integer"));
}

TEST(ReadCsvTable, UnknownCategoryAndOutOfRangeAreViolations) {
  auto r = Read("id,y,n,x,c,leak\nA,no,101,2,z,0\n", TinySchema());
  ASSERT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(r.status().message(), HasSubstr("column 'n': '101' outside the range [0, 100]"));
  EXPECT_THAT(r.status().message(), HasSubstr("column 'c': 'z' not one of the levels: a, b"));
}

TEST(ReadCsvTable, MissingValueWhereForbiddenIsAViolation) {
  EXPECT_THAT(Read("id,y,n,x,c,leak\nA,no,,2,a,0\n", TinySchema()),
              StatusIs(absl::StatusCode::kInvalidArgument, "[missing_value]"));
}

TEST(ReadCsvTable, RaggedRowIsAViolation) {
  EXPECT_THAT(Read("id,y,n,x,c,leak\nA,no,1,2,a\n", TinySchema()),
              StatusIs(absl::StatusCode::kInvalidArgument, "has 5 fields, the header has 6"));
}

TEST(ReadCsvTable, DropRowPolicyDropsAndCountsRows) {
  const Schema schema = TinySchema("policy: {wrong_type: drop_row, ragged_row: drop_row}\n");
  const std::string csv = "id,y,n,x,c,leak\nA,no,1,2,a,0\nB,no,bad,2,a,0\nC,yes,3,4,b,0\nD,no\n";
  CHURN_ASSERT_OK_AND_ASSIGN(auto r, Read(csv, schema));
  EXPECT_EQ(r.table.NumRows(), 2U);
  EXPECT_EQ(r.table.Find("id")->strings[1], "C");
  EXPECT_EQ(r.table.Find("n")->ints.size(), 2U);
  EXPECT_EQ(r.report.rows_dropped, 2U);
  EXPECT_EQ(r.report.violations_total, 2U);
  ASSERT_EQ(r.report.dropped_ranges.size(), 2U);
  const auto [begin, end] = r.report.dropped_ranges[0];
  EXPECT_EQ(csv.substr(begin, end - begin), "B,no,bad,2,a,0\n");
}

TEST(ReadCsvTable, TreatAsMissingPolicySetsCellsMissingAndCountsThem) {
  const Schema schema = TinySchema("policy: {unknown_category: treat_as_missing}\n");
  CHURN_ASSERT_OK_AND_ASSIGN(auto r, Read("id,y,n,x,c,leak\nA,no,1,2,zz,0\n", schema));
  EXPECT_TRUE(r.table.Find("c")->IsMissing(0));
  EXPECT_EQ(r.report.cells_set_missing, 1U);
  EXPECT_EQ(r.report.violations_total, 1U);
  EXPECT_EQ(r.report.first[0].value, "zz");
}

TEST(ReadCsvTable, ReportsFirstViolationsInFullThenCounts) {
  std::string csv = "id,y,n,x,c,leak\n";
  for (int i = 0; i < 30; ++i) {
    csv += "A,no,x" + std::to_string(i) + ",1,a,0\n";
  }
  auto r = Read(csv, TinySchema(), 5);
  ASSERT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(r.status().message(), HasSubstr("30 violations"));
  EXPECT_THAT(r.status().message(), HasSubstr("'x4'"));
  EXPECT_THAT(r.status().message(), Not(HasSubstr("'x5'")));
  EXPECT_THAT(r.status().message(), HasSubstr("25 more"));
  EXPECT_THAT(r.status().message(), HasSubstr("wrong_type in n: 30"));
}

// Reading in chunks on several threads gives the same table and report as one thread: split
// points inside quoted fields, line numbers, row numbers and dropped byte ranges included.
TEST(ReadCsvTable, ChunkedReadEqualsSingleThreadedRead) {
  const Schema schema =
      TinySchema("policy: {wrong_type: drop_row, unknown_category: treat_as_missing}\n");
  std::string csv = "id,y,n,x,c,leak\n";
  for (int i = 0; i < 3000; ++i) {
    const std::string id =
        i % 7 == 0 ? "\"multi\nline " + std::to_string(i) + "\"" : std::to_string(i);
    const std::string n = i % 101 == 0 ? "bad" : std::to_string(i % 100);
    const std::string c = i % 53 == 0 ? "zz" : "a";
    absl::StrAppend(&csv, id, ",no,", n, ",", i, ".5,", c, ",0\n");
  }
  ReadTableOptions one;
  one.parallel_bytes = csv.size() + 1;
  one.max_reported = 1000;
  ReadTableOptions many = one;
  many.parallel_bytes = 0;
  CHURN_ASSERT_OK_AND_ASSIGN(const ReadTableResult a, ReadCsvTable(csv, schema, one));
  CHURN_ASSERT_OK_AND_ASSIGN(const ReadTableResult b, ReadCsvTable(csv, schema, many));
  ASSERT_EQ(a.table.NumRows(), b.table.NumRows());
  for (size_t c = 0; c < a.table.NumColumns(); ++c) {
    const Column& x = a.table.Columns()[c];
    const Column& y = b.table.Columns()[c];
    EXPECT_EQ(x.missing, y.missing);
    EXPECT_EQ(x.ints, y.ints);
    EXPECT_EQ(x.floats, y.floats);
    EXPECT_EQ(x.codes, y.codes);
    EXPECT_EQ(x.strings, y.strings);
  }
  EXPECT_EQ(a.report.ToString(), b.report.ToString());
  EXPECT_EQ(a.report.dropped_ranges, b.report.dropped_ranges);
  EXPECT_GT(a.report.rows_dropped, 20U);
  EXPECT_GT(a.report.cells_set_missing, 40U);
}

// An error in the second chunk names the line it is on in the whole file.
TEST(ReadCsvTable, ChunkedReadReportsWholeFileLineNumbers) {
  std::string csv = "id,y,n,x,c,leak\n";
  for (int i = 0; i < 1000; ++i) {
    csv += "a,no,1,2,a,0\n";
  }
  csv += "a,no,1,2,a,\xFF\n";
  ReadTableOptions options;
  options.parallel_bytes = 0;
  EXPECT_THAT(ReadCsvTable(csv, TinySchema(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, "line 1002, byte 12: invalid UTF-8"));
}

TEST(ReadCsvTable, EveryRowDroppedIsAnError) {
  const Schema schema = TinySchema("policy: {wrong_type: drop_row}\n");
  EXPECT_THAT(Read("id,y,n,x,c,leak\nA,no,q,2,a,0\n", schema),
              StatusIs(absl::StatusCode::kInvalidArgument, "every row was dropped"));
}

}  // namespace
}  // namespace churn::data
