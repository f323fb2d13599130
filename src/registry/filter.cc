#include "registry/filter.h"

#include <cctype>
#include <cmath>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"

namespace churn::registry::internal {
namespace {

constexpr size_t kMaxFilterLength = 16384;
constexpr size_t kMaxClauses = 200;

enum class TokenKind { kWord, kQuotedIdent, kString, kNumber, kOp, kLParen, kRParen, kComma, kEnd };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;  // words as written, strings and idents unquoted
  size_t pos = 0;
};

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-' ||
         c == ':' || c == '/';
}

// Splits a filter into tokens. A word ending in '.' directly followed by a quote is one
// identifier: metrics.`my metric`, tags."a b".
class Lexer {
 public:
  explicit Lexer(absl::string_view text) : text_(text) {}

  absl::StatusOr<std::vector<Token>> Run() {
    std::vector<Token> tokens;
    while (true) {
      while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_])) != 0) {
        ++pos_;
      }
      if (pos_ == text_.size()) {
        tokens.push_back({TokenKind::kEnd, "", pos_});
        return tokens;
      }
      CHURN_ASSIGN_OR_RETURN(Token token, Next());
      tokens.push_back(std::move(token));
    }
  }

 private:
  absl::StatusOr<Token> Next() {
    const size_t start = pos_;
    const char c = text_[pos_];
    if (c == '\'' || c == '"' || c == '`') {
      CHURN_ASSIGN_OR_RETURN(std::string s, Quoted(c));
      return Token{c == '\''  ? TokenKind::kString
                   : c == '`' ? TokenKind::kQuotedIdent
                              : TokenKind::kString,
                   std::move(s), start};
    }
    if (c == '(' || c == ')' || c == ',') {
      ++pos_;
      return Token{c == '('   ? TokenKind::kLParen
                   : c == ')' ? TokenKind::kRParen
                              : TokenKind::kComma,
                   std::string(1, c), start};
    }
    if (c == '=' || c == '!' || c == '<' || c == '>') {
      return Operator();
    }
    if (StartsNumber()) {
      return Number();
    }
    if (IsWordChar(c)) {
      return Word();
    }
    return Error(start, absl::StrCat("unexpected character '", std::string(1, c), "'"));
  }

  // A digit, or a sign or '.' followed by a digit or '.'.
  bool StartsNumber() const {
    const auto digit = [this](size_t i) {
      return i < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i])) != 0;
    };
    const char c = text_[pos_];
    return digit(pos_) ||
           ((c == '-' || c == '+' || c == '.') &&
            (digit(pos_ + 1) || (pos_ + 1 < text_.size() && text_[pos_ + 1] == '.')));
  }

  // A bare word; "entity." directly followed by a quoted key is one identifier.
  absl::StatusOr<Token> Word() {
    const size_t start = pos_;
    while (pos_ < text_.size() && IsWordChar(text_[pos_])) {
      ++pos_;
    }
    std::string word(text_.substr(start, pos_ - start));
    if (word.back() == '.' && pos_ < text_.size() && (text_[pos_] == '`' || text_[pos_] == '"')) {
      CHURN_ASSIGN_OR_RETURN(const std::string key, Quoted(text_[pos_]));
      return Token{TokenKind::kQuotedIdent, word + key, start};
    }
    return Token{TokenKind::kWord, std::move(word), start};
  }

  absl::StatusOr<std::string> Quoted(char quote) {
    const size_t start = pos_++;
    std::string out;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '\\' && pos_ < text_.size()) {
        out.push_back(text_[pos_++]);
      } else if (c == quote) {
        if (pos_ < text_.size() && text_[pos_] == quote) {  // '' inside '...'
          out.push_back(quote);
          ++pos_;
        } else {
          return out;
        }
      } else {
        out.push_back(c);
      }
    }
    return Error(start, "unterminated quoted string");
  }

  absl::StatusOr<Token> Operator() {
    const size_t start = pos_;
    static constexpr absl::string_view kOps[] = {"!=", "<>", "<=", ">=", "=", "<", ">"};
    for (absl::string_view op : kOps) {
      if (text_.substr(pos_, op.size()) == op) {
        pos_ += op.size();
        return Token{TokenKind::kOp, std::string(op == "<>" ? "!=" : op), start};
      }
    }
    return Error(start, "'!' must be followed by '='");
  }

  absl::StatusOr<Token> Number() {
    const size_t start = pos_++;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) != 0 || text_[pos_] == '.' ||
            ((text_[pos_] == '-' || text_[pos_] == '+') &&
             (text_[pos_ - 1] == 'e' || text_[pos_ - 1] == 'E')))) {
      ++pos_;
    }
    std::string text(text_.substr(start, pos_ - start));
    double value = 0;
    if (!absl::SimpleAtod(text, &value) || !std::isfinite(value)) {
      return Error(start, absl::StrCat("'", text, "' is not a number"));
    }
    return Token{TokenKind::kNumber, std::move(text), start};
  }

  absl::Status Error(size_t pos, absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid filter at character ", pos + 1, ": ", what));
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

bool IsKeyword(const Token& t, absl::string_view keyword) {
  return t.kind == TokenKind::kWord && absl::EqualsIgnoreCase(t.text, keyword);
}

absl::StatusOr<std::pair<Entity, std::string>> SplitIdentifier(const Token& t) {
  if (t.kind != TokenKind::kWord && t.kind != TokenKind::kQuotedIdent) {
    return absl::InvalidArgumentError(absl::StrCat("invalid filter at character ", t.pos + 1,
                                                   ": expected an identifier, got '", t.text, "'"));
  }
  const size_t dot = t.text.find('.');
  if (dot == std::string::npos) {
    return std::make_pair(Entity::kAttribute, t.text);
  }
  const std::string prefix = absl::AsciiStrToLower(t.text.substr(0, dot));
  std::string key = t.text.substr(dot + 1);
  if (key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid filter at character ", t.pos + 1, ": '", t.text, "' has no key"));
  }
  if (prefix == "metric" || prefix == "metrics") {
    return std::make_pair(Entity::kMetric, std::move(key));
  }
  if (prefix == "param" || prefix == "params" || prefix == "parameter" || prefix == "parameters") {
    return std::make_pair(Entity::kParam, std::move(key));
  }
  if (prefix == "tag" || prefix == "tags") {
    return std::make_pair(Entity::kTag, std::move(key));
  }
  if (prefix == "attribute" || prefix == "attributes" || prefix == "attr" || prefix == "run") {
    return std::make_pair(Entity::kAttribute, std::move(key));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid filter at character ", t.pos + 1, ": unknown entity type '", prefix,
                   "' (expected metrics, params, tags or attributes)"));
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  absl::StatusOr<std::vector<Clause>> Filter() {
    std::vector<Clause> clauses;
    if (Peek().kind == TokenKind::kEnd) {
      return clauses;
    }
    while (true) {
      CHURN_ASSIGN_OR_RETURN(Clause clause, ParseClause());
      clauses.push_back(std::move(clause));
      if (clauses.size() > kMaxClauses) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid filter: more than ", kMaxClauses, " clauses"));
      }
      const Token& t = Take();
      if (t.kind == TokenKind::kEnd) {
        return clauses;
      }
      if (IsKeyword(t, "or")) {
        return Error(t, "OR is not supported (join clauses with AND)");
      }
      if (!IsKeyword(t, "and")) {
        return Error(t, absl::StrCat("expected AND or the end, got '", t.text, "'"));
      }
    }
  }

 private:
  const Token& Peek() const { return tokens_[next_]; }

  const Token& Take() {
    const Token& t = tokens_[next_];
    if (t.kind != TokenKind::kEnd) {
      ++next_;
    }
    return t;
  }

  static absl::Status Error(const Token& t, absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid filter at character ", t.pos + 1, ": ", what));
  }

  absl::StatusOr<FilterValue> Value() {
    const Token& t = Take();
    if (t.kind == TokenKind::kString) {
      return FilterValue(t.text);
    }
    if (t.kind == TokenKind::kNumber) {
      double v = 0;
      (void)absl::SimpleAtod(t.text, &v);
      return FilterValue(v);
    }
    return Error(t, absl::StrCat("expected a quoted string or a number, got '",
                                 t.kind == TokenKind::kEnd ? "the end" : t.text, "'"));
  }

  absl::StatusOr<Clause> ParseClause() {
    Clause clause;
    const Token& ident = Take();
    CHURN_ASSIGN_OR_RETURN(std::tie(clause.entity, clause.key), SplitIdentifier(ident));
    const Token& op = Take();
    if (op.kind == TokenKind::kOp) {
      static const std::pair<const char*, Op> kOps[] = {{"=", Op::kEq}, {"!=", Op::kNe},
                                                        {"<", Op::kLt}, {"<=", Op::kLe},
                                                        {">", Op::kGt}, {">=", Op::kGe}};
      for (const auto& [text, value] : kOps) {
        if (op.text == text) {
          clause.op = value;
        }
      }
    } else if (IsKeyword(op, "like") || IsKeyword(op, "ilike")) {
      clause.op = IsKeyword(op, "like") ? Op::kLike : Op::kILike;
    } else if (IsKeyword(op, "is")) {
      clause.op = Op::kIsNull;
      if (IsKeyword(Peek(), "not")) {
        Take();
        clause.op = Op::kIsNotNull;
      }
      const Token& null = Take();
      if (!IsKeyword(null, "null")) {
        return Error(null, "expected NULL after IS [NOT]");
      }
      return clause;
    } else if (IsKeyword(op, "in") || (IsKeyword(op, "not") && IsKeyword(Peek(), "in"))) {
      if (IsKeyword(op, "not")) {
        Take();
      }
      clause.op = IsKeyword(op, "in") ? Op::kIn : Op::kNotIn;
      return InList(std::move(clause));
    } else {
      return Error(op, absl::StrCat("expected a comparison after '", ident.text, "', got '",
                                    op.kind == TokenKind::kEnd ? "the end" : op.text, "'"));
    }
    CHURN_ASSIGN_OR_RETURN(FilterValue value, Value());
    clause.values.push_back(std::move(value));
    return clause;
  }

  absl::StatusOr<Clause> InList(Clause clause) {
    const Token& open = Take();
    if (open.kind != TokenKind::kLParen) {
      return Error(open, "expected '(' after IN");
    }
    while (true) {
      CHURN_ASSIGN_OR_RETURN(FilterValue value, Value());
      clause.values.push_back(std::move(value));
      const Token& t = Take();
      if (t.kind == TokenKind::kRParen) {
        return clause;
      }
      if (t.kind != TokenKind::kComma) {
        return Error(t, "expected ',' or ')' in the IN list");
      }
    }
  }

  std::vector<Token> tokens_;
  size_t next_ = 0;
};

const char* SqlOp(Op op) {
  switch (op) {
    case Op::kEq:
      return "=";
    case Op::kNe:
      return "!=";
    case Op::kLt:
      return "<";
    case Op::kLe:
      return "<=";
    case Op::kGt:
      return ">";
    case Op::kGe:
      return ">=";
    case Op::kLike:
      return "LIKE";
    default:
      return "";
  }
}

const char* OpName(Op op) {
  switch (op) {
    case Op::kILike:
      return "ILIKE";
    case Op::kIn:
      return "IN";
    case Op::kNotIn:
      return "NOT IN";
    case Op::kIsNull:
      return "IS NULL";
    case Op::kIsNotNull:
      return "IS NOT NULL";
    default:
      return SqlOp(op);
  }
}

bool IsNumericOp(Op op) {
  return op == Op::kEq || op == Op::kNe || op == Op::kLt || op == Op::kLe || op == Op::kGt ||
         op == Op::kGe;
}

SqlValue Bound(const FilterValue& v, bool numeric) {
  if (const auto* d = std::get_if<double>(&v)) {
    if (numeric && std::floor(*d) == *d && std::fabs(*d) < 9e15) {
      return static_cast<int64_t>(*d);
    }
    return *d;
  }
  return std::get<std::string>(v);
}

// `lhs op value(s)` for a column or subquery value of the given type.
absl::StatusOr<SqlFragment> Comparison(const std::string& lhs, const Clause& c, bool numeric,
                                       absl::string_view what) {
  SqlFragment out;
  for (const FilterValue& v : c.values) {
    if (std::holds_alternative<double>(v) != numeric) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid filter: ", what, " '", c.key, "' compares ",
          numeric ? "numbers, got a string" : "strings, got a number (quote the value)"));
    }
    out.params.push_back(Bound(v, numeric));
  }
  if (numeric && !IsNumericOp(c.op) && c.op != Op::kIsNull && c.op != Op::kIsNotNull) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid filter: ", OpName(c.op), " does not apply to numeric ", what, " '", c.key, "'"));
  }
  switch (c.op) {
    case Op::kILike:
      out.sql = absl::StrCat("LOWER(", lhs, ") LIKE LOWER(?)");
      break;
    case Op::kIn:
    case Op::kNotIn: {
      std::vector<std::string> marks(c.values.size(), "?");
      out.sql = absl::StrCat(lhs, c.op == Op::kIn ? " IN (" : " NOT IN (",
                             absl::StrJoin(marks, ", "), ")");
      break;
    }
    case Op::kIsNull:
    case Op::kIsNotNull:
      out.sql = absl::StrCat(lhs, c.op == Op::kIsNull ? " IS NULL" : " IS NOT NULL");
      break;
    default:
      out.sql = absl::StrCat(lhs, " ", SqlOp(c.op), " ?");
  }
  return out;
}

absl::StatusOr<const AttributeColumn*> FindAttribute(const SearchSpec& spec,
                                                     const std::string& key) {
  for (const AttributeColumn& a : spec.attributes) {
    if (key == a.name) {
      return &a;
    }
  }
  std::vector<std::string> names;
  for (const AttributeColumn& a : spec.attributes) {
    names.emplace_back(a.name);
  }
  return absl::InvalidArgumentError(absl::StrCat("invalid attribute key '", key, "' for ",
                                                 spec.what, ": expected one of ",
                                                 absl::StrJoin(names, ", ")));
}

absl::StatusOr<const char*> EntitySource(const SearchSpec& spec, Entity entity) {
  const char* source = entity == Entity::kMetric  ? spec.metrics
                       : entity == Entity::kParam ? spec.params
                                                  : spec.tags;
  if (source == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("invalid filter: ", spec.what,
                                                   " cannot be searched by ",
                                                   entity == Entity::kMetric  ? "metrics"
                                                   : entity == Entity::kParam ? "params"
                                                                              : "tags"));
  }
  return source;
}

absl::StatusOr<SqlFragment> CompileClause(const Clause& c, const SearchSpec& spec) {
  if (c.entity == Entity::kAttribute) {
    CHURN_ASSIGN_OR_RETURN(const AttributeColumn* a, FindAttribute(spec, c.key));
    return Comparison(a->column, c, a->numeric, "attribute");
  }
  CHURN_ASSIGN_OR_RETURN(const char* source, EntitySource(spec, c.entity));
  const bool metric = c.entity == Entity::kMetric;
  const char* what = metric ? "metric" : c.entity == Entity::kParam ? "param" : "tag";
  // "latest_metrics x WHERE x.run_uuid = r.run_uuid" -> "latest_metrics x".
  const absl::string_view source_view(source);
  const absl::string_view table = source_view.substr(0, source_view.find(" WHERE "));
  const std::string head =
      absl::StrCat(spec.outer_key, c.op == Op::kIsNull ? " NOT IN" : " IN", " (SELECT ",
                   spec.inner_key, " FROM ", table, " WHERE x.key = ?");
  SqlFragment out;
  out.params.emplace_back(c.key);
  if (c.op == Op::kIsNull || c.op == Op::kIsNotNull) {
    out.sql = head + ")";
    return out;
  }
  CHURN_ASSIGN_OR_RETURN(SqlFragment cmp, Comparison("x.value", c, metric, what));
  out.sql = absl::StrCat(head, metric ? " AND x.is_nan = 0" : "", " AND ", cmp.sql, ")");
  out.params.insert(out.params.end(), cmp.params.begin(), cmp.params.end());
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Clause>> ParseFilter(absl::string_view filter) {
  if (filter.size() > kMaxFilterLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid filter: longer than ", kMaxFilterLength, " characters"));
  }
  CHURN_ASSIGN_OR_RETURN(std::vector<Token> tokens, Lexer(filter).Run());
  return Parser(std::move(tokens)).Filter();
}

absl::StatusOr<OrderBy> ParseOrderBy(absl::string_view text) {
  CHURN_ASSIGN_OR_RETURN(std::vector<Token> tokens, Lexer(text).Run());
  OrderBy order;
  if (tokens.size() < 2) {
    return absl::InvalidArgumentError("invalid order_by: empty");
  }
  CHURN_ASSIGN_OR_RETURN(std::tie(order.entity, order.key), SplitIdentifier(tokens[0]));
  size_t next = 1;
  if (IsKeyword(tokens[next], "asc") || IsKeyword(tokens[next], "desc")) {
    order.ascending = IsKeyword(tokens[next], "asc");
    ++next;
  }
  if (tokens[next].kind != TokenKind::kEnd) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid order_by '", text, "': expected 'key [ASC|DESC]'"));
  }
  return order;
}

absl::StatusOr<SqlFragment> CompileFilter(const std::vector<Clause>& clauses,
                                          const SearchSpec& spec) {
  SqlFragment out;
  for (const Clause& c : clauses) {
    CHURN_ASSIGN_OR_RETURN(SqlFragment part, CompileClause(c, spec));
    absl::StrAppend(&out.sql, " AND (", part.sql, ")");
    out.params.insert(out.params.end(), part.params.begin(), part.params.end());
  }
  return out;
}

absl::StatusOr<SqlFragment> CompileOrderBy(const std::vector<OrderBy>& orders,
                                           const SearchSpec& spec) {
  SqlFragment out;
  for (const OrderBy& o : orders) {
    std::string expr;
    std::vector<SqlValue> params;
    if (o.entity == Entity::kAttribute) {
      CHURN_ASSIGN_OR_RETURN(const AttributeColumn* a, FindAttribute(spec, o.key));
      expr = a->column;
    } else {
      CHURN_ASSIGN_OR_RETURN(const char* source, EntitySource(spec, o.entity));
      expr = absl::StrCat("(SELECT x.value FROM ", source, " AND x.key = ?",
                          o.entity == Entity::kMetric ? " AND x.is_nan = 0" : "", ")");
      params.emplace_back(o.key);
    }
    absl::StrAppend(&out.sql, expr, " IS NULL, ", expr, o.ascending ? " ASC, " : " DESC, ");
    for (int twice = 0; twice < 2; ++twice) {
      out.params.insert(out.params.end(), params.begin(), params.end());
    }
  }
  return out;
}

std::string EncodePageToken(int64_t offset) {
  return absl::Base64Escape(nlohmann::json({{"offset", offset}}).dump());
}

absl::StatusOr<int64_t> DecodePageToken(absl::string_view token) {
  if (token.empty()) {
    return 0;
  }
  std::string decoded;
  const auto invalid = [&token] {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid page token '", token.substr(0, 64), "'"));
  };
  if (!absl::Base64Unescape(token, &decoded)) {
    return invalid();
  }
  const auto json = nlohmann::json::parse(decoded, nullptr, false);
  // Offsets beyond 10^15 are no page of any real search and would overflow offset + limit.
  if (!json.is_object() || !json.contains("offset") || !json["offset"].is_number_integer() ||
      json["offset"].get<int64_t>() < 0 || json["offset"].get<int64_t>() > 1000000000000000) {
    return invalid();
  }
  return json["offset"].get<int64_t>();
}

}  // namespace churn::registry::internal
