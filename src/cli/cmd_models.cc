// churn models list | show | alias set|get|history: the model registry from the command line.
#include <cstdlib>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"

namespace churn::cli {
namespace {

using Json = nlohmann::ordered_json;

Json VersionToJson(const registry::ModelVersion& v) {
  Json metrics = Json::object();
  for (const auto& [key, value] : v.metrics) {
    metrics[key] = value;
  }
  Json files = Json::array();
  for (const auto& a : v.artifacts) {
    files.push_back({{"path", a.path}, {"sha256", a.sha256}, {"size", a.size}});
  }
  Json tags = Json::object();
  for (const auto& t : v.tags) {
    tags[t.key] = t.value;
  }
  return {{"name", v.name},
          {"version", v.version},
          {"created", FormatMs(v.creation_timestamp)},
          {"source", v.source},
          {"run_id", v.run_id},
          {"aliases", v.aliases},
          {"metrics", metrics},
          {"tags", tags},
          {"description", v.description},
          {"artifacts", files},
          {"signature", v.signature}};
}

Json EventToJson(const registry::AliasEvent& e) {
  return {{"time", FormatMs(e.timestamp)},
          {"alias", e.alias},
          {"version", e.version ? Json(*e.version) : Json()},
          {"previous_version", e.previous_version ? Json(*e.previous_version) : Json()},
          {"actor", e.actor},
          {"reason", e.reason}};
}

std::string AliasText(const std::vector<std::pair<std::string, int64_t>>& aliases) {
  std::vector<std::string> parts;
  parts.reserve(aliases.size());
  for (const auto& [alias, version] : aliases) {
    parts.push_back(absl::StrCat(alias, "=v", version));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, " ");
}

absl::Status ListModels(const base::Config& config, bool as_json) {
  CHURN_ASSIGN_OR_RETURN(auto reg, OpenConfiguredRegistry(config));
  CHURN_ASSIGN_OR_RETURN(const auto page, reg->SearchRegisteredModels({.max_results = 1000}));
  if (as_json) {
    Json out = Json::array();
    for (const auto& m : page.items) {
      Json aliases = Json::object();
      for (const auto& [alias, version] : m.aliases) {
        aliases[alias] = version;
      }
      out.push_back({{"name", m.name},
                     {"latest_version", m.latest_version ? Json(*m.latest_version) : Json()},
                     {"aliases", aliases},
                     {"updated", FormatMs(m.last_updated_timestamp)},
                     {"description", m.description}});
    }
    Print(out.dump(2) + "\n");
    return absl::OkStatus();
  }
  if (page.items.empty()) {
    Print("no registered models yet (churn train registers one)\n");
    return absl::OkStatus();
  }
  std::string text =
      absl::StrFormat("%-24s %7s  %-24s  %s\n", "MODEL", "LATEST", "UPDATED", "ALIASES");
  for (const auto& m : page.items) {
    absl::StrAppendFormat(&text, "%-24s %7s  %-24s  %s\n", m.name,
                          m.latest_version ? absl::StrCat("v", *m.latest_version) : "-",
                          FormatMs(m.last_updated_timestamp), AliasText(m.aliases));
  }
  Print(text);
  return absl::OkStatus();
}

absl::Status ShowModel(const base::Config& config, const std::string& name, bool as_json) {
  CHURN_ASSIGN_OR_RETURN(auto reg, OpenConfiguredRegistry(config));
  CHURN_ASSIGN_OR_RETURN(const registry::RegisteredModel m, reg->GetRegisteredModel(name));
  CHURN_ASSIGN_OR_RETURN(
      const auto versions,
      reg->SearchModelVersions(
          {.filter = absl::StrCat("name = '", absl::StrReplaceAll(name, {{"'", "''"}}), "'"),
           .max_results = 1000}));
  if (as_json) {
    Json out = {{"name", m.name}, {"description", m.description}, {"versions", Json::array()}};
    for (const auto& v : versions.items) {
      out["versions"].push_back(VersionToJson(v));
    }
    Print(out.dump(2) + "\n");
    return absl::OkStatus();
  }
  std::string text =
      absl::StrFormat("%s  (%d versions; aliases: %s)\n%s%s", m.name, versions.items.size(),
                      AliasText(m.aliases), m.description, m.description.empty() ? "" : "\n");
  absl::StrAppendFormat(&text, "\n%7s  %-24s  %-32s  %-20s  %s\n", "VERSION", "CREATED", "RUN",
                        "ALIASES", "METRICS");
  for (const auto& v : versions.items) {
    std::vector<std::string> metrics;
    for (const auto& [key, value] : v.metrics) {
      metrics.push_back(absl::StrFormat("%s=%.4g", key, value));
    }
    absl::StrAppendFormat(&text, "%7s  %-24s  %-32s  %-20s  %s\n", absl::StrCat("v", v.version),
                          FormatMs(v.creation_timestamp), v.run_id.empty() ? "-" : v.run_id,
                          v.aliases.empty() ? "-" : absl::StrJoin(v.aliases, ","),
                          absl::StrJoin(metrics, " "));
  }
  Print(text);
  return absl::OkStatus();
}

struct AliasFlags {
  std::string name;
  std::string alias;
  int64_t version = 0;
  std::string actor;
  std::string reason;
  std::string at;  // history: the version at this time
  bool json = false;
};

std::string DefaultActor() {
  const char* user = std::getenv("USER");  // NOLINT(concurrency-mt-unsafe): read once, at start
  return absl::StrCat("cli:", user != nullptr ? user : "unknown");
}

absl::Status AliasSet(const base::Config& config, const AliasFlags& f) {
  CHURN_ASSIGN_OR_RETURN(auto reg, OpenConfiguredRegistry(config));
  CHURN_RETURN_IF_ERROR(reg->SetAlias(f.name, f.alias, f.version,
                                      f.actor.empty() ? DefaultActor() : f.actor, f.reason));
  Print(absl::StrCat(f.name, "@", f.alias, " -> v", f.version, "\n"));
  return absl::OkStatus();
}

absl::Status AliasGet(const base::Config& config, const AliasFlags& f) {
  CHURN_ASSIGN_OR_RETURN(auto reg, OpenConfiguredRegistry(config));
  CHURN_ASSIGN_OR_RETURN(const registry::ModelVersion v,
                         reg->GetModelVersionByAlias(f.name, f.alias));
  Print(f.json ? VersionToJson(v).dump(2) + "\n"
               : absl::StrCat(f.name, "@", f.alias, " = v", v.version, "  (run ",
                              v.run_id.empty() ? "-" : v.run_id, ", source ", v.source, ")\n"));
  return absl::OkStatus();
}

absl::Status AliasHistory(const base::Config& config, const AliasFlags& f) {
  CHURN_ASSIGN_OR_RETURN(auto reg, OpenConfiguredRegistry(config));
  if (!f.at.empty()) {
    absl::Time t;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, f.at, &t, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--at '", f.at, "' is not an RFC 3339 time (2026-11-24T14:00:00Z): ", error));
    }
    if (f.alias.empty()) {
      return absl::InvalidArgumentError(
          "--at needs an alias: churn models alias history NAME "
          "ALIAS --at TIME");
    }
    CHURN_ASSIGN_OR_RETURN(const auto version,
                           reg->AliasAt(f.name, f.alias, absl::ToUnixMillis(t)));
    Print(f.json ? Json({{"name", f.name},
                         {"alias", f.alias},
                         {"at", f.at},
                         {"version", version ? Json(*version) : Json()}})
                           .dump(2) +
                       "\n"
                 : absl::StrCat(f.name, "@", f.alias, " at ", f.at, ": ",
                                version ? absl::StrCat("v", *version) : "not set", "\n"));
    return absl::OkStatus();
  }
  CHURN_RETURN_IF_ERROR(reg->GetRegisteredModel(f.name).status());
  CHURN_ASSIGN_OR_RETURN(const auto events, reg->AliasHistory(f.name, f.alias));
  if (f.json) {
    Json out = Json::array();
    for (const auto& e : events) {
      out.push_back(EventToJson(e));
    }
    Print(out.dump(2) + "\n");
    return absl::OkStatus();
  }
  std::string text = absl::StrFormat("%-24s  %-12s  %-9s  %-16s  %s\n", "TIME", "ALIAS", "MOVE",
                                     "ACTOR", "REASON");
  for (const auto& e : events) {
    const std::string from = e.previous_version ? absl::StrCat("v", *e.previous_version) : "-";
    const std::string to = e.version ? absl::StrCat("v", *e.version) : "-";
    absl::StrAppendFormat(&text, "%-24s  %-12s  %-9s  %-16s  %s\n", FormatMs(e.timestamp), e.alias,
                          absl::StrCat(from, ">", to), e.actor, e.reason);
  }
  Print(events.empty() ? "no alias moves recorded\n" : text);
  return absl::OkStatus();
}

void AddAliasCommands(CLI::App* models, Context& ctx) {
  CLI::App* alias = models->add_subcommand("alias", "Point aliases at versions; their history");
  alias->require_subcommand(1);
  auto f = std::make_shared<AliasFlags>();
  CLI::App* set = alias->add_subcommand("set", "Move ALIAS of model NAME to VERSION (recorded)");
  set->add_option("name", f->name, "Registered model")->required();
  set->add_option("alias", f->alias, "Alias, e.g. production or candidate")->required();
  set->add_option("version", f->version, "Version number")->required();
  set->add_option("--reason", f->reason, "Why (kept in the alias history)");
  set->add_option("--actor", f->actor, "Who (default cli:$USER)");
  set->callback([&ctx, f] { ctx.action = [&ctx, f] { return AliasSet(ctx.config, *f); }; });
  CLI::App* get = alias->add_subcommand("get", "The version ALIAS points to now");
  get->add_option("name", f->name, "Registered model")->required();
  get->add_option("alias", f->alias, "Alias")->required();
  get->add_flag("--json", f->json, "Print JSON");
  get->callback([&ctx, f] { ctx.action = [&ctx, f] { return AliasGet(ctx.config, *f); }; });
  CLI::App* history = alias->add_subcommand(
      "history", "Every move of the model's aliases, or which version ALIAS named --at a time");
  history->add_option("name", f->name, "Registered model")->required();
  history->add_option("alias", f->alias, "Only this alias");
  history->add_option("--at", f->at, "RFC 3339 time: print the version ALIAS pointed to then");
  history->add_flag("--json", f->json, "Print JSON");
  history->callback([&ctx, f] { ctx.action = [&ctx, f] { return AliasHistory(ctx.config, *f); }; });
}

}  // namespace

void AddModelsCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("models", "Registered models, versions and aliases");
  cmd->require_subcommand(1);
  auto json_flag = std::make_shared<bool>(false);
  CLI::App* ls = cmd->add_subcommand("list", "Every registered model with its aliases");
  ls->add_flag("--json", *json_flag, "Print JSON");
  ls->callback([&ctx, json_flag] {
    ctx.action = [&ctx, json_flag] { return ListModels(ctx.config, *json_flag); };
  });
  auto name = std::make_shared<std::string>();
  CLI::App* show = cmd->add_subcommand("show", "A model's versions, metrics and aliases");
  show->add_option("name", *name, "Registered model")->required();
  show->add_flag("--json", *json_flag, "Print JSON");
  show->callback([&ctx, name, json_flag] {
    ctx.action = [&ctx, name, json_flag] { return ShowModel(ctx.config, *name, *json_flag); };
  });
  AddAliasCommands(cmd, ctx);
}

}  // namespace churn::cli
