// The tracking half of SqlRegistry (experiments, runs, metrics, artifacts, retention) and
// OpenRegistry. The design note is in sql_registry.h.
#include "registry/sql_registry.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "registry/migrations.h"
#include <sys/random.h>

#include "churn/base/sha256.h"
#include "churn/base/status_macros.h"

namespace churn::registry::internal {
namespace {

constexpr int kTxAttempts = 5;
constexpr size_t kRowsPerInsert = 64;
constexpr char kRunColumns[] =
    "r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, "
    "r.artifact_uri, r.lifecycle_stage, r.dataset_snapshot";
constexpr char kExperimentColumns[] =
    "e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, "
    "e.last_update_time";

// 128 random bits from the kernel on every call: a user-space generator seeded once would repeat
// its ids in every child of a process that forks after creating a run.
std::string NewRunId() {
  std::array<uint64_t, 2> bits{};
  size_t got = 0;
  while (got < sizeof(bits)) {
    const ssize_t n = getrandom(reinterpret_cast<char*>(bits.data()) + got, sizeof(bits) - got, 0);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (errno != EINTR) {
      std::abort();  // no kernel randomness (pre-3.17 kernel): nothing sane to fall back to
    }
  }
  return absl::StrFormat("%016x%016x", bits[0], bits[1]);
}

absl::StatusOr<int64_t> ParseExperimentId(absl::string_view id) {
  int64_t out = 0;
  if (!absl::SimpleAtoi(id, &out) || out < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("experiment id '", id.substr(0, 64), "' is not a non-negative integer"));
  }
  return out;
}

RunInfo ReadRunInfo(const SqlRows& rows, size_t r) {
  RunInfo info;
  info.run_id = rows.Text(r, 0);
  info.run_name = rows.Text(r, 1);
  info.experiment_id = rows.Text(r, 2);
  info.user_id = rows.Text(r, 3);
  info.status = RunStatusFromString(rows.Text(r, 4)).value_or(RunStatus::kRunning);
  info.start_time = rows.Int(r, 5);
  if (!rows.IsNull(r, 6)) {
    info.end_time = rows.Int(r, 6);
  }
  info.artifact_uri = rows.Text(r, 7);
  info.lifecycle_stage =
      LifecycleStageFromString(rows.Text(r, 8)).value_or(LifecycleStage::kActive);
  info.dataset_snapshot = rows.Text(r, 9);
  return info;
}

// The lifecycle filter of a search on `alias` ("r" or "e").
std::string StageCondition(ViewType view, absl::string_view alias) {
  switch (view) {
    case ViewType::kActiveOnly:
      return absl::StrCat(alias, ".lifecycle_stage = 'active'");
    case ViewType::kDeletedOnly:
      return absl::StrCat(alias, ".lifecycle_stage = 'deleted'");
    default:
      return "1 = 1";
  }
}

const SearchSpec& RunSpec() {
  static const auto* const kSpec =
      new SearchSpec{"runs",
                     {{"run_id", "r.run_uuid", false},
                      {"run_name", "r.name", false},
                      {"status", "r.status", false},
                      {"user_id", "r.user_id", false},
                      {"start_time", "r.start_time", true},
                      {"end_time", "r.end_time", true},
                      {"artifact_uri", "r.artifact_uri", false},
                      {"lifecycle_stage", "r.lifecycle_stage", false},
                      {"dataset_snapshot", "r.dataset_snapshot", false}},
                     "latest_metrics x WHERE x.run_uuid = r.run_uuid",
                     "params x WHERE x.run_uuid = r.run_uuid",
                     "tags x WHERE x.run_uuid = r.run_uuid",
                     "r.run_uuid",
                     "x.run_uuid"};
  return *kSpec;
}

const SearchSpec& ExperimentSpec() {
  static const auto* const kSpec =
      new SearchSpec{"experiments",
                     {{"name", "e.name", false},
                      {"experiment_id", "e.experiment_id", true},
                      {"creation_time", "e.creation_time", true},
                      {"last_update_time", "e.last_update_time", true}},
                     nullptr,
                     nullptr,
                     "experiment_tags x WHERE x.experiment_id = e.experiment_id",
                     "e.experiment_id",
                     "x.experiment_id"};
  return *kSpec;
}

// MLflow's rule for which value of a metric is the latest one.
bool IsLater(const Metric& a, const Metric& b) {
  if (a.step != b.step) {
    return a.step > b.step;
  }
  if (a.timestamp != b.timestamp) {
    return a.timestamp > b.timestamp;
  }
  return a.value > b.value;
}

// Value and is_nan as stored.
std::pair<double, int64_t> Stored(double v) {
  return std::isnan(v) ? std::make_pair(0.0, int64_t{1}) : std::make_pair(v, int64_t{0});
}

// "?, ?, ..." with `n` marks, padded to the next power of two so that statements repeat.
size_t PaddedCount(size_t n) {
  size_t p = 1;
  while (p < n) {
    p <<= 1;
  }
  return p;
}

}  // namespace

// --- Validation ---------------------------------------------------------------------------

absl::Status ValidateKey(absl::string_view key, absl::string_view what) {
  if (key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " key must not be empty"));
  }
  if (key.size() > kMaxKeyLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " key '", key.substr(0, 40), "...' is longer than ", kMaxKeyLength, " characters"));
  }
  for (const char c : key) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
          c == ' ' || c == '/')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid ", what, " key '", key,
          "': names may only contain alphanumerics, underscores (_), dashes (-), periods (.), "
          "spaces ( ), and slashes (/)"));
    }
  }
  if (key == "." || key == ".." || absl::StartsWith(key, "/") || absl::StrContains(key, "../") ||
      absl::EndsWith(key, "/..")) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", what, " key '", key, "': it would name a path outside the run"));
  }
  return absl::OkStatus();
}

absl::Status ValidateName(absl::string_view name, absl::string_view what) {
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " name must not be empty"));
  }
  if (name.size() > 500) {
    return absl::InvalidArgumentError(absl::StrCat(what, " name is longer than 500 characters"));
  }
  if (name.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, " name contains a NUL byte"));
  }
  return absl::OkStatus();
}

absl::Status ValidateTag(const Tag& tag) {
  CHURN_RETURN_IF_ERROR(ValidateKey(tag.key, "tag"));
  if (tag.value.size() > kMaxTagValueLength) {
    return absl::InvalidArgumentError(absl::StrCat("tag '", tag.key, "' value is longer than ",
                                                   kMaxTagValueLength, " characters"));
  }
  return absl::OkStatus();
}

absl::Status ValidateAlias(absl::string_view alias) {
  if (alias.empty() || alias.size() > 255) {
    return absl::InvalidArgumentError("alias must be 1 to 255 characters long");
  }
  for (const char c : alias) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid alias '", alias, "': only alphanumerics, underscores and dashes are allowed"));
    }
  }
  const std::string lower = absl::AsciiStrToLower(alias);
  const bool version_like = lower.size() > 1 && lower[0] == 'v' &&
                            std::all_of(lower.begin() + 1, lower.end(), absl::ascii_isdigit);
  if (lower == "latest" || version_like) {
    return absl::InvalidArgumentError(absl::StrCat(
        "alias '", alias, "' is reserved ('latest' and 'v<number>' name versions already)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ParsedSearch> ParseSearch(const SearchQuery& query, const SearchSpec& spec) {
  ParsedSearch out;
  CHURN_ASSIGN_OR_RETURN(out.limit, ParseMaxResults(query.max_results));
  CHURN_ASSIGN_OR_RETURN(out.offset, DecodePageToken(query.page_token));
  CHURN_ASSIGN_OR_RETURN(const std::vector<Clause> clauses, ParseFilter(query.filter));
  CHURN_ASSIGN_OR_RETURN(out.where, CompileFilter(clauses, spec));
  std::vector<OrderBy> orders;
  orders.reserve(query.order_by.size());
  for (const std::string& o : query.order_by) {
    CHURN_ASSIGN_OR_RETURN(OrderBy order, ParseOrderBy(o));
    orders.push_back(std::move(order));
  }
  CHURN_ASSIGN_OR_RETURN(out.order, CompileOrderBy(orders, spec));
  return out;
}

absl::StatusOr<int64_t> ParseMaxResults(int64_t max_results) {
  if (max_results <= 0 || max_results > kMaxSearchResults) {
    return absl::InvalidArgumentError(absl::StrCat("invalid value ", max_results,
                                                   " for max_results: it must be at most ",
                                                   kMaxSearchResults, " and positive"));
  }
  return max_results;
}

// --- Plumbing -----------------------------------------------------------------------------

SqlRegistry::SqlRegistry(std::unique_ptr<SqlDb> db, std::unique_ptr<ArtifactStore> artifacts,
                         base::Clock* clock)
    : db_(std::move(db)), artifacts_(std::move(artifacts)), clock_(clock) {
  absl::MutexLock lock(&mu_);
  describe_ = db_->Describe();
}

std::string SqlRegistry::Describe() const {
  return describe_;
}

int64_t SqlRegistry::NowMs() const {
  return absl::ToUnixMillis(clock_->Now());
}

absl::StatusOr<SqlRows> SqlRegistry::Q(absl::string_view sql, const std::vector<SqlValue>& params) {
  return db_->Query(sql, params);
}

absl::Status SqlRegistry::Tx(const std::function<absl::Status()>& body) {
  absl::Status status;
  for (int attempt = 0; attempt < kTxAttempts; ++attempt) {
    status = db_->Begin();
    if (status.ok()) {
      status = body();
      if (status.ok()) {
        status = db_->Commit();
        if (status.ok()) {
          return status;
        }
      }
      (void)db_->Rollback();
    }
    if (!absl::IsAborted(status)) {
      return status;
    }
  }
  return absl::UnavailableError(absl::StrCat(describe_, ": gave up after ", kTxAttempts,
                                             " conflicting attempts: ", status.message()));
}

absl::StatusOr<int64_t> SqlRegistry::SchemaVersion() {
  absl::MutexLock lock(&mu_);
  return AppliedVersion(*db_);
}

absl::Status SqlRegistry::InsertRows(absl::string_view head, absl::string_view tail, size_t width,
                                     const std::vector<SqlValue>& values) {
  const size_t rows = values.size() / width;
  std::string row = "(";
  for (size_t i = 0; i < width; ++i) {
    absl::StrAppend(&row, i == 0 ? "?" : ", ?");
  }
  row += ")";
  size_t done = 0;
  while (done < rows) {
    // Chunks of 64, 32, ..., 1 rows: a handful of round trips for any count, and at most seven
    // statement texts per table for the statement caches.
    size_t n = kRowsPerInsert;
    while (n > rows - done) {
      n >>= 1;
    }
    std::vector<std::string> marks(n, row);
    const std::string sql = absl::StrCat(head, " VALUES ", absl::StrJoin(marks, ", "), tail);
    const std::vector<SqlValue> chunk(values.begin() + static_cast<ptrdiff_t>(done * width),
                                      values.begin() + static_cast<ptrdiff_t>((done + n) * width));
    CHURN_RETURN_IF_ERROR(Q(sql, chunk).status());
    done += n;
  }
  return absl::OkStatus();
}

// --- Experiments --------------------------------------------------------------------------

absl::StatusOr<std::string> SqlRegistry::CreateExperiment(absl::string_view name,
                                                          absl::string_view artifact_location,
                                                          const std::vector<Tag>& tags) {
  CHURN_RETURN_IF_ERROR(ValidateName(name, "experiment"));
  for (const Tag& t : tags) {
    CHURN_RETURN_IF_ERROR(ValidateTag(t));
  }
  absl::MutexLock lock(&mu_);
  const int64_t now = NowMs();
  int64_t id = 0;
  absl::Status status = Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    CHURN_ASSIGN_OR_RETURN(
        const SqlRows rows,
        Q("INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, "
          "last_update_time) VALUES (?, ?, 'active', ?, ?) RETURNING experiment_id",
          {std::string(name), std::string(artifact_location), now, now}));
    id = rows.Int(0, 0);
    if (artifact_location.empty()) {
      CHURN_RETURN_IF_ERROR(
          Q("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
            {absl::StrCat("mlflow-artifacts:/", id), id})
              .status());
    }
    std::vector<SqlValue> values;
    for (const Tag& t : tags) {
      values.insert(values.end(), {id, t.key, t.value});
    }
    return InsertRows("INSERT INTO experiment_tags (experiment_id, key, value)", "", 3, values);
  });
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(absl::StrCat("Experiment(name=", name, ") already exists."));
  }
  CHURN_RETURN_IF_ERROR(status);
  return absl::StrCat(id);
}

absl::StatusOr<Experiment> SqlRegistry::ExperimentWhere(absl::string_view where,
                                                        const SqlValue& key) {
  CHURN_ASSIGN_OR_RETURN(
      const SqlRows rows,
      Q(absl::StrCat("SELECT ", kExperimentColumns, " FROM experiments e WHERE ", where), {key}));
  if (rows.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "No Experiment with ", where == "e.name = ?" ? "name" : "id", "=",
        std::holds_alternative<std::string>(key) ? std::get<std::string>(key)
                                                 : absl::StrCat(std::get<int64_t>(key)),
        " exists"));
  }
  Experiment e;
  e.experiment_id = rows.Text(0, 0);
  e.name = rows.Text(0, 1);
  e.artifact_location = rows.Text(0, 2);
  e.lifecycle_stage = LifecycleStageFromString(rows.Text(0, 3)).value_or(LifecycleStage::kActive);
  e.creation_time = rows.Int(0, 4);
  e.last_update_time = rows.Int(0, 5);
  CHURN_ASSIGN_OR_RETURN(
      const SqlRows tags,
      Q("SELECT key, value FROM experiment_tags WHERE experiment_id = ? ORDER BY key",
        {rows.Int(0, 0)}));
  for (size_t i = 0; i < tags.size(); ++i) {
    e.tags.push_back({tags.Text(i, 0), tags.Text(i, 1)});
  }
  return e;
}

absl::StatusOr<Experiment> SqlRegistry::GetExperiment(absl::string_view experiment_id) {
  CHURN_ASSIGN_OR_RETURN(const int64_t id, ParseExperimentId(experiment_id));
  absl::MutexLock lock(&mu_);
  return ExperimentWhere("e.experiment_id = ?", id);
}

absl::StatusOr<Experiment> SqlRegistry::GetExperimentByName(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  return ExperimentWhere("e.name = ?", std::string(name));
}

absl::StatusOr<Page<Experiment>> SqlRegistry::SearchExperiments(const SearchQuery& query) {
  CHURN_ASSIGN_OR_RETURN(ParsedSearch s, ParseSearch(query, ExperimentSpec()));
  const std::string sql =
      absl::StrCat("SELECT e.experiment_id FROM experiments e WHERE ",
                   StageCondition(query.view, "e"), s.where.sql, " ORDER BY ", s.order.sql,
                   "e.creation_time DESC, e.experiment_id ASC LIMIT ? OFFSET ?");
  std::vector<SqlValue> params = std::move(s.where.params);
  params.insert(params.end(), s.order.params.begin(), s.order.params.end());
  params.insert(params.end(), {s.limit + 1, s.offset});
  absl::MutexLock lock(&mu_);
  CHURN_ASSIGN_OR_RETURN(const SqlRows rows, Q(sql, params));
  std::vector<Experiment> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    CHURN_ASSIGN_OR_RETURN(Experiment e, ExperimentWhere("e.experiment_id = ?", rows.Int(i, 0)));
    out.push_back(std::move(e));
  }
  return MakePage(std::move(out), s.offset, s.limit);
}

absl::Status SqlRegistry::SetExperimentStage(absl::string_view experiment_id,
                                             LifecycleStage stage) {
  CHURN_ASSIGN_OR_RETURN(const int64_t id, ParseExperimentId(experiment_id));
  if (id == 0 && stage == LifecycleStage::kDeleted) {
    return absl::InvalidArgumentError("Cannot delete the default experiment '0'.");
  }
  absl::MutexLock lock(&mu_);
  const int64_t now = NowMs();
  return Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    CHURN_RETURN_IF_ERROR(ExperimentWhere("e.experiment_id = ?", id).status());
    CHURN_RETURN_IF_ERROR(Q("UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? "
                            "WHERE experiment_id = ?",
                            {std::string(ToString(stage)), now, id})
                              .status());
    // MLflow deletes and restores the experiment's runs with it.
    return Q("UPDATE runs SET lifecycle_stage = ? WHERE experiment_id = ?",
             {std::string(ToString(stage)), id})
        .status();
  });
}

absl::Status SqlRegistry::DeleteExperiment(absl::string_view experiment_id) {
  return SetExperimentStage(experiment_id, LifecycleStage::kDeleted);
}

absl::Status SqlRegistry::RestoreExperiment(absl::string_view experiment_id) {
  return SetExperimentStage(experiment_id, LifecycleStage::kActive);
}

absl::Status SqlRegistry::SetExperimentTag(absl::string_view experiment_id, const Tag& tag) {
  CHURN_RETURN_IF_ERROR(ValidateTag(tag));
  CHURN_ASSIGN_OR_RETURN(const int64_t id, ParseExperimentId(experiment_id));
  absl::MutexLock lock(&mu_);
  return Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    CHURN_ASSIGN_OR_RETURN(const Experiment e, ExperimentWhere("e.experiment_id = ?", id));
    if (e.lifecycle_stage != LifecycleStage::kActive) {
      return absl::FailedPreconditionError(
          absl::StrCat("experiment ", id, " is deleted: restore it first"));
    }
    return Q("INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) "
             "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
             {id, tag.key, tag.value})
        .status();
  });
}

// --- Runs ---------------------------------------------------------------------------------

absl::StatusOr<RunInfo> SqlRegistry::LoadRunInfo(absl::string_view run_id) {
  CHURN_ASSIGN_OR_RETURN(const SqlRows rows, Q(absl::StrCat("SELECT ", kRunColumns,
                                                            " FROM runs r WHERE r.run_uuid = ?"),
                                               {std::string(run_id)}));
  if (rows.empty()) {
    return absl::NotFoundError(absl::StrCat("Run with id=", run_id.substr(0, 64), " not found"));
  }
  return ReadRunInfo(rows, 0);
}

absl::StatusOr<RunInfo> SqlRegistry::ActiveRun(absl::string_view run_id) {
  CHURN_ASSIGN_OR_RETURN(RunInfo info, LoadRunInfo(run_id));
  if (info.lifecycle_stage != LifecycleStage::kActive) {
    return absl::FailedPreconditionError(absl::StrCat(
        "The run ", run_id, " must be in the 'active' state. Current state is deleted."));
  }
  return info;
}

absl::StatusOr<Run> SqlRegistry::CreateRun(const CreateRunRequest& request) {
  CHURN_ASSIGN_OR_RETURN(const int64_t experiment, ParseExperimentId(request.experiment_id));
  for (const Tag& t : request.tags) {
    CHURN_RETURN_IF_ERROR(ValidateTag(t));
  }
  Run run;
  run.info.run_id = NewRunId();
  run.info.experiment_id = absl::StrCat(experiment);
  run.info.dataset_snapshot = request.dataset_snapshot;
  run.info.status = RunStatus::kRunning;
  run.info.start_time = request.start_time.value_or(NowMs());
  run.info.user_id = request.user_id;
  run.info.run_name = request.run_name;
  for (const Tag& t : request.tags) {
    if (t.key == "mlflow.runName" && run.info.run_name.empty()) {
      run.info.run_name = t.value;
    }
    if (t.key == "mlflow.user" && run.info.user_id.empty()) {
      run.info.user_id = t.value;
    }
  }
  if (run.info.run_name.empty()) {
    run.info.run_name = absl::StrCat("run-", run.info.run_id.substr(0, 8));
  }
  run.tags = request.tags;
  if (std::none_of(run.tags.begin(), run.tags.end(),
                   [](const Tag& t) { return t.key == "mlflow.runName"; })) {
    run.tags.push_back({"mlflow.runName", run.info.run_name});
  }
  std::sort(run.tags.begin(), run.tags.end(),
            [](const Tag& a, const Tag& b) { return a.key < b.key; });
  absl::MutexLock lock(&mu_);
  CHURN_RETURN_IF_ERROR(Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    CHURN_ASSIGN_OR_RETURN(const Experiment e, ExperimentWhere("e.experiment_id = ?", experiment));
    if (e.lifecycle_stage != LifecycleStage::kActive) {
      return absl::FailedPreconditionError(
          absl::StrCat("The experiment ", experiment,
                       " must be in the 'active' state. Current state is "
                       "deleted."));
    }
    run.info.artifact_uri = absl::StrCat(e.artifact_location, "/", run.info.run_id, "/artifacts");
    CHURN_RETURN_IF_ERROR(
        Q("INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, "
          "end_time, artifact_uri, lifecycle_stage, dataset_snapshot) "
          "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 'active', ?)",
          {run.info.run_id, run.info.run_name, experiment, run.info.user_id,
           std::string(ToString(run.info.status)), run.info.start_time, run.info.artifact_uri,
           run.info.dataset_snapshot})
            .status());
    std::vector<SqlValue> values;
    for (const Tag& t : run.tags) {
      values.insert(values.end(), {run.info.run_id, t.key, t.value});
    }
    return InsertRows("INSERT INTO tags (run_uuid, key, value)",
                      " ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value", 3,
                      values);
  }));
  return run;
}

absl::StatusOr<RunInfo> SqlRegistry::UpdateRun(const UpdateRunRequest& request) {
  absl::MutexLock lock(&mu_);
  RunInfo info;
  CHURN_RETURN_IF_ERROR(Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    CHURN_ASSIGN_OR_RETURN(info, ActiveRun(request.run_id));
    if (request.status.has_value()) {
      info.status = *request.status;
    }
    if (request.end_time.has_value()) {
      info.end_time = *request.end_time;
    }
    if (request.run_name.has_value() && !request.run_name->empty()) {
      info.run_name = *request.run_name;
      CHURN_RETURN_IF_ERROR(
          Q("INSERT INTO tags (run_uuid, key, value) VALUES (?, 'mlflow.runName', ?) "
            "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
            {info.run_id, info.run_name})
              .status());
    }
    const SqlValue end = info.end_time.has_value() ? SqlValue(*info.end_time) : SqlValue();
    return Q("UPDATE runs SET status = ?, end_time = ?, name = ? WHERE run_uuid = ?",
             {std::string(ToString(info.status)), end, info.run_name, info.run_id})
        .status();
  }));
  return info;
}

absl::Status SqlRegistry::LoadRunData(std::vector<Run>& runs) {
  std::map<std::string, Run*> by_id;
  for (Run& r : runs) {
    by_id[r.info.run_id] = &r;
  }
  for (size_t start = 0; start < runs.size(); start += 512) {
    const size_t n = std::min<size_t>(512, runs.size() - start);
    const size_t padded = PaddedCount(n);
    std::vector<SqlValue> ids;
    for (size_t i = 0; i < padded; ++i) {
      ids.emplace_back(runs[start + std::min(i, n - 1)].info.run_id);
    }
    std::vector<std::string> marks(padded, "?");
    const std::string in = absl::StrCat(" WHERE run_uuid IN (", absl::StrJoin(marks, ", "), ")");
    CHURN_ASSIGN_OR_RETURN(
        const SqlRows metrics,
        Q(absl::StrCat("SELECT run_uuid, key, value, is_nan, timestamp, step FROM latest_metrics",
                       in, " ORDER BY run_uuid, key"),
          ids));
    for (size_t i = 0; i < metrics.size(); ++i) {
      const double v = metrics.Int(i, 3) != 0 ? std::nan("") : metrics.Double(i, 2);
      by_id[metrics.Text(i, 0)]->metrics.push_back(
          {metrics.Text(i, 1), v, metrics.Int(i, 4), metrics.Int(i, 5)});
    }
    for (const char* table : {"params", "tags"}) {
      CHURN_ASSIGN_OR_RETURN(
          const SqlRows rows,
          Q(absl::StrCat("SELECT run_uuid, key, value FROM ", table, in, " ORDER BY run_uuid, key"),
            ids));
      for (size_t i = 0; i < rows.size(); ++i) {
        Run* run = by_id[rows.Text(i, 0)];
        if (table[0] == 'p') {
          run->params.push_back({rows.Text(i, 1), rows.Text(i, 2)});
        } else {
          run->tags.push_back({rows.Text(i, 1), rows.Text(i, 2)});
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Run> SqlRegistry::GetRun(absl::string_view run_id) {
  absl::MutexLock lock(&mu_);
  std::vector<Run> runs(1);
  CHURN_ASSIGN_OR_RETURN(runs[0].info, LoadRunInfo(run_id));
  CHURN_RETURN_IF_ERROR(LoadRunData(runs));
  return std::move(runs[0]);
}

absl::Status SqlRegistry::SetRunStage(absl::string_view run_id, LifecycleStage stage) {
  absl::MutexLock lock(&mu_);
  return Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    CHURN_RETURN_IF_ERROR(LoadRunInfo(run_id).status());
    return Q("UPDATE runs SET lifecycle_stage = ? WHERE run_uuid = ?",
             {std::string(ToString(stage)), std::string(run_id)})
        .status();
  });
}

absl::Status SqlRegistry::DeleteRun(absl::string_view run_id) {
  return SetRunStage(run_id, LifecycleStage::kDeleted);
}

absl::Status SqlRegistry::RestoreRun(absl::string_view run_id) {
  return SetRunStage(run_id, LifecycleStage::kActive);
}

absl::Status SqlRegistry::WriteMetrics(absl::string_view run_id,
                                       const std::vector<Metric>& metrics) {
  std::vector<SqlValue> history;
  std::map<std::string, const Metric*> latest;
  for (const Metric& m : metrics) {
    const auto [value, is_nan] = Stored(m.value);
    history.insert(history.end(), {std::string(run_id), m.key, value, is_nan, m.timestamp, m.step});
    auto [it, inserted] = latest.emplace(m.key, &m);
    if (!inserted && IsLater(m, *it->second)) {
      it->second = &m;
    }
  }
  CHURN_RETURN_IF_ERROR(InsertRows(
      "INSERT INTO metrics (run_uuid, key, value, is_nan, timestamp, step)", "", 6, history));
  std::vector<SqlValue> values;
  for (const auto& [key, m] : latest) {
    const auto [value, is_nan] = Stored(m->value);
    values.insert(values.end(), {std::string(run_id), key, value, is_nan, m->timestamp, m->step});
  }
  return InsertRows(
      "INSERT INTO latest_metrics (run_uuid, key, value, is_nan, timestamp, step)",
      " ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, is_nan = "
      "excluded.is_nan, timestamp = excluded.timestamp, step = excluded.step WHERE "
      "excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step AND "
      "(excluded.timestamp > latest_metrics.timestamp OR (excluded.timestamp = "
      "latest_metrics.timestamp AND excluded.value > latest_metrics.value)))",
      6, values);
}

absl::Status SqlRegistry::WriteParams(absl::string_view run_id, const std::vector<Param>& params) {
  std::map<std::string, std::string> wanted;
  for (const Param& p : params) {
    auto [it, inserted] = wanted.emplace(p.key, p.value);
    if (!inserted && it->second != p.value) {
      return absl::InvalidArgumentError(
          absl::StrCat("Duplicate parameter keys have been submitted: '", p.key, "' with values '",
                       it->second, "' and '", p.value, "'"));
    }
  }
  std::vector<SqlValue> values;
  for (const auto& [key, value] : wanted) {
    CHURN_ASSIGN_OR_RETURN(
        const SqlRows rows,
        Q("SELECT value FROM params WHERE run_uuid = ? AND key = ?", {std::string(run_id), key}));
    if (rows.empty()) {
      values.insert(values.end(), {std::string(run_id), key, value});
    } else if (rows.Text(0, 0) != value) {
      return absl::InvalidArgumentError(
          absl::StrCat("Changing param values is not allowed. Param with key='", key,
                       "' was already logged with value='", rows.Text(0, 0), "' for run ID='",
                       run_id, "'. Attempted logging new value '", value, "'."));
    }
  }
  return InsertRows("INSERT INTO params (run_uuid, key, value)", "", 3, values);
}

absl::Status SqlRegistry::LogBatch(absl::string_view run_id, const std::vector<Metric>& metrics,
                                   const std::vector<Param>& params, const std::vector<Tag>& tags) {
  if (metrics.size() > kMaxMetricsPerBatch || params.size() > kMaxParamsPerBatch ||
      tags.size() > kMaxTagsPerBatch ||
      metrics.size() + params.size() + tags.size() > kMaxEntitiesPerBatch) {
    return absl::InvalidArgumentError(absl::StrCat(
        "A batch logging request can contain at most ", kMaxMetricsPerBatch, " metrics, ",
        kMaxParamsPerBatch, " params, and ", kMaxTagsPerBatch, " tags, and at most ",
        kMaxEntitiesPerBatch, " items in total. Got ", metrics.size(), " metrics, ", params.size(),
        " params, and ", tags.size(), " tags"));
  }
  for (const Metric& m : metrics) {
    CHURN_RETURN_IF_ERROR(ValidateKey(m.key, "metric"));
  }
  for (const Param& p : params) {
    CHURN_RETURN_IF_ERROR(ValidateKey(p.key, "param"));
    if (p.value.size() > kMaxParamValueLength) {
      return absl::InvalidArgumentError(absl::StrCat("param '", p.key, "' value is longer than ",
                                                     kMaxParamValueLength, " characters"));
    }
  }
  for (const Tag& t : tags) {
    CHURN_RETURN_IF_ERROR(ValidateTag(t));
  }
  absl::MutexLock lock(&mu_);
  return Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    CHURN_RETURN_IF_ERROR(ActiveRun(run_id).status());
    CHURN_RETURN_IF_ERROR(WriteParams(run_id, params));
    CHURN_RETURN_IF_ERROR(WriteMetrics(run_id, metrics));
    std::map<std::string, std::string> last;  // the last value of a key repeated in the batch
    for (const Tag& t : tags) {
      last[t.key] = t.value;
    }
    std::vector<SqlValue> values;
    for (const auto& [key, value] : last) {
      values.insert(values.end(), {std::string(run_id), key, value});
      if (key == "mlflow.runName") {
        CHURN_RETURN_IF_ERROR(
            Q("UPDATE runs SET name = ? WHERE run_uuid = ?", {value, std::string(run_id)})
                .status());
      }
    }
    return InsertRows("INSERT INTO tags (run_uuid, key, value)",
                      " ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value", 3,
                      values);
  });
}

absl::Status SqlRegistry::DeleteTag(absl::string_view run_id, absl::string_view key) {
  absl::MutexLock lock(&mu_);
  return Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    CHURN_RETURN_IF_ERROR(ActiveRun(run_id).status());
    CHURN_ASSIGN_OR_RETURN(const SqlRows rows,
                           Q("DELETE FROM tags WHERE run_uuid = ? AND key = ? RETURNING key",
                             {std::string(run_id), std::string(key)}));
    if (rows.empty()) {
      return absl::NotFoundError(
          absl::StrCat("No tag with name: ", key, " in run with id ", run_id));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<Page<Metric>> SqlRegistry::GetMetricHistory(absl::string_view run_id,
                                                           absl::string_view key,
                                                           int64_t max_results,
                                                           absl::string_view page_token) {
  // Everything when max_results is not given; at most MLflow's int32 range otherwise.
  constexpr int64_t kMaxHistoryPage = 2147483647;
  if (max_results > kMaxHistoryPage) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid value ", max_results, " for max_results: at most ", kMaxHistoryPage));
  }
  const int64_t limit = max_results <= 0 ? kMaxHistoryPage : max_results;
  CHURN_ASSIGN_OR_RETURN(const int64_t offset, DecodePageToken(page_token));
  absl::MutexLock lock(&mu_);
  CHURN_RETURN_IF_ERROR(LoadRunInfo(run_id).status());
  CHURN_ASSIGN_OR_RETURN(
      const SqlRows rows,
      Q("SELECT value, is_nan, timestamp, step FROM metrics WHERE run_uuid = ? AND key = ? "
        "ORDER BY step, timestamp, seq LIMIT ? OFFSET ?",
        {std::string(run_id), std::string(key), limit + 1, offset}));
  std::vector<Metric> out;
  out.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    out.push_back({std::string(key), rows.Int(i, 1) != 0 ? std::nan("") : rows.Double(i, 0),
                   rows.Int(i, 2), rows.Int(i, 3)});
  }
  return MakePage(std::move(out), offset, limit);
}

absl::StatusOr<Page<Run>> SqlRegistry::SearchRuns(const SearchQuery& query) {
  if (query.experiment_ids.empty()) {
    return absl::InvalidArgumentError("experiment_ids must name at least one experiment");
  }
  std::vector<SqlValue> params;
  for (const std::string& id : query.experiment_ids) {
    CHURN_ASSIGN_OR_RETURN(const int64_t e, ParseExperimentId(id));
    params.emplace_back(e);
  }
  CHURN_ASSIGN_OR_RETURN(const ParsedSearch s, ParseSearch(query, RunSpec()));
  std::vector<std::string> marks(params.size(), "?");
  const std::string sql = absl::StrCat(
      "SELECT ", kRunColumns, " FROM runs r WHERE r.experiment_id IN (", absl::StrJoin(marks, ", "),
      ") AND ", StageCondition(query.view, "r"), s.where.sql, " ORDER BY ", s.order.sql,
      "r.start_time DESC, r.run_uuid ASC LIMIT ? OFFSET ?");
  params.insert(params.end(), s.where.params.begin(), s.where.params.end());
  params.insert(params.end(), s.order.params.begin(), s.order.params.end());
  params.insert(params.end(), {s.limit + 1, s.offset});
  absl::MutexLock lock(&mu_);
  CHURN_ASSIGN_OR_RETURN(const SqlRows rows, Q(sql, params));
  std::vector<Run> runs(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    runs[i].info = ReadRunInfo(rows, i);
  }
  Page<Run> page = MakePage(std::move(runs), s.offset, s.limit);
  CHURN_RETURN_IF_ERROR(LoadRunData(page.items));
  return page;
}

// --- Artifacts ----------------------------------------------------------------------------

absl::StatusOr<ArtifactRef> SqlRegistry::LogArtifact(absl::string_view run_id,
                                                     absl::string_view path,
                                                     absl::string_view bytes) {
  CHURN_RETURN_IF_ERROR(
      base::WithContext(base::ValidateObjectKey(path), absl::StrCat("artifact path '", path, "'")));
  ArtifactRef ref{std::string(path), base::Sha256Hex(bytes), static_cast<int64_t>(bytes.size())};
  {
    absl::MutexLock lock(&mu_);
    CHURN_RETURN_IF_ERROR(Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
      CHURN_RETURN_IF_ERROR(ActiveRun(run_id).status());
      return Q("INSERT INTO run_artifacts (run_uuid, path, sha256, size) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (run_uuid, path) DO UPDATE SET sha256 = excluded.sha256, "
               "size = excluded.size",
               {std::string(run_id), ref.path, ref.sha256, ref.size})
          .status();
    }));
  }
  CHURN_ASSIGN_OR_RETURN(const std::string digest, artifacts_->Put(bytes));
  if (digest != ref.sha256) {
    return absl::InternalError("artifact digest changed while storing it");
  }
  return ref;
}

absl::StatusOr<std::vector<ArtifactRef>> SqlRegistry::ListArtifacts(absl::string_view run_id,
                                                                    absl::string_view prefix) {
  absl::MutexLock lock(&mu_);
  CHURN_RETURN_IF_ERROR(LoadRunInfo(run_id).status());
  CHURN_ASSIGN_OR_RETURN(
      const SqlRows rows,
      Q("SELECT path, sha256, size FROM run_artifacts WHERE run_uuid = ? AND "
        "substr(path, 1, CAST(? AS INTEGER)) = ? ORDER BY path",
        {std::string(run_id), static_cast<int64_t>(prefix.size()), std::string(prefix)}));
  std::vector<ArtifactRef> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    out.push_back({rows.Text(i, 0), rows.Text(i, 1), rows.Int(i, 2)});
  }
  return out;
}

absl::StatusOr<std::string> SqlRegistry::ReadArtifact(absl::string_view run_id,
                                                      absl::string_view path) {
  std::string digest;
  {
    absl::MutexLock lock(&mu_);
    CHURN_RETURN_IF_ERROR(LoadRunInfo(run_id).status());
    CHURN_ASSIGN_OR_RETURN(const SqlRows rows,
                           Q("SELECT sha256 FROM run_artifacts WHERE run_uuid = ? AND path = ?",
                             {std::string(run_id), std::string(path)}));
    if (rows.empty()) {
      return absl::NotFoundError(absl::StrCat("run ", run_id, " has no artifact '", path, "'"));
    }
    digest = rows.Text(0, 0);
  }
  return artifacts_->Get(digest);
}

// --- Retention ----------------------------------------------------------------------------

absl::StatusOr<GcResult> SqlRegistry::GarbageCollect(const GcOptions& options) {
  if (options.keep_last < 0 || options.older_than_ms < 0) {
    return absl::InvalidArgumentError("keep_last and older_than must not be negative");
  }
  GcResult result;
  absl::MutexLock lock(&mu_);
  const int64_t cutoff = NowMs() - options.older_than_ms;
  CHURN_RETURN_IF_ERROR(Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    result = GcResult{};
    if (db_->GetDialect() == Dialect::kPostgres) {
      CHURN_RETURN_IF_ERROR(
          Q("LOCK TABLE run_artifacts, model_version_artifacts IN SHARE MODE", {}).status());
    }
    CHURN_ASSIGN_OR_RETURN(
        const SqlRows doomed,
        Q("SELECT q.run_uuid FROM (SELECT r.run_uuid, r.status, r.lifecycle_stage, "
          "COALESCE(r.end_time, r.start_time) AS t, ROW_NUMBER() OVER (PARTITION BY "
          "r.experiment_id ORDER BY r.start_time DESC, r.run_uuid) AS rn FROM runs r) q "
          "WHERE q.rn > ? AND q.t < ? AND (q.status IN ('FINISHED', 'FAILED', 'KILLED') OR "
          "q.lifecycle_stage = 'deleted') AND NOT EXISTS (SELECT 1 FROM model_versions v "
          "WHERE v.run_id = q.run_uuid) ORDER BY q.run_uuid",
          {options.keep_last, cutoff}));
    for (size_t i = 0; i < doomed.size(); ++i) {
      result.deleted_runs.push_back(doomed.Text(i, 0));
      if (!options.dry_run) {
        CHURN_RETURN_IF_ERROR(
            Q("DELETE FROM runs WHERE run_uuid = ?", {doomed.Text(i, 0)}).status());
      }
    }
    // What stays referenced: every remaining run's files (in a dry run, the doomed runs are
    // still there and are skipped here) and every model version's.
    const std::set<std::string> doomed_ids(result.deleted_runs.begin(), result.deleted_runs.end());
    CHURN_ASSIGN_OR_RETURN(const SqlRows kept,
                           Q("SELECT run_uuid, sha256 FROM run_artifacts UNION ALL SELECT '', "
                             "sha256 FROM model_version_artifacts",
                             {}));
    std::set<std::string> referenced;
    for (size_t i = 0; i < kept.size(); ++i) {
      if (!doomed_ids.contains(kept.Text(i, 0))) {
        referenced.insert(kept.Text(i, 1));
      }
    }
    CHURN_ASSIGN_OR_RETURN(const std::vector<std::string> blobs, artifacts_->List());
    for (const std::string& digest : blobs) {
      if (referenced.contains(digest)) {
        continue;
      }
      ++result.artifacts_deleted;
      if (!options.dry_run) {
        CHURN_RETURN_IF_ERROR(artifacts_->Delete(digest));
      }
    }
    return absl::OkStatus();
  }));
  return result;
}

// --- Opening ------------------------------------------------------------------------------

}  // namespace churn::registry::internal

namespace churn::registry {

absl::StatusOr<std::unique_ptr<Registry>> OpenRegistry(const RegistryOptions& options) {
  using internal::SqlDb;
  base::Clock* clock = options.clock != nullptr ? options.clock : base::SystemClock();
  if (options.url.empty()) {
    return absl::InvalidArgumentError("registry URL is empty");
  }
  if (options.artifact_store_uri.empty()) {
    return absl::InvalidArgumentError("registry artifact store URI is empty");
  }
  CHURN_ASSIGN_OR_RETURN(std::unique_ptr<SqlDb> db,
                         internal::OpenSqlDb(options.url, options.busy_timeout_ms, "registry URL"));
  CHURN_RETURN_IF_ERROR(internal::Migrate(*db, absl::ToUnixMillis(clock->Now())));
  CHURN_ASSIGN_OR_RETURN(auto objects,
                         base::OpenObjectStore(options.artifact_store_uri, options.s3));
  return std::make_unique<internal::SqlRegistry>(
      std::move(db), std::make_unique<ArtifactStore>(std::move(objects)), clock);
}

}  // namespace churn::registry
