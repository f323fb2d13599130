// The SqlDb seam, the same suite against both drivers: SQLite in a TempDir and, when
// CHURN_TEST_POSTGRES_URL is set, PostgreSQL in a fresh schema per test. Then what only the
// PostgreSQL driver does: typing results by column OID, session errors, reconnecting.
#include "registry/sql_db.h"

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "registry/pg_test_util.h"
#include "testing/test_env.h"
#include <netinet/in.h>
#include <sys/socket.h>

#include "churn/base/file.h"

namespace churn::registry::internal {
namespace {

using ::churn::testing::FreshPostgresSchema;
using ::churn::testing::IsOk;
using ::churn::testing::kNoPostgresUrl;
using ::churn::testing::PostgresUrlOrSkip;
using ::churn::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::VariantWith;

constexpr char kSchema[] = R"sql(
  CREATE TABLE parent (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE);
  CREATE TABLE child (
    id BIGINT PRIMARY KEY,
    parent_id BIGINT NOT NULL REFERENCES parent (id)
  );
  CREATE TABLE cell (id BIGINT PRIMARY KEY, i BIGINT, d DOUBLE PRECISION, s TEXT);
)sql";

class SqlDbTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    if (GetParam() == Dialect::kPostgres) {
      const std::optional<std::string> url = PostgresUrlOrSkip();
      if (!url) {
        GTEST_SKIP() << kNoPostgresUrl;
      }
      CHURN_ASSERT_OK_AND_ASSIGN(schema_, FreshPostgresSchema::Create(*url));
      CHURN_ASSERT_OK_AND_ASSIGN(db_, OpenPostgresDb(schema_->Url()));
    } else {
      CHURN_ASSERT_OK_AND_ASSIGN(db_, OpenSqliteDb((dir_.Path() / "db.sqlite").string(), 1000));
    }
    ASSERT_EQ(db_->GetDialect(), GetParam());
    ASSERT_THAT(db_->ExecScript(kSchema), IsOk());
  }

  // The rows of `sql`, or a failed expectation and no rows.
  SqlRows Rows(absl::string_view sql, const std::vector<SqlValue>& params = {}) {
    absl::StatusOr<SqlRows> rows = db_->Query(sql, params);
    EXPECT_THAT(rows, IsOk()) << sql;
    return rows.ok() ? *std::move(rows) : SqlRows();
  }

  // How many rows `table` has.
  int64_t Count(absl::string_view table) {
    const SqlRows rows = Rows(absl::StrCat("SELECT COUNT(*) FROM ", table));
    return rows.size() == 1 ? rows.Int(0, 0) : -1;
  }

  base::TempDir dir_;
  std::unique_ptr<FreshPostgresSchema> schema_;  // before db_: dropped after db_ is closed
  std::unique_ptr<SqlDb> db_;
};

TEST_P(SqlDbTest, IntegersRoundTripIncludingTheExtremes) {
  const std::vector<int64_t> values = {0, -1, 42, std::numeric_limits<int64_t>::min(),
                                       std::numeric_limits<int64_t>::max()};
  for (size_t k = 0; k < values.size(); ++k) {
    ASSERT_THAT(
        db_->Query("INSERT INTO cell (id, i) VALUES (?, ?)", {static_cast<int64_t>(k), values[k]}),
        IsOk());
  }
  const SqlRows rows = Rows("SELECT i FROM cell ORDER BY id");
  ASSERT_EQ(rows.size(), values.size());
  for (size_t k = 0; k < values.size(); ++k) {
    EXPECT_THAT(rows.At(k, 0), VariantWith<int64_t>(values[k]));
  }
}

TEST_P(SqlDbTest, DoublesRoundTripExactlyIncludingInfinities) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> values = {0.1,
                                      1e-300,
                                      -2.5,
                                      1.0 / 3.0,
                                      std::numeric_limits<double>::max(),
                                      std::numeric_limits<double>::denorm_min(),
                                      inf,
                                      -inf};
  for (size_t k = 0; k < values.size(); ++k) {
    ASSERT_THAT(
        db_->Query("INSERT INTO cell (id, d) VALUES (?, ?)", {static_cast<int64_t>(k), values[k]}),
        IsOk());
  }
  const SqlRows rows = Rows("SELECT d FROM cell ORDER BY id");
  ASSERT_EQ(rows.size(), values.size());
  for (size_t k = 0; k < values.size(); ++k) {
    EXPECT_THAT(rows.At(k, 0), VariantWith<double>(values[k])) << "row " << k;
  }
}

// sql_db.h promises NaN back as a double, not as NULL.
// SQLite cannot store NaN (it becomes NULL, as sql_db.h says); the registry keeps an is_nan
// flag instead. PostgreSQL keeps it.
TEST_P(SqlDbTest, NanRoundTripsAsADoubleOnPostgres) {
  if (db_->GetDialect() == Dialect::kSqlite) {
    ASSERT_THAT(db_->Query("INSERT INTO cell (id, d) VALUES (1, ?)", {std::nan("")}), IsOk());
    EXPECT_TRUE(Rows("SELECT d FROM cell").IsNull(0, 0));
    return;
  }
  ASSERT_THAT(db_->Query("INSERT INTO cell (id, d) VALUES (1, ?)", {std::nan("")}), IsOk());
  const SqlRows rows = Rows("SELECT d FROM cell");
  ASSERT_EQ(rows.size(), 1U);
  ASSERT_TRUE(std::holds_alternative<double>(rows.At(0, 0))) << "NaN came back as NULL or text";
  EXPECT_TRUE(std::isnan(std::get<double>(rows.At(0, 0))));
}

TEST_P(SqlDbTest, TextRoundTripsVerbatim) {
  const std::vector<std::string> values = {"",
                                           "it's \"quoted\"",
                                           "two\nlines\tand a tab",
                                           "back\\slash",
                                           "unicode: \u00e9\u4e2d\U0001f600",
                                           "?",
                                           "$1"};
  for (size_t k = 0; k < values.size(); ++k) {
    ASSERT_THAT(
        db_->Query("INSERT INTO cell (id, s) VALUES (?, ?)", {static_cast<int64_t>(k), values[k]}),
        IsOk());
  }
  const SqlRows rows = Rows("SELECT s FROM cell ORDER BY id");
  ASSERT_EQ(rows.size(), values.size());
  for (size_t k = 0; k < values.size(); ++k) {
    EXPECT_THAT(rows.At(k, 0), VariantWith<std::string>(values[k]));
  }
}

TEST_P(SqlDbTest, NullsRoundTripInEveryColumnType) {
  ASSERT_THAT(db_->Query("INSERT INTO cell (id, i, d, s) VALUES (?, ?, ?, ?)",
                         {int64_t{1}, std::monostate(), std::monostate(), std::monostate()}),
              IsOk());
  const SqlRows rows = Rows("SELECT i, d, s FROM cell");
  ASSERT_EQ(rows.size(), 1U);
  ASSERT_EQ(rows.columns, 3U);
  EXPECT_TRUE(rows.IsNull(0, 0));
  EXPECT_TRUE(rows.IsNull(0, 1));
  EXPECT_TRUE(rows.IsNull(0, 2));
}

TEST_P(SqlDbTest, ParametersComeBackAsTheirOwnType) {
  const SqlRows rows = Rows("SELECT ?, ?, ?", {int64_t{7}, 2.5, std::string("x")});
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_THAT(rows.At(0, 0), VariantWith<int64_t>(7));
  EXPECT_THAT(rows.At(0, 1), VariantWith<double>(2.5));
  EXPECT_THAT(rows.At(0, 2), VariantWith<std::string>("x"));
}

TEST_P(SqlDbTest, IntegerParametersWorkInLimitAndArithmetic) {
  for (int64_t k = 0; k < 5; ++k) {
    ASSERT_THAT(db_->Query("INSERT INTO cell (id, i) VALUES (?, ? + 1)", {k, k}), IsOk());
  }
  const SqlRows rows = Rows("SELECT i FROM cell ORDER BY id LIMIT ?", {int64_t{2}});
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows.Int(1, 0), 2);
}

TEST_P(SqlDbTest, QuestionMarksInsideQuotedLiteralsAreNotPlaceholders) {
  const SqlRows rows = Rows("SELECT 'a?b', ?, 'it''s ?', ?", {int64_t{1}, std::string("two")});
  ASSERT_EQ(rows.size(), 1U);
  ASSERT_EQ(rows.columns, 4U);
  EXPECT_EQ(rows.Text(0, 0), "a?b");
  EXPECT_EQ(rows.Int(0, 1), 1);
  EXPECT_EQ(rows.Text(0, 2), "it's ?");
  EXPECT_EQ(rows.Text(0, 3), "two");
}

TEST_P(SqlDbTest, StatementsWithoutResultsAndEmptySelectsReturnNoRows) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const SqlRows inserted,
      db_->Query("INSERT INTO parent (id, name) VALUES (?, ?)", {int64_t{1}, std::string("a")}));
  EXPECT_TRUE(inserted.empty());
  const SqlRows none = Rows("SELECT id, name FROM parent WHERE id = ?", {int64_t{2}});
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.size(), 0U);
  EXPECT_EQ(none.columns, 2U);
}

TEST_P(SqlDbTest, DuplicateKeyIsAlreadyExists) {
  ASSERT_THAT(db_->Query("INSERT INTO parent (id, name) VALUES (1, 'a')", {}), IsOk());
  EXPECT_THAT(db_->Query("INSERT INTO parent (id, name) VALUES (1, 'b')", {}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(db_->Query("INSERT INTO parent (id, name) VALUES (2, 'a')", {}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(Count("parent"), 1);
}

TEST_P(SqlDbTest, ForeignKeyViolationIsFailedPrecondition) {
  ASSERT_THAT(db_->Query("INSERT INTO parent (id, name) VALUES (1, 'a')", {}), IsOk());
  EXPECT_THAT(db_->Query("INSERT INTO child (id, parent_id) VALUES (1, ?)", {int64_t{99}}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(db_->Query("INSERT INTO child (id, parent_id) VALUES (1, ?)", {int64_t{1}}), IsOk());
  EXPECT_THAT(db_->Query("DELETE FROM parent", {}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_P(SqlDbTest, RollbackDiscardsAndCommitKeeps) {
  ASSERT_THAT(db_->Begin(), IsOk());
  ASSERT_THAT(db_->Query("INSERT INTO parent (id, name) VALUES (1, 'a')", {}), IsOk());
  EXPECT_EQ(Count("parent"), 1);  // visible inside its own transaction
  ASSERT_THAT(db_->Rollback(), IsOk());
  EXPECT_EQ(Count("parent"), 0);

  ASSERT_THAT(db_->Begin(), IsOk());
  ASSERT_THAT(db_->Query("INSERT INTO parent (id, name) VALUES (2, 'b')", {}), IsOk());
  ASSERT_THAT(db_->Commit(), IsOk());
  EXPECT_EQ(Count("parent"), 1);
}

TEST_P(SqlDbTest, ExecScriptRunsSeveralStatements) {
  ASSERT_THAT(db_->ExecScript(R"sql(
    INSERT INTO parent (id, name) VALUES (1, 'a');
    INSERT INTO parent (id, name) VALUES (2, 'b; not a separator');
    UPDATE parent SET name = 'c' WHERE id = 1;
  )sql"),
              IsOk());
  const SqlRows rows = Rows("SELECT name FROM parent ORDER BY id");
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows.Text(0, 0), "c");
  EXPECT_EQ(rows.Text(1, 0), "b; not a separator");
}

TEST_P(SqlDbTest, ExecScriptReportsAFailingStatement) {
  EXPECT_THAT(db_->ExecScript("SELECT 1; SELECT * FROM no_such_table;"), Not(IsOk()));
}

TEST_P(SqlDbTest, BoundStringThatLooksLikeInjectionIsStoredVerbatim) {
  const std::string evil = "x'); DROP TABLE parent; --";
  ASSERT_THAT(db_->Query("INSERT INTO parent (id, name) VALUES (?, ?)", {int64_t{1}, evil}),
              IsOk());
  const SqlRows rows = Rows("SELECT name FROM parent WHERE name = ?", {evil});
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows.Text(0, 0), evil);
  EXPECT_EQ(Count("parent"), 1);
}

TEST_P(SqlDbTest, WrongNumberOfParametersIsInternal) {
  EXPECT_THAT(db_->Query("SELECT id FROM parent WHERE id = ?", {int64_t{1}, int64_t{2}}),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(db_->Query("SELECT id FROM parent WHERE id = ? OR id = ?", {int64_t{1}}),
              StatusIs(absl::StatusCode::kInternal));
}

TEST_P(SqlDbTest, SyntaxErrorIsInternal) {
  EXPECT_THAT(db_->Query("SELEKT 1", {}), StatusIs(absl::StatusCode::kInternal));
}

INSTANTIATE_TEST_SUITE_P(Drivers, SqlDbTest,
                         ::testing::Values(Dialect::kSqlite, Dialect::kPostgres),
                         [](const ::testing::TestParamInfo<Dialect>& param) {
                           return param.param == Dialect::kSqlite ? "Sqlite" : "Postgres";
                         });

// A TCP port on 127.0.0.1 that refuses connections for as long as this lives: bound, never
// listened on, so nothing else can take it meanwhile.
class ClosedPort {
 public:
  ClosedPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    auto* generic = reinterpret_cast<sockaddr*>(&address);
    if (fd_ >= 0 && bind(fd_, generic, length) == 0 && getsockname(fd_, generic, &length) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }

  ~ClosedPort() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }

  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;

  // 0 when no port could be bound.
  int Port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

TEST(OpenPostgresDbTest, UnreachableServerIsUnavailableWithoutThePassword) {
  const ClosedPort closed;
  ASSERT_NE(closed.Port(), 0);
  const auto db =
      OpenPostgresDb(absl::StrCat("postgresql://churn:s3cret@127.0.0.1:", closed.Port(), "/db"));
  EXPECT_THAT(db, StatusIs(absl::StatusCode::kUnavailable, "127.0.0.1"));
  EXPECT_THAT(db.status().message(), Not(HasSubstr("s3cret")));
}

TEST(OpenPostgresDbTest, MalformedUrlIsInvalidArgument) {
  EXPECT_THAT(OpenPostgresDb("postgresql://churn:s3cret@127.0.0.1/db?no_such_option=1"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// What only the PostgreSQL driver does.
class PostgresDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::optional<std::string> url = PostgresUrlOrSkip();
    if (!url) {
      GTEST_SKIP() << kNoPostgresUrl;
    }
    CHURN_ASSERT_OK_AND_ASSIGN(schema_, FreshPostgresSchema::Create(*url));
    CHURN_ASSERT_OK_AND_ASSIGN(db_, OpenPostgresDb(schema_->Url()));
  }

  std::unique_ptr<FreshPostgresSchema> schema_;
  std::unique_ptr<SqlDb> db_;
};

TEST_F(PostgresDbTest, ResultsAreTypedByColumnType) {
  CHURN_ASSERT_OK_AND_ASSIGN(const SqlRows rows, db_->Query(R"sql(
    SELECT true, false, 1::int2, 2::int4, 3::int8, 4::oid, 1.5::float4, 0.25::float8,
           12.5::numeric, 'NaN'::numeric, '-Infinity'::float8, 'x'::varchar, 'y'::text,
           DATE '2026-01-02', NULL::int8
  )sql",
                                                            {}));
  ASSERT_EQ(rows.size(), 1U);
  ASSERT_EQ(rows.columns, 15U);
  EXPECT_THAT(rows.At(0, 0), VariantWith<int64_t>(1));
  EXPECT_THAT(rows.At(0, 1), VariantWith<int64_t>(0));
  EXPECT_THAT(rows.At(0, 2), VariantWith<int64_t>(1));
  EXPECT_THAT(rows.At(0, 3), VariantWith<int64_t>(2));
  EXPECT_THAT(rows.At(0, 4), VariantWith<int64_t>(3));
  EXPECT_THAT(rows.At(0, 5), VariantWith<int64_t>(4));
  EXPECT_THAT(rows.At(0, 6), VariantWith<double>(1.5));
  EXPECT_THAT(rows.At(0, 7), VariantWith<double>(0.25));
  EXPECT_THAT(rows.At(0, 8), VariantWith<double>(12.5));
  ASSERT_TRUE(std::holds_alternative<double>(rows.At(0, 9)));
  EXPECT_TRUE(std::isnan(std::get<double>(rows.At(0, 9))));
  EXPECT_THAT(rows.At(0, 10), VariantWith<double>(-std::numeric_limits<double>::infinity()));
  EXPECT_THAT(rows.At(0, 11), VariantWith<std::string>("x"));
  EXPECT_THAT(rows.At(0, 12), VariantWith<std::string>("y"));
  EXPECT_THAT(rows.At(0, 13), VariantWith<std::string>("2026-01-02"));
  EXPECT_TRUE(rows.IsNull(0, 14));
}

TEST_F(PostgresDbTest, DescribeNamesHostPortAndDatabaseOnly) {
  const std::string description = db_->Describe();
  EXPECT_THAT(description, ::testing::StartsWith("postgresql://"));
  EXPECT_THAT(description, Not(HasSubstr("@")));
  EXPECT_THAT(description, Not(HasSubstr("options")));
}

TEST_F(PostgresDbTest, InternalErrorsQuoteTheServerAndTheStatement) {
  EXPECT_THAT(db_->Query("SELECT * FROM no_such_table", {}),
              StatusIs(absl::StatusCode::kInternal, "no_such_table\" does not exist"));
  EXPECT_THAT(db_->Query("SELECT * FROM no_such_table", {}),
              StatusIs(absl::StatusCode::kInternal, "SELECT * FROM no_such_table"));
}

TEST_F(PostgresDbTest, StringWithNulByteIsInvalidArgument) {
  EXPECT_THAT(db_->Query("SELECT ?", {std::string("a\0b", 3)}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(PostgresDbTest, CommitAfterAFailedStatementIsAborted) {
  ASSERT_THAT(db_->ExecScript("CREATE TABLE t (id BIGINT PRIMARY KEY)"), IsOk());
  ASSERT_THAT(db_->Begin(), IsOk());
  ASSERT_THAT(db_->Query("INSERT INTO t VALUES (1)", {}), IsOk());
  EXPECT_THAT(db_->Query("INSERT INTO t VALUES (1)", {}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(db_->Commit(), StatusIs(absl::StatusCode::kAborted));
  CHURN_ASSERT_OK_AND_ASSIGN(const SqlRows rows, db_->Query("SELECT COUNT(*) FROM t", {}));
  EXPECT_EQ(rows.Int(0, 0), 0);
}

TEST_F(PostgresDbTest, LockConflictIsAborted) {
  ASSERT_THAT(db_->ExecScript("CREATE TABLE t (id BIGINT PRIMARY KEY); INSERT INTO t VALUES (1)"),
              IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const std::unique_ptr<SqlDb> other, OpenPostgresDb(schema_->Url()));
  ASSERT_THAT(db_->Begin(), IsOk());
  ASSERT_THAT(db_->Query("SELECT id FROM t FOR UPDATE", {}), IsOk());
  EXPECT_THAT(other->Query("SELECT id FROM t FOR UPDATE NOWAIT", {}),
              StatusIs(absl::StatusCode::kAborted));
  ASSERT_THAT(db_->Rollback(), IsOk());
  EXPECT_THAT(other->Query("SELECT id FROM t FOR UPDATE NOWAIT", {}), IsOk());
}

TEST_F(PostgresDbTest, ReconnectsAfterTheServerDroppedTheConnection) {
  CHURN_ASSERT_OK_AND_ASSIGN(const SqlRows pid, db_->Query("SELECT pg_backend_pid()", {}));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::unique_ptr<SqlDb> admin, OpenPostgresDb(schema_->Url()));
  ASSERT_THAT(admin->Query("SELECT pg_terminate_backend(?::int4, 5000)", {pid.Int(0, 0)}), IsOk());
  // The statement that finds the connection gone fails; the next one reconnects.
  EXPECT_THAT(db_->Query("SELECT 1", {}), StatusIs(absl::StatusCode::kUnavailable));
  CHURN_ASSERT_OK_AND_ASSIGN(const SqlRows after, db_->Query("SELECT pg_backend_pid()", {}));
  EXPECT_NE(after.Int(0, 0), pid.Int(0, 0));
  // The session settings and search_path survive the reconnect.
  EXPECT_THAT(db_->ExecScript("CREATE TABLE t (id BIGINT)"), IsOk());
  EXPECT_THAT(admin->Query("SELECT id FROM t", {}), IsOk());
}

TEST_F(PostgresDbTest, LostConnectionInsideATransactionFailsUntilRollback) {
  CHURN_ASSERT_OK_AND_ASSIGN(const SqlRows pid, db_->Query("SELECT pg_backend_pid()", {}));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::unique_ptr<SqlDb> admin, OpenPostgresDb(schema_->Url()));
  ASSERT_THAT(db_->Begin(), IsOk());
  ASSERT_THAT(admin->Query("SELECT pg_terminate_backend(?::int4, 5000)", {pid.Int(0, 0)}), IsOk());
  EXPECT_THAT(db_->Query("SELECT 1", {}), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(db_->Rollback(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(db_->Query("SELECT 1", {}), IsOk());
}

}  // namespace
}  // namespace churn::registry::internal
