// The model-registry half of SqlRegistry: registered models, versions, aliases and their
// history. The design note is in sql_registry.h.
#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "registry/sql_registry.h"

#include "churn/base/status_macros.h"

namespace churn::registry::internal {
namespace {

constexpr char kVersionColumns[] =
    "v.name, v.version, v.creation_time, v.last_updated_time, v.description, v.user_id, "
    "v.source, v.run_id, v.run_link, v.status, v.signature, v.metrics";

const SearchSpec& ModelSpec() {
  static const auto* const kSpec =
      new SearchSpec{"registered models",
                     {{"name", "m.name", false},
                      {"creation_timestamp", "m.creation_time", true},
                      {"last_updated_timestamp", "m.last_updated_time", true}},
                     nullptr,
                     nullptr,
                     "registered_model_tags x WHERE x.name = m.name",
                     "m.name",
                     "x.name"};
  return *kSpec;
}

const SearchSpec& VersionSpec() {
  static const auto* const kSpec =
      new SearchSpec{"model versions",
                     {{"name", "v.name", false},
                      {"version_number", "v.version", true},
                      {"run_id", "v.run_id", false},
                      {"source", "v.source", false},
                      {"creation_timestamp", "v.creation_time", true},
                      {"last_updated_timestamp", "v.last_updated_time", true}},
                     nullptr,
                     nullptr,
                     "model_version_tags x WHERE x.name = v.name AND x.version = v.version",
                     "(v.name, v.version)",
                     "x.name, x.version"};
  return *kSpec;
}

absl::Status ModelNotFound(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat("Registered Model with name=", name, " not found"));
}

absl::Status VersionNotFound(absl::string_view name, int64_t version) {
  return absl::NotFoundError(
      absl::StrCat("Model Version (name=", name, ", version=", version, ") not found"));
}

// The run id and artifact path of a "runs:/<run_id>/<path>" source.
bool ParseRunsUri(absl::string_view source, std::string* run_id, std::string* path) {
  if (!absl::ConsumePrefix(&source, "runs:/")) {
    return false;
  }
  absl::ConsumePrefix(&source, "/");
  const size_t slash = source.find('/');
  *run_id = std::string(source.substr(0, slash));
  *path = slash == absl::string_view::npos ? "" : std::string(source.substr(slash + 1));
  while (!path->empty() && path->back() == '/') {
    path->pop_back();
  }
  return !run_id->empty();
}

}  // namespace

// --- Registered models --------------------------------------------------------------------

absl::Status SqlRegistry::TouchModel(absl::string_view name, int64_t now) {
  CHURN_ASSIGN_OR_RETURN(
      const SqlRows rows,
      Q("UPDATE registered_models SET last_updated_time = ? WHERE name = ? RETURNING name",
        {now, std::string(name)}));
  return rows.empty() ? ModelNotFound(name) : absl::OkStatus();
}

absl::StatusOr<RegisteredModel> SqlRegistry::LoadModel(absl::string_view name) {
  CHURN_ASSIGN_OR_RETURN(const SqlRows rows,
                         Q("SELECT m.name, m.creation_time, m.last_updated_time, m.description, "
                           "(SELECT MAX(v.version) FROM model_versions v WHERE v.name = m.name) "
                           "FROM registered_models m WHERE m.name = ?",
                           {std::string(name)}));
  if (rows.empty()) {
    return ModelNotFound(name);
  }
  RegisteredModel m;
  m.name = rows.Text(0, 0);
  m.creation_timestamp = rows.Int(0, 1);
  m.last_updated_timestamp = rows.Int(0, 2);
  m.description = rows.Text(0, 3);
  if (!rows.IsNull(0, 4)) {
    m.latest_version = rows.Int(0, 4);
  }
  CHURN_ASSIGN_OR_RETURN(
      const SqlRows tags,
      Q("SELECT key, value FROM registered_model_tags WHERE name = ? ORDER BY key", {m.name}));
  for (size_t i = 0; i < tags.size(); ++i) {
    m.tags.push_back({tags.Text(i, 0), tags.Text(i, 1)});
  }
  CHURN_ASSIGN_OR_RETURN(
      const SqlRows aliases,
      Q("SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias",
        {m.name}));
  for (size_t i = 0; i < aliases.size(); ++i) {
    m.aliases.emplace_back(aliases.Text(i, 0), aliases.Int(i, 1));
  }
  return m;
}

absl::StatusOr<RegisteredModel> SqlRegistry::CreateRegisteredModel(absl::string_view name,
                                                                   absl::string_view description,
                                                                   const std::vector<Tag>& tags) {
  CHURN_RETURN_IF_ERROR(ValidateName(name, "registered model"));
  for (const Tag& t : tags) {
    CHURN_RETURN_IF_ERROR(ValidateTag(t));
  }
  absl::MutexLock lock(&mu_);
  const int64_t now = NowMs();
  RegisteredModel model;
  absl::Status status = Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    CHURN_RETURN_IF_ERROR(Q("INSERT INTO registered_models (name, creation_time, "
                            "last_updated_time, description, last_version) VALUES (?, ?, ?, ?, 0)",
                            {std::string(name), now, now, std::string(description)})
                              .status());
    std::vector<SqlValue> values;
    for (const Tag& t : tags) {
      values.insert(values.end(), {std::string(name), t.key, t.value});
    }
    CHURN_RETURN_IF_ERROR(InsertRows("INSERT INTO registered_model_tags (name, key, value)",
                                     " ON CONFLICT (name, key) DO UPDATE SET value = "
                                     "excluded.value",
                                     3, values));
    CHURN_ASSIGN_OR_RETURN(model, LoadModel(name));
    return absl::OkStatus();
  });
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(
        absl::StrCat("Registered Model (name=", name, ") already exists."));
  }
  CHURN_RETURN_IF_ERROR(status);
  return model;
}

absl::StatusOr<RegisteredModel> SqlRegistry::GetRegisteredModel(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  return LoadModel(name);
}

absl::StatusOr<Page<RegisteredModel>> SqlRegistry::SearchRegisteredModels(
    const SearchQuery& query) {
  CHURN_ASSIGN_OR_RETURN(ParsedSearch s, ParseSearch(query, ModelSpec()));
  const std::string sql =
      absl::StrCat("SELECT m.name FROM registered_models m WHERE 1 = 1", s.where.sql, " ORDER BY ",
                   s.order.sql, "m.name ASC LIMIT ? OFFSET ?");
  std::vector<SqlValue> params = std::move(s.where.params);
  params.insert(params.end(), s.order.params.begin(), s.order.params.end());
  params.insert(params.end(), {s.limit + 1, s.offset});
  absl::MutexLock lock(&mu_);
  CHURN_ASSIGN_OR_RETURN(const SqlRows rows, Q(sql, params));
  std::vector<RegisteredModel> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    CHURN_ASSIGN_OR_RETURN(RegisteredModel m, LoadModel(rows.Text(i, 0)));
    out.push_back(std::move(m));
  }
  return MakePage(std::move(out), s.offset, s.limit);
}

absl::StatusOr<RegisteredModel> SqlRegistry::UpdateRegisteredModel(absl::string_view name,
                                                                   absl::string_view description) {
  absl::MutexLock lock(&mu_);
  RegisteredModel model;
  CHURN_RETURN_IF_ERROR(Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    CHURN_RETURN_IF_ERROR(TouchModel(name, NowMs()));
    CHURN_RETURN_IF_ERROR(Q("UPDATE registered_models SET description = ? WHERE name = ?",
                            {std::string(description), std::string(name)})
                              .status());
    CHURN_ASSIGN_OR_RETURN(model, LoadModel(name));
    return absl::OkStatus();
  }));
  return model;
}

absl::Status SqlRegistry::DeleteRegisteredModel(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  return Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    const int64_t now = NowMs();
    CHURN_RETURN_IF_ERROR(TouchModel(name, now));
    CHURN_RETURN_IF_ERROR(RemoveAliasesOf(name, std::nullopt, now, "registered model deleted"));
    return Q("DELETE FROM registered_models WHERE name = ?", {std::string(name)}).status();
  });
}

absl::Status SqlRegistry::SetRegisteredModelTag(absl::string_view name, const Tag& tag) {
  CHURN_RETURN_IF_ERROR(ValidateTag(tag));
  absl::MutexLock lock(&mu_);
  return Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    CHURN_RETURN_IF_ERROR(TouchModel(name, NowMs()));
    return Q("INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) "
             "ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
             {std::string(name), tag.key, tag.value})
        .status();
  });
}

absl::Status SqlRegistry::DeleteRegisteredModelTag(absl::string_view name, absl::string_view key) {
  absl::MutexLock lock(&mu_);
  return Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    CHURN_RETURN_IF_ERROR(TouchModel(name, NowMs()));
    return Q("DELETE FROM registered_model_tags WHERE name = ? AND key = ?",
             {std::string(name), std::string(key)})
        .status();
  });
}

// --- Model versions -----------------------------------------------------------------------

absl::StatusOr<ModelVersion> SqlRegistry::LoadVersion(absl::string_view name, int64_t version) {
  CHURN_ASSIGN_OR_RETURN(
      const SqlRows rows,
      Q(absl::StrCat("SELECT ", kVersionColumns,
                     " FROM model_versions v WHERE v.name = ? AND v.version = ?"),
        {std::string(name), version}));
  if (rows.empty()) {
    return VersionNotFound(name, version);
  }
  ModelVersion v;
  v.name = rows.Text(0, 0);
  v.version = rows.Int(0, 1);
  v.creation_timestamp = rows.Int(0, 2);
  v.last_updated_timestamp = rows.Int(0, 3);
  v.description = rows.Text(0, 4);
  v.user_id = rows.Text(0, 5);
  v.source = rows.Text(0, 6);
  v.run_id = rows.Text(0, 7);
  v.run_link = rows.Text(0, 8);
  v.status = rows.Text(0, 9);
  v.signature = rows.Text(0, 10);
  const auto metrics = nlohmann::json::parse(rows.Text(0, 11), nullptr, false);
  if (metrics.is_array()) {
    for (const auto& m : metrics) {
      if (m.is_array() && m.size() == 2 && m[0].is_string()) {
        if (m[1].is_number()) {
          v.metrics.emplace_back(m[0].get<std::string>(), m[1].get<double>());
        } else if (m[1].is_string()) {  // NaN and infinities, which JSON numbers cannot hold
          double value = 0;
          if (absl::SimpleAtod(m[1].get<std::string>(), &value)) {
            v.metrics.emplace_back(m[0].get<std::string>(), value);
          }
        }
      }
    }
  }
  const std::vector<SqlValue> key = {v.name, v.version};
  CHURN_ASSIGN_OR_RETURN(
      const SqlRows tags,
      Q("SELECT key, value FROM model_version_tags WHERE name = ? AND version = ? ORDER BY key",
        key));
  for (size_t i = 0; i < tags.size(); ++i) {
    v.tags.push_back({tags.Text(i, 0), tags.Text(i, 1)});
  }
  CHURN_ASSIGN_OR_RETURN(const SqlRows aliases,
                         Q("SELECT alias FROM registered_model_aliases WHERE name = ? AND "
                           "version = ? ORDER BY alias",
                           key));
  for (size_t i = 0; i < aliases.size(); ++i) {
    v.aliases.push_back(aliases.Text(i, 0));
  }
  CHURN_ASSIGN_OR_RETURN(const SqlRows files,
                         Q("SELECT path, sha256, size FROM model_version_artifacts WHERE name = ? "
                           "AND version = ? ORDER BY path",
                           key));
  for (size_t i = 0; i < files.size(); ++i) {
    v.artifacts.push_back({files.Text(i, 0), files.Text(i, 1), files.Int(i, 2)});
  }
  return v;
}

absl::StatusOr<ModelVersion> SqlRegistry::CreateModelVersion(
    const CreateModelVersionRequest& request) {
  CHURN_RETURN_IF_ERROR(ValidateName(request.name, "registered model"));
  if (request.source.empty()) {
    return absl::InvalidArgumentError("model version source must not be empty");
  }
  for (const Tag& t : request.tags) {
    CHURN_RETURN_IF_ERROR(ValidateTag(t));
  }
  std::string run_id = request.run_id;
  std::string source_run;
  std::string path;
  const bool runs_uri = ParseRunsUri(request.source, &source_run, &path);
  if (runs_uri && run_id.empty()) {
    run_id = source_run;
  }
  if (runs_uri && source_run != run_id) {
    return absl::InvalidArgumentError(absl::StrCat("source '", request.source, "' names run ",
                                                   source_run, ", not run_id ", run_id));
  }
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& [key, value] : request.metrics) {
    if (std::isfinite(value)) {
      metrics.push_back({key, value});
    } else {
      metrics.push_back({key, std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf"});
    }
  }
  absl::MutexLock lock(&mu_);
  ModelVersion out;
  CHURN_RETURN_IF_ERROR(Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    const int64_t now = NowMs();
    CHURN_ASSIGN_OR_RETURN(
        const SqlRows bumped,
        Q("UPDATE registered_models SET last_version = last_version + 1, last_updated_time = ? "
          "WHERE name = ? RETURNING last_version",
          {now, request.name}));
    if (bumped.empty()) {
      return ModelNotFound(request.name);
    }
    const int64_t version = bumped.Int(0, 0);
    if (!run_id.empty()) {
      CHURN_RETURN_IF_ERROR(LoadRunInfo(run_id).status());
    }
    CHURN_RETURN_IF_ERROR(
        Q("INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
          "description, user_id, source, run_id, run_link, status, signature, metrics) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'READY', ?, ?)",
          {request.name, version, now, now, request.description, request.user_id, request.source,
           run_id, request.run_link, request.signature, metrics.dump()})
            .status());
    std::vector<SqlValue> values;
    for (const Tag& t : request.tags) {
      values.insert(values.end(), {request.name, version, t.key, t.value});
    }
    CHURN_RETURN_IF_ERROR(InsertRows(
        "INSERT INTO model_version_tags (name, version, key, value)",
        " ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value", 4, values));
    if (runs_uri) {
      // The run's files under `path`, renamed relative to it.
      const std::string prefix = path.empty() ? "" : path + "/";
      CHURN_ASSIGN_OR_RETURN(
          const SqlRows files,
          Q("SELECT path, sha256, size FROM run_artifacts WHERE run_uuid = ? AND "
            "(path = ? OR substr(path, 1, CAST(? AS INTEGER)) = ?) ORDER BY path",
            {run_id, path, static_cast<int64_t>(prefix.size()), prefix}));
      std::vector<SqlValue> rows;
      for (size_t i = 0; i < files.size(); ++i) {
        const std::string file = files.Text(i, 0);
        const std::string relative =
            file == path ? file.substr(file.rfind('/') + 1) : file.substr(prefix.size());
        rows.insert(rows.end(),
                    {request.name, version, relative, files.Text(i, 1), files.Int(i, 2)});
      }
      CHURN_RETURN_IF_ERROR(InsertRows(
          "INSERT INTO model_version_artifacts (name, version, path, sha256, size)", "", 5, rows));
    }
    CHURN_ASSIGN_OR_RETURN(out, LoadVersion(request.name, version));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<ModelVersion> SqlRegistry::GetModelVersion(absl::string_view name, int64_t version) {
  absl::MutexLock lock(&mu_);
  return LoadVersion(name, version);
}

absl::StatusOr<Page<ModelVersion>> SqlRegistry::SearchModelVersions(const SearchQuery& query) {
  CHURN_ASSIGN_OR_RETURN(ParsedSearch s, ParseSearch(query, VersionSpec()));
  const std::string sql =
      absl::StrCat("SELECT v.name, v.version FROM model_versions v WHERE 1 = 1", s.where.sql,
                   " ORDER BY ", s.order.sql, "v.name ASC, v.version DESC LIMIT ? OFFSET ?");
  std::vector<SqlValue> params = std::move(s.where.params);
  params.insert(params.end(), s.order.params.begin(), s.order.params.end());
  params.insert(params.end(), {s.limit + 1, s.offset});
  absl::MutexLock lock(&mu_);
  CHURN_ASSIGN_OR_RETURN(const SqlRows rows, Q(sql, params));
  std::vector<ModelVersion> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    CHURN_ASSIGN_OR_RETURN(ModelVersion v, LoadVersion(rows.Text(i, 0), rows.Int(i, 1)));
    out.push_back(std::move(v));
  }
  return MakePage(std::move(out), s.offset, s.limit);
}

absl::StatusOr<ModelVersion> SqlRegistry::UpdateModelVersion(absl::string_view name,
                                                             int64_t version,
                                                             absl::string_view description) {
  absl::MutexLock lock(&mu_);
  ModelVersion out;
  CHURN_RETURN_IF_ERROR(Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    const int64_t now = NowMs();
    CHURN_RETURN_IF_ERROR(TouchModel(name, now));
    CHURN_ASSIGN_OR_RETURN(
        const SqlRows rows,
        Q("UPDATE model_versions SET description = ?, last_updated_time = ? WHERE name = ? AND "
          "version = ? RETURNING version",
          {std::string(description), now, std::string(name), version}));
    if (rows.empty()) {
      return VersionNotFound(name, version);
    }
    CHURN_ASSIGN_OR_RETURN(out, LoadVersion(name, version));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status SqlRegistry::RemoveAliasesOf(absl::string_view name, std::optional<int64_t> version,
                                          int64_t now, absl::string_view reason) {
  CHURN_ASSIGN_OR_RETURN(
      const SqlRows aliases,
      Q("SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias",
        {std::string(name)}));
  for (size_t i = 0; i < aliases.size(); ++i) {
    if (version.has_value() && aliases.Int(i, 1) != *version) {
      continue;
    }
    CHURN_RETURN_IF_ERROR(Q("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?",
                            {std::string(name), aliases.Text(i, 0)})
                              .status());
    CHURN_RETURN_IF_ERROR(RecordAliasMove({.name = std::string(name),
                                           .alias = aliases.Text(i, 0),
                                           .previous_version = aliases.Int(i, 1),
                                           .timestamp = now,
                                           .actor = "churn",
                                           .reason = std::string(reason)}));
  }
  return absl::OkStatus();
}

absl::Status SqlRegistry::DeleteModelVersion(absl::string_view name, int64_t version) {
  absl::MutexLock lock(&mu_);
  return Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    const int64_t now = NowMs();
    CHURN_RETURN_IF_ERROR(TouchModel(name, now));
    CHURN_RETURN_IF_ERROR(LoadVersion(name, version).status());
    CHURN_RETURN_IF_ERROR(RemoveAliasesOf(name, version, now, "model version deleted"));
    return Q("DELETE FROM model_versions WHERE name = ? AND version = ?",
             {std::string(name), version})
        .status();
  });
}

absl::Status SqlRegistry::SetModelVersionTag(absl::string_view name, int64_t version,
                                             const Tag& tag) {
  CHURN_RETURN_IF_ERROR(ValidateTag(tag));
  absl::MutexLock lock(&mu_);
  return Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    CHURN_RETURN_IF_ERROR(TouchModel(name, NowMs()));
    CHURN_RETURN_IF_ERROR(LoadVersion(name, version).status());
    return Q("INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) "
             "ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
             {std::string(name), version, tag.key, tag.value})
        .status();
  });
}

absl::Status SqlRegistry::DeleteModelVersionTag(absl::string_view name, int64_t version,
                                                absl::string_view key) {
  absl::MutexLock lock(&mu_);
  return Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    CHURN_RETURN_IF_ERROR(TouchModel(name, NowMs()));
    CHURN_RETURN_IF_ERROR(LoadVersion(name, version).status());
    return Q("DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?",
             {std::string(name), version, std::string(key)})
        .status();
  });
}

// --- Aliases ------------------------------------------------------------------------------

absl::Status SqlRegistry::RecordAliasMove(const AliasEvent& move) {
  const auto value = [](std::optional<int64_t> v) { return v ? SqlValue(*v) : SqlValue(); };
  return Q("INSERT INTO alias_history (name, alias, version, previous_version, time, actor, "
           "reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
           {move.name, move.alias, value(move.version), value(move.previous_version),
            move.timestamp, move.actor, move.reason})
      .status();
}

absl::Status SqlRegistry::SetAlias(absl::string_view name, absl::string_view alias, int64_t version,
                                   absl::string_view actor, absl::string_view reason) {
  return MoveAlias({.name = std::string(name),
                    .alias = std::string(alias),
                    .version = version,
                    .actor = std::string(actor),
                    .reason = std::string(reason)},
                   nullptr);
}

absl::Status SqlRegistry::SetAliasIf(absl::string_view name, absl::string_view alias,
                                     int64_t version, std::optional<int64_t> expected,
                                     absl::string_view actor, absl::string_view reason) {
  return MoveAlias({.name = std::string(name),
                    .alias = std::string(alias),
                    .version = version,
                    .actor = std::string(actor),
                    .reason = std::string(reason)},
                   &expected);
}

absl::Status SqlRegistry::MoveAlias(AliasEvent move, const std::optional<int64_t>* expected) {
  CHURN_RETURN_IF_ERROR(ValidateAlias(move.alias));
  absl::MutexLock lock(&mu_);
  return Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    move.timestamp = NowMs();
    // TouchModel updates the model's row first: its write lock orders concurrent moves.
    CHURN_RETURN_IF_ERROR(TouchModel(move.name, move.timestamp));
    CHURN_RETURN_IF_ERROR(LoadVersion(move.name, *move.version).status());
    CHURN_ASSIGN_OR_RETURN(const SqlRows current,
                           Q("SELECT version FROM registered_model_aliases WHERE name = ? AND "
                             "alias = ?",
                             {move.name, move.alias}));
    if (!current.empty()) {
      move.previous_version = current.Int(0, 0);
    }
    if (expected != nullptr && *expected != move.previous_version) {
      const auto text = [](const std::optional<int64_t>& v) {
        return v ? absl::StrCat("v", *v) : std::string("nothing");
      };
      return absl::FailedPreconditionError(absl::StrCat(move.name, "@", move.alias, " names ",
                                                        text(move.previous_version), ", not ",
                                                        text(*expected), ": it moved meanwhile"));
    }
    CHURN_RETURN_IF_ERROR(
        Q("INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) "
          "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
          {move.name, move.alias, *move.version})
            .status());
    return RecordAliasMove(move);
  });
}

absl::Status SqlRegistry::DeleteAlias(absl::string_view name, absl::string_view alias,
                                      absl::string_view actor, absl::string_view reason) {
  absl::MutexLock lock(&mu_);
  return Tx([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    const int64_t now = NowMs();
    CHURN_RETURN_IF_ERROR(TouchModel(name, now));
    CHURN_ASSIGN_OR_RETURN(const SqlRows removed,
                           Q("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ? "
                             "RETURNING version",
                             {std::string(name), std::string(alias)}));
    if (removed.empty()) {
      return absl::NotFoundError(
          absl::StrCat("Registered model alias ", alias, " not found for model ", name));
    }
    return RecordAliasMove({.name = std::string(name),
                            .alias = std::string(alias),
                            .previous_version = removed.Int(0, 0),
                            .timestamp = now,
                            .actor = std::string(actor),
                            .reason = std::string(reason)});
  });
}

absl::StatusOr<ModelVersion> SqlRegistry::GetModelVersionByAlias(absl::string_view name,
                                                                 absl::string_view alias) {
  absl::MutexLock lock(&mu_);
  CHURN_ASSIGN_OR_RETURN(
      const SqlRows rows,
      Q("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
        {std::string(name), std::string(alias)}));
  if (rows.empty()) {
    CHURN_RETURN_IF_ERROR(LoadModel(name).status());
    return absl::NotFoundError(
        absl::StrCat("Registered model alias ", alias, " not found for model ", name));
  }
  return LoadVersion(name, rows.Int(0, 0));
}

absl::StatusOr<std::vector<AliasEvent>> SqlRegistry::AliasHistory(absl::string_view name,
                                                                  absl::string_view alias) {
  absl::MutexLock lock(&mu_);
  CHURN_ASSIGN_OR_RETURN(
      const SqlRows rows,
      Q("SELECT id, name, alias, version, previous_version, time, actor, reason FROM "
        "alias_history WHERE name = ? AND (alias = ? OR ? = '') ORDER BY id",
        {std::string(name), std::string(alias), std::string(alias)}));
  std::vector<AliasEvent> out;
  out.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    AliasEvent e;
    e.id = rows.Int(i, 0);
    e.name = rows.Text(i, 1);
    e.alias = rows.Text(i, 2);
    if (!rows.IsNull(i, 3)) {
      e.version = rows.Int(i, 3);
    }
    if (!rows.IsNull(i, 4)) {
      e.previous_version = rows.Int(i, 4);
    }
    e.timestamp = rows.Int(i, 5);
    e.actor = rows.Text(i, 6);
    e.reason = rows.Text(i, 7);
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::optional<int64_t>> SqlRegistry::AliasAt(absl::string_view name,
                                                            absl::string_view alias,
                                                            int64_t time_ms) {
  absl::MutexLock lock(&mu_);
  CHURN_ASSIGN_OR_RETURN(const SqlRows rows,
                         Q("SELECT version FROM alias_history WHERE name = ? AND alias = ? AND "
                           "time <= ? ORDER BY time DESC, id DESC LIMIT 1",
                           {std::string(name), std::string(alias), time_ms}));
  if (rows.empty() || rows.IsNull(0, 0)) {
    return std::optional<int64_t>();
  }
  return std::optional<int64_t>(rows.Int(0, 0));
}

}  // namespace churn::registry::internal
