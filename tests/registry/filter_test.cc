// MLflow's search syntax: ParseFilter / ParseOrderBy, their compilation to SQL, page tokens, and
// filters written to inject SQL, both at the compiler and end to end through a SQLite registry.
#include "registry/filter.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "registry/sql_db.h"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/base/time.h"
#include "churn/registry/registry.h"

namespace churn::registry::internal {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::IsOkAndHolds;
using ::churn::testing::StatusIs;
using ::testing::Contains;
using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::FieldsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;
using ::testing::VariantWith;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

// Shaped like the registry's run search: two text and two numeric attributes, and every entity.
SearchSpec RunLikeSpec() {
  return SearchSpec{"runs",
                    {{"run_id", "r.run_uuid", false},
                     {"status", "r.status", false},
                     {"start_time", "r.start_time", true},
                     {"end_time", "r.end_time", true}},
                    "latest_metrics x WHERE x.run_uuid = r.run_uuid",
                    "params x WHERE x.run_uuid = r.run_uuid",
                    "tags x WHERE x.run_uuid = r.run_uuid",
                    "r.run_uuid",
                    "x.run_uuid"};
}

absl::StatusOr<SqlFragment> Compile(absl::string_view filter, const SearchSpec& spec) {
  absl::StatusOr<std::vector<Clause>> clauses = ParseFilter(filter);
  if (!clauses.ok()) {
    return clauses.status();
  }
  return CompileFilter(*clauses, spec);
}

absl::StatusOr<Op> OpOf(absl::string_view filter) {
  absl::StatusOr<std::vector<Clause>> clauses = ParseFilter(filter);
  if (!clauses.ok()) {
    return clauses.status();
  }
  if (clauses->size() != 1) {
    return absl::InternalError(absl::StrCat(clauses->size(), " clauses"));
  }
  return clauses->front().op;
}

size_t Placeholders(const std::string& sql) {
  return static_cast<size_t>(std::count(sql.begin(), sql.end(), '?'));
}

// --- ParseFilter ---------------------------------------------------------------------------

TEST(FilterParse, MlflowExampleIsThreeClauses) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const std::vector<Clause> clauses,
      ParseFilter("metrics.valid_auc > 0.99 and params.max_depth = '6' and tags.flow = 'train'"));
  EXPECT_THAT(clauses, ElementsAre(FieldsAre(Entity::kMetric, "valid_auc", Op::kGt,
                                             ElementsAre(VariantWith<double>(DoubleEq(0.99)))),
                                   FieldsAre(Entity::kParam, "max_depth", Op::kEq,
                                             ElementsAre(VariantWith<std::string>("6"))),
                                   FieldsAre(Entity::kTag, "flow", Op::kEq,
                                             ElementsAre(VariantWith<std::string>("train")))));
}

TEST(FilterParse, EmptyFilterHasNoClauses) {
  EXPECT_THAT(ParseFilter(""), IsOkAndHolds(IsEmpty()));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<Clause> clauses, ParseFilter("   "));
  EXPECT_THAT(clauses, IsEmpty());
}

TEST(FilterParse, EveryComparatorIsRecognised) {
  const std::vector<std::pair<std::string, Op>> cases = {
      {"=", Op::kEq},  {"!=", Op::kNe}, {"<>", Op::kNe}, {"<", Op::kLt},
      {"<=", Op::kLe}, {">", Op::kGt},  {">=", Op::kGe}};
  for (const auto& [text, op] : cases) {
    EXPECT_THAT(OpOf(absl::StrCat("metrics.m ", text, " 1")), IsOkAndHolds(op)) << text;
    // Without spaces too: the operator ends the key.
    EXPECT_THAT(OpOf(absl::StrCat("metrics.m", text, "1")), IsOkAndHolds(op)) << text;
  }
}

TEST(FilterParse, LikeAndIlikeInAnyCase) {
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<Clause> like,
                             ParseFilter("tags.name LIKE 'bank%' and params.p like '%x'"));
  EXPECT_THAT(like, ElementsAre(FieldsAre(Entity::kTag, "name", Op::kLike,
                                          ElementsAre(VariantWith<std::string>("bank%"))),
                                FieldsAre(Entity::kParam, "p", Op::kLike,
                                          ElementsAre(VariantWith<std::string>("%x")))));
  EXPECT_THAT(OpOf("attributes.run_name ILIKE '%Churn%'"), IsOkAndHolds(Op::kILike));
  EXPECT_THAT(OpOf("attributes.run_name iLike '%Churn%'"), IsOkAndHolds(Op::kILike));
}

TEST(FilterParse, InAndNotInListsKeepEveryValueInOrder) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const std::vector<Clause> clauses,
      ParseFilter("attributes.status IN ('FINISHED', 'FAILED') AND tags.t not in ('a','b','c')"));
  EXPECT_THAT(clauses, ElementsAre(FieldsAre(Entity::kAttribute, "status", Op::kIn,
                                             ElementsAre(VariantWith<std::string>("FINISHED"),
                                                         VariantWith<std::string>("FAILED"))),
                                   FieldsAre(Entity::kTag, "t", Op::kNotIn,
                                             ElementsAre(VariantWith<std::string>("a"),
                                                         VariantWith<std::string>("b"),
                                                         VariantWith<std::string>("c")))));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<Clause> one, ParseFilter("run_id IN ('x')"));
  EXPECT_THAT(one, ElementsAre(FieldsAre(Entity::kAttribute, "run_id", Op::kIn,
                                         ElementsAre(VariantWith<std::string>("x")))));
}

TEST(FilterParse, IsNullAndIsNotNullTakeNoValue) {
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<Clause> clauses,
                             ParseFilter("tags.note IS NULL and metrics.loss is not null"));
  EXPECT_THAT(clauses, ElementsAre(FieldsAre(Entity::kTag, "note", Op::kIsNull, IsEmpty()),
                                   FieldsAre(Entity::kMetric, "loss", Op::kIsNotNull, IsEmpty())));
  EXPECT_THAT(ParseFilter("tags.note IS 'x'"), StatusIs(kInvalid, "expected NULL after IS [NOT]"));
}

TEST(FilterParse, BacktickedAndDoubleQuotedKeysMayHoldSpacesAndDots) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const std::vector<Clause> clauses,
      ParseFilter("metrics.`my metric` >= 1 and tags.\"a b\" = 'c' and params.`x.y` = 'z'"));
  EXPECT_THAT(clauses, ElementsAre(FieldsAre(Entity::kMetric, "my metric", Op::kGe, SizeIs(1)),
                                   FieldsAre(Entity::kTag, "a b", Op::kEq,
                                             ElementsAre(VariantWith<std::string>("c"))),
                                   FieldsAre(Entity::kParam, "x.y", Op::kEq, SizeIs(1))));
}

TEST(FilterParse, StringValuesUnescapeDoubledQuotesAndTakeDoubleQuotes) {
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<Clause> clauses,
                             ParseFilter("params.a = 'it''s' and params.b = \"two words\""));
  EXPECT_THAT(clauses, ElementsAre(FieldsAre(Entity::kParam, "a", Op::kEq,
                                             ElementsAre(VariantWith<std::string>("it's"))),
                                   FieldsAre(Entity::kParam, "b", Op::kEq,
                                             ElementsAre(VariantWith<std::string>("two words")))));
}

TEST(FilterParse, AndIsCaseInsensitive) {
  for (const char* conjunction : {"and", "AND", "And", "aNd"}) {
    const std::string filter = absl::StrCat("params.a = '1' ", conjunction, " params.b = '2' ",
                                            conjunction, " tags.c = '3'");
    CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<Clause> clauses, ParseFilter(filter));
    EXPECT_THAT(clauses, SizeIs(3)) << filter;
  }
}

TEST(FilterParse, EntityAliasesMapToTheirEntity) {
  const std::vector<std::pair<std::string, Entity>> cases = {{"metric", Entity::kMetric},
                                                             {"metrics", Entity::kMetric},
                                                             {"METRICS", Entity::kMetric},
                                                             {"param", Entity::kParam},
                                                             {"params", Entity::kParam},
                                                             {"tag", Entity::kTag},
                                                             {"tags", Entity::kTag},
                                                             {"attribute", Entity::kAttribute},
                                                             {"attributes", Entity::kAttribute},
                                                             {"attr", Entity::kAttribute},
                                                             {"run", Entity::kAttribute}};
  for (const auto& [prefix, entity] : cases) {
    CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<Clause> clauses,
                               ParseFilter(absl::StrCat(prefix, ".key_1 = '1'")));
    ASSERT_THAT(clauses, SizeIs(1)) << prefix;
    EXPECT_EQ(clauses[0].entity, entity) << prefix;
    EXPECT_EQ(clauses[0].key, "key_1") << prefix;
  }
  // No prefix at all is an attribute.
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<Clause> bare, ParseFilter("status = 'RUNNING'"));
  EXPECT_THAT(bare, ElementsAre(FieldsAre(Entity::kAttribute, "status", Op::kEq, SizeIs(1))));
}

TEST(FilterParse, NumbersIntegerNegativeAndExponent) {
  const std::vector<std::pair<std::string, double>> cases = {
      {"1", 1.0}, {"-2.5", -2.5}, {"1e-3", 0.001}, {"2E+2", 200.0}, {"0.5", 0.5}, {"+7", 7.0}};
  for (const auto& [text, value] : cases) {
    CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<Clause> clauses,
                               ParseFilter(absl::StrCat("metrics.m > ", text)));
    EXPECT_THAT(clauses, ElementsAre(FieldsAre(Entity::kMetric, "m", Op::kGt,
                                               ElementsAre(VariantWith<double>(DoubleEq(value))))))
        << text;
  }
  EXPECT_THAT(ParseFilter("metrics.m > 1x"), StatusIs(kInvalid, "'1x' is not a number"));
}

TEST(FilterParse, TwoHundredClausesAreAllowedButNotMore) {
  std::vector<std::string> clauses(200, "params.p = 'v'");
  EXPECT_THAT(ParseFilter(absl::StrJoin(clauses, " and ")), IsOk());
  clauses.emplace_back("params.p = 'v'");
  EXPECT_THAT(ParseFilter(absl::StrJoin(clauses, " and ")), StatusIs(kInvalid, "200 clauses"));
}

TEST(FilterParse, LengthLimitIs16384Characters) {
  const std::string head = "params.p = '";
  const std::string at_limit = head + std::string(16384 - head.size() - 1, 'x') + "'";
  ASSERT_EQ(at_limit.size(), 16384U);
  EXPECT_THAT(ParseFilter(at_limit), IsOk());
  const std::string over = head + std::string(16384 - head.size(), 'x') + "'";
  ASSERT_EQ(over.size(), 16385U);
  EXPECT_THAT(ParseFilter(over), StatusIs(kInvalid, "longer than 16384 characters"));
}

// Each bad filter fails with InvalidArgument naming what went wrong and where (1-based).
TEST(FilterParse, ErrorsNameTheProblemAndItsPosition) {
  struct Case {
    const char* filter;
    const char* position;
    const char* what;
  };

  const Case cases[] = {
      {"params.a = '1' OR params.b = '2'", "character 16", "OR is not supported"},
      {"params.a = '1' or params.b = '2'", "character 16", "OR is not supported"},
      {"params.a = 'abc", "character 12", "unterminated quoted string"},
      {"metrics.`abc > 1", "character 9", "unterminated quoted string"},
      {"params.a =", "character 11", "expected a quoted string or a number, got 'the end'"},
      {"params.a = and params.b = '1'", "character 12", "got 'and'"},
      {"params.a", "character 9", "expected a comparison after 'params.a', got 'the end'"},
      {"foo.bar = '1'", "character 1", "unknown entity type 'foo'"},
      {"params.a = '1' xyz", "character 16", "expected AND or the end, got 'xyz'"},
      {"params.a = '1' and", "character 19", "expected an identifier"},
      {"params.a = '1')", "character 15", "got ')'"},
      {") params.a = '1'", "character 1", "expected an identifier, got ')'"},
      {"attributes.status IN ()", "character 23", "got ')'"},
      {"attributes.status IN 'a'", "character 22", "expected '(' after IN"},
      {"attributes.status IN ('a' 'b')", "character 27", "expected ',' or ')'"},
      {"params.a ! '1'", "character 10", "'!' must be followed by '='"},
      {"params.a = '1' ; params.b = '2'", "character 16", "unexpected character ';'"},
      {"params. = '1'", "character 1", "has no key"},
      {"params.a = `b`", "character 12", "expected a quoted string or a number"},
  };
  for (const Case& c : cases) {
    const auto parsed = ParseFilter(c.filter);
    EXPECT_THAT(parsed, StatusIs(kInvalid, c.position)) << c.filter;
    EXPECT_THAT(parsed, StatusIs(kInvalid, c.what)) << c.filter;
  }
}

// --- ParseOrderBy --------------------------------------------------------------------------

TEST(FilterOrderBy, ParsesKeyAndDirection) {
  EXPECT_THAT(ParseOrderBy("metrics.auc DESC"),
              IsOkAndHolds(FieldsAre(Entity::kMetric, "auc", false)));
  EXPECT_THAT(ParseOrderBy("attributes.start_time"),
              IsOkAndHolds(FieldsAre(Entity::kAttribute, "start_time", true)));
  EXPECT_THAT(ParseOrderBy("params.x asc"), IsOkAndHolds(FieldsAre(Entity::kParam, "x", true)));
  EXPECT_THAT(ParseOrderBy("tags.`my tag` desc"),
              IsOkAndHolds(FieldsAre(Entity::kTag, "my tag", false)));
}

TEST(FilterOrderBy, RejectsMalformedOrders) {
  for (const char* bad :
       {"", "   ", "metrics.auc DESC extra", "metrics.auc sideways", "foo.bar", "'start_time'",
        "metrics.auc, params.x", "metrics.auc DESC; DROP TABLE runs", "metrics. DESC"}) {
    EXPECT_THAT(ParseOrderBy(bad), StatusIs(kInvalid)) << bad;
  }
}

// --- CompileFilter / CompileOrderBy --------------------------------------------------------

TEST(FilterCompile, MetricComparedToAStringIsInvalid) {
  EXPECT_THAT(Compile("metrics.auc > '0.9'", RunLikeSpec()),
              StatusIs(kInvalid, "metric 'auc' compares numbers, got a string"));
  EXPECT_THAT(Compile("attributes.start_time > '5'", RunLikeSpec()),
              StatusIs(kInvalid, "attribute 'start_time' compares numbers"));
}

TEST(FilterCompile, StringEntitiesComparedToANumberAreInvalid) {
  EXPECT_THAT(Compile("params.depth = 6", RunLikeSpec()),
              StatusIs(kInvalid, "param 'depth' compares strings, got a number"));
  EXPECT_THAT(Compile("tags.t IN ('a', 2)", RunLikeSpec()), StatusIs(kInvalid, "tag 't'"));
}

TEST(FilterCompile, LikeOnAMetricIsInvalid) {
  EXPECT_THAT(Compile("metrics.auc LIKE '%9'", RunLikeSpec()), StatusIs(kInvalid, "metric 'auc'"));
  EXPECT_THAT(Compile("metrics.auc LIKE 0.9", RunLikeSpec()),
              StatusIs(kInvalid, "LIKE does not apply to numeric metric 'auc'"));
  EXPECT_THAT(Compile("metrics.auc ILIKE 0.9", RunLikeSpec()),
              StatusIs(kInvalid, "ILIKE does not apply to numeric metric 'auc'"));
  EXPECT_THAT(Compile("attributes.start_time LIKE 1", RunLikeSpec()),
              StatusIs(kInvalid, "LIKE does not apply to numeric attribute 'start_time'"));
}

TEST(FilterCompile, UnknownAttributeIsInvalidAndListsTheKnownOnes) {
  EXPECT_THAT(Compile("attributes.colour = 'red'", RunLikeSpec()),
              StatusIs(kInvalid,
                       "invalid attribute key 'colour' for runs: expected one of "
                       "run_id, status, start_time, end_time"));
}

TEST(FilterCompile, EntityTheSpecCannotSearchIsInvalid) {
  SearchSpec spec = RunLikeSpec();
  spec.metrics = nullptr;
  EXPECT_THAT(Compile("metrics.auc > 1", spec),
              StatusIs(kInvalid, "cannot be searched by metrics"));
  EXPECT_THAT(CompileOrderBy({{Entity::kMetric, "auc", true}}, spec),
              StatusIs(kInvalid, "cannot be searched by metrics"));
}

TEST(FilterCompile, MetricClauseIsAnInListOverLatestMetricsSkippingNan) {
  CHURN_ASSERT_OK_AND_ASSIGN(const SqlFragment f, Compile("metrics.auc > 0.5", RunLikeSpec()));
  EXPECT_EQ(f.sql,
            " AND (r.run_uuid IN (SELECT x.run_uuid FROM latest_metrics x WHERE x.key = ? AND "
            "x.is_nan = 0 AND x.value > ?))");
  EXPECT_THAT(f.params,
              ElementsAre(VariantWith<std::string>("auc"), VariantWith<double>(DoubleEq(0.5))));
}

TEST(FilterCompile, IlikeLowersBothSidesAndInBindsEveryValue) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const SqlFragment f,
      Compile("attributes.status ILIKE 'fin%' and tags.t NOT IN ('a', 'b')", RunLikeSpec()));
  EXPECT_EQ(f.sql,
            " AND (LOWER(r.status) LIKE LOWER(?)) AND (r.run_uuid IN (SELECT x.run_uuid FROM tags "
            "x WHERE x.key = ? AND x.value NOT IN (?, ?)))");
  EXPECT_THAT(f.params, ElementsAre(VariantWith<std::string>("fin%"), VariantWith<std::string>("t"),
                                    VariantWith<std::string>("a"), VariantWith<std::string>("b")));
}

TEST(FilterCompile, TagIsNullIsNotIn) {
  CHURN_ASSERT_OK_AND_ASSIGN(const SqlFragment f, Compile("tags.note IS NULL", RunLikeSpec()));
  EXPECT_EQ(f.sql, " AND (r.run_uuid NOT IN (SELECT x.run_uuid FROM tags x WHERE x.key = ?))");
  EXPECT_THAT(f.params, ElementsAre(VariantWith<std::string>("note")));
}

// end_time is NULL while a run has not ended: "attributes.end_time IS NULL" is the natural way
// to ask for unfinished runs, and the grammar allows IS NULL on any identifier.
TEST(FilterCompile, NumericAttributeIsNullCompiles) {
  CHURN_ASSERT_OK_AND_ASSIGN(const SqlFragment text_attr,
                             Compile("attributes.status IS NOT NULL", RunLikeSpec()));
  EXPECT_EQ(text_attr.sql, " AND (r.status IS NOT NULL)");
  const auto numeric_attr = Compile("attributes.end_time IS NULL", RunLikeSpec());
  ASSERT_THAT(numeric_attr, IsOk());
  EXPECT_EQ(numeric_attr->sql, " AND (r.end_time IS NULL)");
  EXPECT_THAT(numeric_attr->params, IsEmpty());
}

TEST(FilterCompile, SqlHoldsOnlyPlaceholdersNeverKeysOrValues) {
  const std::string filter =
      "metrics.key_alpha > 0.125 and params.key_beta = 'value_beta' and tags.key_gamma LIKE "
      "'value_gamma%' and tags.`key delta` IN ('value_d1', 'value_d2') and params.key_eps IS "
      "NOT NULL and attributes.status != 'value_zeta' and attributes.start_time <= 42";
  CHURN_ASSERT_OK_AND_ASSIGN(const SqlFragment f, Compile(filter, RunLikeSpec()));
  for (const char* text :
       {"key_alpha", "0.125", "key_beta", "value_beta", "key_gamma", "value_gamma", "key delta",
        "value_d1", "value_d2", "key_eps", "value_zeta", "42"}) {
    EXPECT_THAT(f.sql, Not(HasSubstr(text)));
  }
  EXPECT_THAT(f.sql, Not(HasSubstr("'")));  // no literal of any kind
  EXPECT_EQ(Placeholders(f.sql), f.params.size());
  EXPECT_THAT(
      f.params,
      ElementsAre(VariantWith<std::string>("key_alpha"), VariantWith<double>(0.125),
                  VariantWith<std::string>("key_beta"), VariantWith<std::string>("value_beta"),
                  VariantWith<std::string>("key_gamma"), VariantWith<std::string>("value_gamma%"),
                  VariantWith<std::string>("key delta"), VariantWith<std::string>("value_d1"),
                  VariantWith<std::string>("value_d2"), VariantWith<std::string>("key_eps"),
                  VariantWith<std::string>("value_zeta"), VariantWith<int64_t>(42)));
}

TEST(FilterCompile, OrderByAttributeAndMetric) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const SqlFragment attr,
      CompileOrderBy({{Entity::kAttribute, "start_time", true}}, RunLikeSpec()));
  EXPECT_EQ(attr.sql, "r.start_time IS NULL, r.start_time ASC, ");
  EXPECT_THAT(attr.params, IsEmpty());
  CHURN_ASSERT_OK_AND_ASSIGN(const OrderBy order, ParseOrderBy("metrics.`a b` DESC"));
  CHURN_ASSERT_OK_AND_ASSIGN(const SqlFragment metric, CompileOrderBy({order}, RunLikeSpec()));
  const std::string expr =
      "(SELECT x.value FROM latest_metrics x WHERE x.run_uuid = r.run_uuid AND x.key = ? AND "
      "x.is_nan = 0)";
  EXPECT_EQ(metric.sql, absl::StrCat(expr, " IS NULL, ", expr, " DESC, "));
  EXPECT_THAT(metric.params,
              ElementsAre(VariantWith<std::string>("a b"), VariantWith<std::string>("a b")));
  EXPECT_THAT(CompileOrderBy({{Entity::kAttribute, "colour", true}}, RunLikeSpec()),
              StatusIs(kInvalid, "invalid attribute key 'colour'"));
}

// --- SQL injection -------------------------------------------------------------------------

// A filter written to inject SQL, and what must happen to it: refused (`rejected_with` is part
// of the message), or compiled to exactly the SQL of `benign_twin` with `payload` only bound.
struct Injection {
  const char* filter;
  const char* rejected_with;  // nullptr: it parses
  const char* benign_twin;
  const char* payload;
};

constexpr Injection kInjections[] = {
    {"params.x = '1'; DROP TABLE runs; --'", "unexpected character ';'", nullptr, nullptr},
    {"params.x = '1' OR '1'='1'", "OR is not supported", nullptr, nullptr},
    {"attributes.status = 'FINISHED' UNION SELECT * FROM runs", "unexpected character '*'", nullptr,
     nullptr},
    {"attributes.status = 'x' UNION SELECT run_uuid FROM runs", "got 'UNION'", nullptr, nullptr},
    {"attributes.run_id IN ('a') OR 1=1", "OR is not supported", nullptr, nullptr},
    {"params.x = '1' --", "got '--'", nullptr, nullptr},
    {"params.x = '1' /* c */", "unexpected character '*'", nullptr, nullptr},
    {"tags.a = 'b' AND 1=1", "expected an identifier", nullptr, nullptr},
    {"attributes.`status = status OR 1` = 'x'", "invalid attribute key", nullptr, nullptr},
    {"metrics.`auc) OR (1=1` > 0", nullptr, "metrics.k > 0", "auc) OR (1=1"},
    {"tags.\"x' OR 1=1 --\" = 'y'", nullptr, "tags.k = 'y'", "x' OR 1=1 --"},
    {"params.x = '1''; DROP TABLE runs; --'", nullptr, "params.x = 'v'", "1'; DROP TABLE runs; --"},
    {"params.x = 'a\\' OR 1=1 --'", nullptr, "params.x = 'v'", "a' OR 1=1 --"},
    {"attributes.run_id = ''' OR ''1''=''1'", nullptr, "attributes.run_id = 'v'", "' OR '1'='1"},
};

TEST(FilterInjection, InjectionsAreRejectedOrOnlyEverBound) {
  for (const Injection& c : kInjections) {
    SCOPED_TRACE(c.filter);
    const absl::StatusOr<SqlFragment> compiled = Compile(c.filter, RunLikeSpec());
    if (c.rejected_with != nullptr) {
      EXPECT_THAT(compiled, StatusIs(kInvalid, c.rejected_with));
      continue;
    }
    ASSERT_THAT(compiled, IsOk());
    CHURN_ASSERT_OK_AND_ASSIGN(const SqlFragment twin, Compile(c.benign_twin, RunLikeSpec()));
    EXPECT_EQ(compiled->sql, twin.sql);  // the statement's shape does not depend on the text
    EXPECT_THAT(compiled->sql, Not(HasSubstr(c.payload)));
    EXPECT_THAT(compiled->params, Contains(VariantWith<std::string>(c.payload)));
    EXPECT_EQ(Placeholders(compiled->sql), compiled->params.size());
  }
}

TEST(FilterInjection, OrderByInjectionsAreRejectedOrOnlyEverBound) {
  for (const char* bad : {"attributes.start_time; DROP TABLE runs", "start_time, (SELECT 1)",
                          "attributes.start_time DESC --", "metrics.auc DESC) UNION SELECT 1"}) {
    EXPECT_THAT(ParseOrderBy(bad), StatusIs(kInvalid)) << bad;
  }
  CHURN_ASSERT_OK_AND_ASSIGN(const OrderBy order,
                             ParseOrderBy("metrics.`x) DESC, (SELECT 1` DESC"));
  CHURN_ASSERT_OK_AND_ASSIGN(const SqlFragment f, CompileOrderBy({order}, RunLikeSpec()));
  EXPECT_THAT(f.sql, Not(HasSubstr("SELECT 1")));
  EXPECT_THAT(f.params, ElementsAre(VariantWith<std::string>("x) DESC, (SELECT 1"),
                                    VariantWith<std::string>("x) DESC, (SELECT 1")));
  CHURN_ASSERT_OK_AND_ASSIGN(const OrderBy attr, ParseOrderBy("attributes.`start_time DESC, 1`"));
  EXPECT_THAT(CompileOrderBy({attr}, RunLikeSpec()), StatusIs(kInvalid, "invalid attribute key"));
}

// The same filters against a real SQLite registry: refused, or a correct (empty) result, and
// every table intact afterwards.
class FilterInjectionEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CHURN_ASSERT_OK_AND_ASSIGN(
        reg_, OpenRegistry({.url = "sqlite:" + DbPath(),
                            .artifact_store_uri = (dir_.Path() / "objects").string(),
                            .clock = &clock_}));
    CHURN_ASSERT_OK_AND_ASSIGN(experiment_, reg_->CreateExperiment("inject", "", {}));
    for (const char* x : {"1", "2", "1'; DROP TABLE runs; --"}) {
      clock_.Advance(absl::Seconds(1));
      CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run run,
                                 reg_->CreateRun({.experiment_id = experiment_}));
      ASSERT_THAT(
          reg_->LogBatch(run.info.run_id, {{"auc", 0.9, 1000, 0}}, {{"x", x}}, {{"flow", "train"}}),
          IsOk());
      runs_.push_back(run.info.run_id);
    }
    ASSERT_THAT(reg_->CreateRegisteredModel("churn-model", "", {}), IsOk());
  }

  std::string DbPath() const { return (dir_.Path() / "registry.db").string(); }

  // Every run of the experiment, searched with no filter.
  std::vector<std::string> AllRunIds() {
    auto page = reg_->SearchRuns({.experiment_ids = {experiment_}});
    EXPECT_THAT(page, IsOk());
    std::vector<std::string> ids;
    for (const registry::Run& r : page.ok() ? page->items : std::vector<registry::Run>{}) {
      ids.push_back(r.info.run_id);
    }
    return ids;
  }

  base::TempDir dir_;
  base::FakeClock clock_{absl::FromUnixMillis(1764547200000)};
  std::unique_ptr<Registry> reg_;
  std::string experiment_;
  std::vector<std::string> runs_;
};

TEST_F(FilterInjectionEndToEndTest, SearchRunsRefusesOrFindsOnlyTrueMatches) {
  for (const Injection& c : kInjections) {
    SCOPED_TRACE(c.filter);
    const auto page = reg_->SearchRuns({.experiment_ids = {experiment_}, .filter = c.filter});
    if (c.rejected_with != nullptr) {
      EXPECT_THAT(page, StatusIs(kInvalid, c.rejected_with));
      continue;
    }
    ASSERT_THAT(page, IsOk());
    std::vector<std::string> ids;
    for (const registry::Run& r : page->items) {
      ids.push_back(r.info.run_id);
    }
    if (absl::string_view(c.payload) == "1'; DROP TABLE runs; --") {
      EXPECT_THAT(ids, ElementsAre(runs_[2]));  // the run whose param holds exactly that text
    } else {
      EXPECT_THAT(ids, IsEmpty());
    }
  }
  EXPECT_THAT(AllRunIds(), UnorderedElementsAre(runs_[0], runs_[1], runs_[2]));
  for (const std::string& id : runs_) {
    CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run run, reg_->GetRun(id));
    EXPECT_THAT(run.params, SizeIs(1));
    EXPECT_THAT(run.metrics, SizeIs(1));
  }
  CHURN_ASSERT_OK_AND_ASSIGN(auto raw, OpenSqliteDb(DbPath(), 1000));
  CHURN_ASSERT_OK_AND_ASSIGN(const SqlRows counts,
                             raw->Query("SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) "
                                        "FROM params), (SELECT COUNT(*) FROM latest_metrics)",
                                        {}));
  EXPECT_EQ(counts.Int(0, 0), 3);
  EXPECT_EQ(counts.Int(0, 1), 3);
  EXPECT_EQ(counts.Int(0, 2), 3);
}

TEST_F(FilterInjectionEndToEndTest, SearchRunsOrderByInjectionChangesNothing) {
  EXPECT_THAT(reg_->SearchRuns({.experiment_ids = {experiment_},
                                .order_by = {"attributes.start_time; DROP TABLE runs"}}),
              StatusIs(kInvalid));
  CHURN_ASSERT_OK_AND_ASSIGN(
      const Page<registry::Run> page,
      reg_->SearchRuns({.experiment_ids = {experiment_},
                        .order_by = {"metrics.`auc) DESC; DROP TABLE runs; --` DESC"}}));
  EXPECT_THAT(page.items, SizeIs(3));
  EXPECT_THAT(AllRunIds(), SizeIs(3));
}

TEST_F(FilterInjectionEndToEndTest, ModelAndExperimentSearchesTreatInjectionAsData) {
  EXPECT_THAT(reg_->SearchRegisteredModels({.filter = "name = 'x' OR 1=1"}),
              StatusIs(kInvalid, "OR is not supported"));
  CHURN_ASSERT_OK_AND_ASSIGN(const Page<RegisteredModel> models,
                             reg_->SearchRegisteredModels({.filter = "name = 'x'' OR ''1''=''1'"}));
  EXPECT_THAT(models.items, IsEmpty());
  CHURN_ASSERT_OK_AND_ASSIGN(const Page<ModelVersion> versions,
                             reg_->SearchModelVersions({.filter = "name = ''' OR 1=1 --'"}));
  EXPECT_THAT(versions.items, IsEmpty());
  CHURN_ASSERT_OK_AND_ASSIGN(
      const Page<Experiment> experiments,
      reg_->SearchExperiments({.filter = "name = 'inject''; DELETE FROM experiments; --'"}));
  EXPECT_THAT(experiments.items, IsEmpty());
  CHURN_ASSERT_OK_AND_ASSIGN(const Page<Experiment> all, reg_->SearchExperiments({}));
  EXPECT_THAT(all.items, SizeIs(2));  // Default and "inject"
  EXPECT_THAT(reg_->GetRegisteredModel("churn-model"), IsOk());
}

// --- Page tokens ---------------------------------------------------------------------------

TEST(PageToken, RoundTripsOffsets) {
  for (const int64_t offset : {int64_t{0}, int64_t{1}, int64_t{1000}, int64_t{1} << 40}) {
    EXPECT_THAT(DecodePageToken(EncodePageToken(offset)), IsOkAndHolds(offset));
  }
  std::string json;
  ASSERT_TRUE(absl::Base64Unescape(EncodePageToken(25), &json));
  EXPECT_EQ(json, R"({"offset":25})");
}

TEST(PageToken, EmptyTokenIsTheFirstPage) {
  EXPECT_THAT(DecodePageToken(""), IsOkAndHolds(int64_t{0}));
}

TEST(PageToken, GarbageNegativeAndNonBase64AreInvalid) {
  const std::vector<std::string> bad = {
      "garbage",
      "***not base64***",
      absl::Base64Escape(R"({"offset":-5})"),
      absl::Base64Escape(R"({"offset":"5"})"),
      absl::Base64Escape(R"({"offset":1.5})"),
      absl::Base64Escape(R"({"start":5})"),
      absl::Base64Escape("[5]"),
      absl::Base64Escape("5"),
      absl::Base64Escape("not json"),
      absl::Base64Escape(R"({"offset":18446744073709551615})"),
  };
  for (const std::string& token : bad) {
    EXPECT_THAT(DecodePageToken(token), StatusIs(kInvalid, "invalid page token")) << token;
  }
}

TEST_F(FilterInjectionEndToEndTest, PageTokensWalkEveryRunOnce) {
  std::vector<std::string> seen;
  std::string token;
  for (int page_number = 0; page_number < 10; ++page_number) {
    CHURN_ASSERT_OK_AND_ASSIGN(
        const Page<registry::Run> page,
        reg_->SearchRuns({.experiment_ids = {experiment_}, .max_results = 2, .page_token = token}));
    for (const registry::Run& r : page.items) {
      seen.push_back(r.info.run_id);
    }
    token = page.next_page_token;
    if (token.empty()) {
      break;
    }
  }
  EXPECT_TRUE(token.empty());
  // Newest first: the default order is start_time DESC.
  EXPECT_THAT(seen, ElementsAre(runs_[2], runs_[1], runs_[0]));
  EXPECT_THAT(reg_->SearchRuns({.experiment_ids = {experiment_}, .page_token = "%%%"}),
              StatusIs(kInvalid, "invalid page token"));
}

}  // namespace
}  // namespace churn::registry::internal
