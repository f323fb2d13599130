// PostgresDb: the SqlDb seam on libpq's C API, one blocking PGconn per SqlDb.
//
// Why libpq and not libpqxx: the seam hands over a runtime list of typed parameters and wants
// Status errors; PQexecParams takes exactly such arrays and reports errors as values (SQLSTATE
// included), where libpqxx would add exceptions to catch and convert.
//
// Statements. '?' placeholders become $1, $2, ... (NumberPlaceholders) and each statement is
// sent with PQexecParams (extended protocol, so one statement per call; ExecScript uses PQexec,
// the simple protocol, for several). Parameters travel as text with an explicit type per
// alternative: int64 as decimal INT8, double as "%.17g" FLOAT8 (enough digits to round-trip;
// "NaN", "Infinity", "-Infinity" spelled as float8in reads them), std::string as TEXT, and NULL
// with type 0 so the server infers it from the context (a typed NULL would not insert into a
// BIGINT column). Explicit types make "SELECT ?" come back as the bound type and "? * ?"
// resolvable; with type 0 the first is text and the second ambiguous. Text cannot hold NUL bytes in
// PostgreSQL and libpq would cut the string at the first one, so such a string is refused
// (InvalidArgument) instead of stored truncated.
//
// Results come back in text format and are typed by column OID: bool as 0/1, int2/int4/int8
// and oid as int64, float4/float8/numeric as double, everything else as text; NULL as monostate.
// float8out of PostgreSQL 12+ prints the shortest exact form, so doubles round-trip.
//
// Errors are mapped by SQLSTATE (see CodeForSqlState). Lost connections: libpq reports them
// without a SQLSTATE and leaves PQstatus bad; the next statement outside a transaction calls
// PQreset once. Inside a transaction the work is gone, so the statement fails Unavailable and
// the caller's Rollback (or Commit) ends the transaction; reconnecting then happens as usual.
// A COMMIT of a transaction in which a statement failed is answered "ROLLBACK" by the server
// with no error: Commit reports it as Aborted rather than pretend the writes landed.
//
// NOTICEs (e.g. "relation already exists, skipping" from migrations) are turned off with
// client_min_messages=warning at connect; warnings go to the churn log, not to stderr.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "registry/sql_db.h"
#include <libpq-fe.h>

#include "churn/base/logging.h"
#include "churn/base/status_macros.h"

namespace churn::registry::internal {
namespace {

struct ConnFinish {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};

struct ResultClear {
  void operator()(PGresult* result) const { PQclear(result); }
};

using Conn = std::unique_ptr<PGconn, ConnFinish>;
using Result = std::unique_ptr<PGresult, ResultClear>;

// Type OIDs from PostgreSQL's catalog/pg_type.h (server headers are not in libpq-dev); they are
// fixed since the catalog was created.
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

// How much of a failing statement an Internal error quotes.
constexpr size_t kSqlExcerpt = 120;

enum class ColumnKind { kBool, kInt, kDouble, kText };

ColumnKind KindOf(Oid type) {
  switch (type) {
    case kBoolOid:
      return ColumnKind::kBool;
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid:
      return ColumnKind::kInt;
    case kFloat4Oid:
    case kFloat8Oid:
    case kNumericOid:
      return ColumnKind::kDouble;
    default:
      return ColumnKind::kText;
  }
}

// The parameters of one PQexecParams call. `values` points into `text`, so this is not copyable.
struct TextParams {
  TextParams() = default;
  TextParams(const TextParams&) = delete;
  TextParams& operator=(const TextParams&) = delete;
  ~TextParams() = default;

  std::vector<std::string> text;
  std::vector<const char*> values;  // nullptr for NULL
  std::vector<Oid> types;
};

std::string DoubleText(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "Infinity" : "-Infinity";
  }
  return absl::StrFormat("%.17g", value);
}

// Fills `out` from `params`. InvalidArgument for a string with a NUL byte.
absl::Status EncodeParams(const std::vector<SqlValue>& params, TextParams* out) {
  out->text.reserve(params.size());  // no reallocation: `values` points into the strings
  for (size_t i = 0; i < params.size(); ++i) {
    const SqlValue& param = params[i];
    if (const auto* n = std::get_if<int64_t>(&param)) {
      out->text.push_back(absl::StrCat(*n));
      out->types.push_back(kInt8Oid);
    } else if (const auto* d = std::get_if<double>(&param)) {
      out->text.push_back(DoubleText(*d));
      out->types.push_back(kFloat8Oid);
    } else if (const auto* s = std::get_if<std::string>(&param)) {
      if (s->find('\0') != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "parameter ", i + 1, " holds a NUL byte, which PostgreSQL text cannot store"));
      }
      out->text.push_back(*s);
      out->types.push_back(kTextOid);
    } else {
      out->text.emplace_back();
      out->types.push_back(0);
    }
  }
  for (size_t i = 0; i < params.size(); ++i) {
    const bool is_null = std::holds_alternative<std::monostate>(params[i]);
    out->values.push_back(is_null ? nullptr : out->text[i].c_str());
  }
  return absl::OkStatus();
}

// float8out/numeric_out text as a double. from_chars reads "NaN", "Infinity" and "-Infinity".
bool ParseDouble(const char* text, size_t size, double* out) {
  const auto [ptr, ec] = std::from_chars(text, text + size, *out);
  if (ec == std::errc::result_out_of_range && ptr == text + size) {
    // A numeric beyond double's range: strtod's overflow (+-HUGE_VAL) or underflow (0 or a
    // denormal) is the nearest double. PQgetvalue's text is NUL-terminated.
    *out = std::strtod(text, nullptr);
    return true;
  }
  return ec == std::errc() && ptr == text + size;
}

// Cell (row, column) of `result`, typed by `kind`.
absl::StatusOr<SqlValue> ReadCell(const PGresult* result, int row, int column, ColumnKind kind) {
  if (PQgetisnull(result, row, column) != 0) {
    return SqlValue();
  }
  const absl::string_view text(PQgetvalue(result, row, column),
                               static_cast<size_t>(PQgetlength(result, row, column)));
  switch (kind) {
    case ColumnKind::kBool:
      return SqlValue(int64_t{text == "t" ? 1 : 0});
    case ColumnKind::kInt: {
      int64_t n = 0;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec == std::errc() && ptr == text.data() + text.size()) {
        return SqlValue(n);
      }
      break;
    }
    case ColumnKind::kDouble: {
      double d = 0;
      if (ParseDouble(text.data(), text.size(), &d)) {
        return SqlValue(d);
      }
      break;
    }
    case ColumnKind::kText:
      return SqlValue(std::string(text));
  }
  return absl::InternalError(absl::StrCat("cannot read PostgreSQL value '", text, "' of column ",
                                          PQfname(result, column), " as a number"));
}

absl::StatusOr<SqlRows> ReadRows(const PGresult* result) {
  SqlRows rows;
  const int columns = PQnfields(result);
  const int count = PQntuples(result);
  rows.columns = static_cast<size_t>(columns);
  rows.cells.reserve(static_cast<size_t>(columns) * static_cast<size_t>(count));
  std::vector<ColumnKind> kinds;
  kinds.reserve(rows.columns);
  for (int c = 0; c < columns; ++c) {
    kinds.push_back(KindOf(PQftype(result, c)));
  }
  for (int r = 0; r < count; ++r) {
    for (int c = 0; c < columns; ++c) {
      CHURN_ASSIGN_OR_RETURN(SqlValue cell, ReadCell(result, r, c, kinds[c]));
      rows.cells.push_back(std::move(cell));
    }
  }
  return rows;
}

// The status code for a server error with SQLSTATE `state`.
absl::StatusCode CodeForSqlState(absl::string_view state) {
  if (state == "23505") {  // unique_violation (primary keys included)
    return absl::StatusCode::kAlreadyExists;
  }
  if (state == "23503") {  // foreign_key_violation
    return absl::StatusCode::kFailedPrecondition;
  }
  if (state == "40001" || state == "40P01" || state == "55P03") {  // serialisation, deadlock, lock
    return absl::StatusCode::kAborted;
  }
  // Class 08 is connection exceptions, except 08P01 (protocol_violation), which the server also
  // raises for a statement given the wrong number of parameters: a bug, not an outage.
  if ((absl::StartsWith(state, "08") && state != "08P01") || state == "57P01" || state == "57P02" ||
      state == "57P03") {  // admin/crash shutdown, cannot connect now
    return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kInternal;
}

// `text` on one line (runs of whitespace as one space), cut after `limit` characters. libpq's
// messages end in a newline and may span lines; statements are usually indented raw strings.
std::string OneLine(absl::string_view text, size_t limit = std::string::npos) {
  std::string out;
  bool space = false;
  for (const char c : absl::StripAsciiWhitespace(text)) {
    if (out.size() >= limit) {
      out.append("...");
      break;
    }
    const bool is_space = absl::ascii_isspace(static_cast<unsigned char>(c));
    if (!is_space || !space) {
      out.push_back(is_space ? ' ' : c);
    }
    space = is_space;
  }
  return out;
}

// The start of `sql`, for error messages.
std::string SqlExcerpt(absl::string_view sql) {
  return OneLine(sql, kSqlExcerpt);
}

// "postgresql://host:port/db" of `conn`, without the user or password.
std::string DescribeConn(const PGconn* conn) {
  return absl::StrCat("postgresql://", PQhost(conn), ":", PQport(conn), "/", PQdb(conn));
}

void ForwardNotice(void* /*arg*/, const char* message) {
  base::LogWarn(absl::StrCat("postgresql: ", OneLine(message)));
}

class PostgresDb : public SqlDb {
 public:
  explicit PostgresDb(Conn conn) : conn_(std::move(conn)) {}

  Dialect GetDialect() const override { return Dialect::kPostgres; }

  absl::StatusOr<SqlRows> Query(absl::string_view sql,
                                const std::vector<SqlValue>& params) override {
    CHURN_RETURN_IF_ERROR(EnsureConnected());
    TextParams text;
    CHURN_RETURN_IF_ERROR(EncodeParams(params, &text));
    const std::string numbered = NumberPlaceholders(sql);
    // The '?'s that NumberPlaceholders replaced are the placeholders. Checked here because the
    // server accepts surplus parameters when their types are given, as they are.
    const auto placeholders =
        static_cast<size_t>(std::count(sql.begin(), sql.end(), '?') -
                            std::count(numbered.begin(), numbered.end(), '?'));
    if (placeholders != params.size()) {
      return absl::InternalError(absl::StrCat(Describe(), ": statement takes ", placeholders,
                                              " parameters, ", params.size(),
                                              " given; in SQL: ", SqlExcerpt(sql)));
    }
    Result result(PQexecParams(conn_.get(), numbered.c_str(), static_cast<int>(params.size()),
                               text.types.data(), text.values.data(), nullptr, nullptr, 0));
    CHURN_RETURN_IF_ERROR(Check(result.get(), sql));
    return ReadRows(result.get());
  }

  absl::Status ExecScript(absl::string_view sql) override {
    CHURN_RETURN_IF_ERROR(EnsureConnected());
    const std::string script(sql);
    const Result result(PQexec(conn_.get(), script.c_str()));
    return Check(result.get(), sql);
  }

  absl::Status Begin() override { return Query("BEGIN", {}).status(); }

  absl::Status Commit() override {
    absl::StatusOr<std::string> tag = EndTransaction("COMMIT");
    if (tag.ok() && *tag == "ROLLBACK") {
      return absl::AbortedError(absl::StrCat(
          Describe(), ": COMMIT rolled the transaction back, as a statement in it had failed"));
    }
    return tag.status();
  }

  absl::Status Rollback() override { return EndTransaction("ROLLBACK").status(); }

  std::string Describe() const override { return DescribeConn(conn_.get()); }

  // Applies the session settings; after connecting and after each PQreset.
  absl::Status Configure() {
    PQsetNoticeProcessor(conn_.get(), ForwardNotice, nullptr);
    const Result result(PQexec(conn_.get(), "SET client_min_messages = warning"));
    return Check(result.get(), "SET client_min_messages = warning");
  }

 private:
  // Runs COMMIT or ROLLBACK and returns the server's command tag. A transaction whose connection
  // was lost is over either way, so it no longer blocks reconnecting.
  absl::StatusOr<std::string> EndTransaction(const char* sql) {
    CHURN_RETURN_IF_ERROR(EnsureConnected());
    const Result result(PQexec(conn_.get(), sql));
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      in_transaction_ = false;
    }
    CHURN_RETURN_IF_ERROR(Check(result.get(), sql));
    return std::string(PQcmdStatus(result.get()));
  }

  // OK when the connection is up, after one PQreset if it was lost outside a transaction.
  absl::Status EnsureConnected() {
    if (PQstatus(conn_.get()) == CONNECTION_OK) {
      return absl::OkStatus();
    }
    if (in_transaction_) {
      in_transaction_ = false;  // the server has rolled it back; the next statement reconnects
      return absl::UnavailableError(
          absl::StrCat(Describe(), ": connection lost inside a transaction"));
    }
    PQreset(conn_.get());
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      return absl::UnavailableError(
          absl::StrCat(Describe(), ": reconnect failed: ", OneLine(PQerrorMessage(conn_.get()))));
    }
    return Configure();
  }

  // OK for a successful `result` of `sql`, else the mapped error. Also tracks the transaction.
  absl::Status Check(const PGresult* result, absl::string_view sql) {
    const bool connected = PQstatus(conn_.get()) == CONNECTION_OK;
    if (connected) {
      in_transaction_ = PQtransactionStatus(conn_.get()) != PQTRANS_IDLE;
    }
    const ExecStatusType status = PQresultStatus(result);  // PGRES_FATAL_ERROR for nullptr
    if (result != nullptr &&
        (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY)) {
      return absl::OkStatus();
    }
    if (result != nullptr && status != PGRES_FATAL_ERROR && status != PGRES_NONFATAL_ERROR) {
      return absl::InternalError(absl::StrCat(Describe(), ": unexpected result ",
                                              PQresStatus(status), " for ", SqlExcerpt(sql)));
    }
    const auto field = [result](int code) {
      return result == nullptr ? nullptr : PQresultErrorField(result, code);
    };
    const char* state = field(PG_DIAG_SQLSTATE);
    const char* primary = field(PG_DIAG_MESSAGE_PRIMARY);
    std::string message = OneLine(primary != nullptr ? primary : PQerrorMessage(conn_.get()));
    if (const char* detail = field(PG_DIAG_MESSAGE_DETAIL); detail != nullptr) {
      absl::StrAppend(&message, " (", OneLine(detail), ")");
    }
    // A lost connection has no SQLSTATE (libpq's own error) or a class 08/57P0x one.
    absl::StatusCode code = state != nullptr ? CodeForSqlState(state) : absl::StatusCode::kInternal;
    if (!connected) {
      code = absl::StatusCode::kUnavailable;
    }
    if (code == absl::StatusCode::kInternal) {
      absl::StrAppend(&message, "; in SQL: ", SqlExcerpt(sql));
    }
    return {code, absl::StrCat(Describe(), ": ", message)};
  }

  Conn conn_;
  bool in_transaction_ = false;  // as of the last statement on a live connection
};

// `message` on one line with the password of `url` (user:password@...) masked, should libpq
// quote it.
std::string WithoutPassword(absl::string_view message, absl::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == absl::string_view::npos) {
    return OneLine(message);
  }
  absl::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?"));
  const size_t at = rest.rfind('@');
  if (at == absl::string_view::npos) {
    return OneLine(message);
  }
  const absl::string_view userinfo = rest.substr(0, at);
  const size_t colon = userinfo.find(':');
  if (colon == absl::string_view::npos || colon + 1 == userinfo.size()) {
    return OneLine(message);
  }
  return absl::StrReplaceAll(OneLine(message), {{userinfo.substr(colon + 1), "***"}});
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqlDb>> OpenPostgresDb(const std::string& url) {
  char* parse_error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &parse_error);
  if (options == nullptr) {
    const std::string why = parse_error != nullptr ? parse_error : "out of memory";
    PQfreemem(parse_error);
    return absl::InvalidArgumentError(
        absl::StrCat("invalid PostgreSQL URL: ", WithoutPassword(why, url)));
  }
  PQconninfoFree(options);
  // Keywords before "dbname" are defaults the URL can override; an unreachable host should not
  // hang a CLI command forever.
  const char* const keywords[] = {"connect_timeout", "fallback_application_name", "dbname",
                                  nullptr};
  const char* const values[] = {"10", "churn", url.c_str(), nullptr};
  Conn conn(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (conn == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate a PostgreSQL connection");
  }
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", DescribeConn(conn.get()), ": ",
                                               WithoutPassword(PQerrorMessage(conn.get()), url)));
  }
  auto db = std::make_unique<PostgresDb>(std::move(conn));
  CHURN_RETURN_IF_ERROR(db->Configure());
  return db;
}

}  // namespace churn::registry::internal
