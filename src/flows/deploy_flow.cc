// The deployment flow: resolve the candidate, load it (and production) as the server would,
// re-create the candidate's holdout, compute the five gates, then move the alias or refuse. Every
// gate is computed whatever the others gave, so one run tells everything that is wrong; a gate
// whose inputs could not be made fails with the reason instead of hiding the others.
//
// Helpers are prefixed `Deploy` / `Gate`: the flows module is a unity build, and train_flow.cc
// has helpers of its own in the same anonymous namespace.
#include "churn/flows/deploy_flow.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"
#include "churn/base/time.h"
#include "churn/data/split.h"
#include "churn/features/pipeline.h"
#include "churn/metrics/classification.h"
#include "churn/metrics/percentile.h"
#include "churn/model/scorer.h"
#include "churn/model/xgboost.h"
#include "churn/serving/request_decoder.h"
#include "churn/serving/served_model.h"

namespace churn::flows {
namespace {

using DeployServed = std::shared_ptr<const serving::ServedModel>;

constexpr char kGateContract[] = "contract";
constexpr char kGateAucFloor[] = "auc_floor";
constexpr char kGateNoRegression[] = "no_regression";
constexpr char kGateLatency[] = "latency";
constexpr char kGateScorer[] = "scorer_equals_xgboost";
// The latency gate: untimed requests first (caches, allocator), then up to this many timed
// passes over the canary, keeping the best pass's p99.
constexpr size_t kDeployWarmupRequests = 100;
constexpr int kDeployLatencyPasses = 3;
// Longest gate message (and reason) kept in the version tag, which holds at most 8,000
// characters; a cut through a UTF-8 sequence becomes a replacement character when dumped.
constexpr size_t kDeployTagMessageChars = 600;

std::string DeployTagValue(const std::vector<registry::Tag>& tags, absl::string_view key) {
  for (const registry::Tag& t : tags) {
    if (t.key == key) {
      return t.value;
    }
  }
  return "";
}

std::string DeployParamValue(const registry::Run& run, absl::string_view key) {
  for (const registry::Param& p : run.params) {
    if (p.key == key) {
      return p.value;
    }
  }
  return "";
}

std::string DeployQuote(absl::string_view text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "''"}}), "'");
}

bool DeployIsRunId(absl::string_view id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return absl::ascii_isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
         });
}

absl::Status DeployValidate(const DeployRequest& r) {
  const int candidates =
      (r.version > 0 ? 1 : 0) + (r.alias_ref.empty() ? 0 : 1) + (r.run_id.empty() ? 0 : 1);
  if (r.rollback && candidates > 0) {
    return absl::InvalidArgumentError(
        "--rollback takes no candidate: it returns the alias to its previous version");
  }
  if (!r.rollback && candidates != 1) {
    return absl::InvalidArgumentError(
        "name one candidate: a version (churn@3) or the run it was registered from (--run ID)");
  }
  if (r.rollback && r.force) {
    return absl::InvalidArgumentError("--rollback runs no gates: --force is not needed");
  }
  if (r.force && r.reason.empty()) {
    return absl::InvalidArgumentError(
        "--force needs --reason: why the failed gates may be ignored is kept in the alias history");
  }
  if (!r.run_id.empty() && !DeployIsRunId(r.run_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed run id '", r.run_id, "': expected 32 lowercase hex digits"));
  }
  if (r.model_name.empty()) {
    return absl::InvalidArgumentError("the model name must not be empty");
  }
  const base::DeploySettings& s = r.settings;
  if (s.alias.empty()) {
    return absl::InvalidArgumentError("deploy.alias must not be empty");
  }
  if (s.canary_rows <= 0 || s.canary_rows > 1000000) {
    return absl::InvalidArgumentError(
        absl::StrCat("deploy.canary_rows must be in 1..1000000, got ", s.canary_rows));
  }
  if (!(s.max_p99_ms > 0) || !(s.max_auc_drop >= 0) || !(s.min_test_auc >= 0)) {
    return absl::InvalidArgumentError(
        "deploy.max_p99_ms must be positive, deploy.max_auc_drop and deploy.min_test_auc not "
        "negative");
  }
  return absl::OkStatus();
}

// --- The candidate and production ---------------------------------------------------------

absl::StatusOr<registry::ModelVersion> DeployFindByRun(registry::Registry* reg,
                                                       const std::string& model,
                                                       const std::string& run_id) {
  // The winner trial run a version was registered from; else a study run (the version's tag).
  for (const std::string& filter :
       {absl::StrCat("name = ", DeployQuote(model), " and run_id = ", DeployQuote(run_id)),
        absl::StrCat("name = ", DeployQuote(model),
                     " and tags.study_run_id = ", DeployQuote(run_id))}) {
    CHURN_ASSIGN_OR_RETURN(const auto page,
                           reg->SearchModelVersions({.filter = filter, .max_results = 100}));
    if (page.items.size() == 1) {
      return page.items[0];
    }
    if (page.items.size() > 1) {
      std::vector<std::string> names;
      for (const registry::ModelVersion& v : page.items) {
        names.push_back(absl::StrCat(v.name, "@", v.version));
      }
      return absl::InvalidArgumentError(absl::StrCat("run ", run_id, " is several versions (",
                                                     absl::StrJoin(names, ", "), "): name one"));
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no version of model ", model, " was registered from run ", run_id));
}

absl::StatusOr<registry::ModelVersion> DeployResolveCandidate(registry::Registry* reg,
                                                              const DeployRequest& r) {
  if (!r.run_id.empty()) {
    CHURN_RETURN_IF_ERROR(reg->GetRegisteredModel(r.model_name).status());
    return DeployFindByRun(reg, r.model_name, r.run_id);
  }
  CHURN_ASSIGN_OR_RETURN(const registry::RegisteredModel model,
                         reg->GetRegisteredModel(r.model_name));
  if (!r.alias_ref.empty()) {
    absl::StatusOr<registry::ModelVersion> v = reg->GetModelVersionByAlias(model.name, r.alias_ref);
    if (absl::IsNotFound(v.status())) {
      return absl::NotFoundError(
          absl::StrCat("model ", model.name, " has no alias '", r.alias_ref, "'"));
    }
    return v;
  }
  absl::StatusOr<registry::ModelVersion> v = reg->GetModelVersion(model.name, r.version);
  if (absl::IsNotFound(v.status())) {
    return absl::NotFoundError(absl::StrCat(
        "model ", model.name, " has no version ", r.version, " (latest: ",
        model.latest_version ? absl::StrCat("v", *model.latest_version) : "none", ")"));
  }
  return v;
}

// What `alias` names now; nullopt when it is not set.
absl::StatusOr<std::optional<registry::ModelVersion>> DeployCurrent(registry::Registry* reg,
                                                                    const std::string& model,
                                                                    const std::string& alias) {
  absl::StatusOr<registry::ModelVersion> v = reg->GetModelVersionByAlias(model, alias);
  if (absl::IsNotFound(v.status())) {
    return std::optional<registry::ModelVersion>();
  }
  CHURN_RETURN_IF_ERROR(v.status());
  return std::optional<registry::ModelVersion>(*std::move(v));
}

// --- The holdout ----------------------------------------------------------------------------

struct DeployHoldout {
  std::string description{};
  // "dataset@snapshot/split_seed": two versions with equal identities share their holdout.
  std::string identity{};
  data::Table table{};
  std::vector<float> labels{};
};

// The study run a version came from: its tag, else the parent of its source run.
absl::StatusOr<registry::Run> DeployStudyRun(registry::Registry* reg,
                                             const registry::ModelVersion& v) {
  std::string study = DeployTagValue(v.tags, "study_run_id");
  if (study.empty() && !v.run_id.empty()) {
    CHURN_ASSIGN_OR_RETURN(const registry::Run run, reg->GetRun(v.run_id));
    study = DeployTagValue(run.tags, "mlflow.parentRunId");
  }
  if (study.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(v.name, " v", v.version,
                     " records no training study (tag study_run_id): its holdout "
                     "cannot be re-created"));
  }
  return reg->GetRun(study);
}

struct DeploySplitSpec {
  std::string dataset{};
  std::string snapshot{};
  uint64_t seed = 0;
  std::string fingerprint{};
};

absl::StatusOr<DeploySplitSpec> DeploySplitOf(registry::Registry* reg,
                                              const registry::ModelVersion& v) {
  CHURN_ASSIGN_OR_RETURN(const registry::Run study, DeployStudyRun(reg, v));
  DeploySplitSpec s{.dataset = DeployParamValue(study, "dataset"),
                    .snapshot = DeployParamValue(study, "snapshot"),
                    .fingerprint = DeployParamValue(study, "split_fingerprint")};
  if (s.dataset.empty() || s.snapshot.empty() ||
      !absl::SimpleAtoi(DeployParamValue(study, "split_seed"), &s.seed)) {
    return absl::DataLossError(absl::StrCat("study run ", study.info.run_id,
                                            " lacks its dataset, snapshot or split_seed params"));
  }
  return s;
}

std::string DeployIdentity(const DeploySplitSpec& s) {
  return absl::StrCat(s.dataset, "@", s.snapshot, "/", s.seed);
}

// The test rows of the split the version's study trained with, made again from the snapshot.
absl::StatusOr<DeployHoldout> DeployLoadHoldout(registry::Registry* reg,
                                                features::FeatureStore* store,
                                                const registry::ModelVersion& v) {
  CHURN_ASSIGN_OR_RETURN(const DeploySplitSpec s, DeploySplitOf(reg, v));
  CHURN_ASSIGN_OR_RETURN(const features::SnapshotInfo snap,
                         store->Offline().GetSnapshot(s.dataset, s.snapshot));
  CHURN_ASSIGN_OR_RETURN(const data::Schema schema, store->Offline().LoadSchema(snap));
  CHURN_ASSIGN_OR_RETURN(const data::Table table, store->Offline().LoadTable(snap));
  CHURN_ASSIGN_OR_RETURN(const std::vector<float> labels, features::Labels(table, schema));
  CHURN_ASSIGN_OR_RETURN(const data::Split split, data::StratifiedSplit(labels, {.seed = s.seed}));
  if (!s.fingerprint.empty() && split.Fingerprint() != s.fingerprint) {
    return absl::DataLossError(absl::StrCat("the split of ", s.dataset, "@", s.snapshot,
                                            " no longer matches the one its study recorded"));
  }
  DeployHoldout h;
  h.identity = DeployIdentity(s);
  h.table = data::TakeRows(table, split.test);
  h.labels = data::TakeRows(labels, 1, split.test);
  h.description = absl::StrFormat("%s@%s test split (split_seed %d): %d rows", s.dataset,
                                  s.snapshot, s.seed, split.test.size());
  return h;
}

// A model's probabilities on a table, through its own pipeline (features kept for the scorer
// gate).
struct DeployScored {
  std::vector<float> x{};
  std::vector<float> scores{};
};

absl::StatusOr<DeployScored> DeployScore(const serving::ServedModel& m, const data::Table& t) {
  DeployScored s;
  CHURN_ASSIGN_OR_RETURN(s.x, m.Pipeline().Transform(t));
  s.scores.resize(t.NumRows());
  m.Trees().PredictBatch(s.x, t.NumRows(), absl::MakeSpan(s.scores));
  return s;
}

// Everything the gates look at. A failed input is kept as its status: the gates that need it
// fail with it, the others still run.
struct DeployInputs {
  const DeployRequest* request = nullptr;
  registry::ModelVersion version{};
  absl::StatusOr<DeployServed> candidate = absl::UnknownError("not loaded");
  std::optional<registry::ModelVersion> production_version{};
  absl::StatusOr<DeployServed> production = absl::UnknownError("not loaded");
  absl::StatusOr<DeployHoldout> holdout = absl::UnknownError("not made");
  absl::StatusOr<DeployScored> scored = absl::UnknownError("not scored");
};

// Why the candidate-side inputs are missing, or OK.
absl::Status DeployCandidateInputs(const DeployInputs& in) {
  if (!in.candidate.ok()) {
    return {in.candidate.status().code(),
            absl::StrCat("the candidate does not load: ", in.candidate.status().message())};
  }
  if (!in.holdout.ok()) {
    return {in.holdout.status().code(), absl::StrCat("cannot re-create the candidate's holdout: ",
                                                     in.holdout.status().message())};
  }
  if (!in.scored.ok()) {
    return {in.scored.status().code(),
            absl::StrCat("the candidate cannot score its holdout: ", in.scored.status().message())};
  }
  return absl::OkStatus();
}

GateResult GateFailed(GateResult g, const absl::Status& why) {
  g.passed = false;
  g.message = std::string(why.message());
  return g;
}

// --- contract -------------------------------------------------------------------------------

void DeployFieldProblems(const data::ColumnSpec& p, const data::ColumnSpec& c,
                         const std::string& field, std::vector<std::string>* problems) {
  if (p.type != c.type) {
    problems->push_back(absl::StrCat("field '", field, "': ", data::ToString(p.type),
                                     " in production, ", data::ToString(c.type),
                                     " in the candidate"));
    return;
  }
  if (p.allow_missing && !c.allow_missing) {
    problems->push_back(
        absl::StrCat("field '", field, "' is optional in production, required by the candidate"));
  }
  std::vector<std::string> lost;
  for (const std::string& level : p.levels) {
    if (c.LevelIndex(level) < 0) {
      lost.push_back(level);
    }
  }
  if (!lost.empty()) {
    problems->push_back(absl::StrCat("field '", field, "': levels ", absl::StrJoin(lost, ", "),
                                     " of production are unknown to the candidate"));
  }
  if (c.min && (!p.min || *p.min < *c.min)) {
    problems->push_back(absl::StrCat("field '", field, "': minimum ", *c.min,
                                     " refuses values production accepts"));
  }
  if (c.max && (!p.max || *p.max > *c.max)) {
    problems->push_back(absl::StrCat("field '", field, "': maximum ", *c.max,
                                     " refuses values production accepts"));
  }
}

// Every way a request production accepts could be refused by the candidate.
std::vector<std::string> DeployContractProblems(const data::Schema& production,
                                                const data::Schema& candidate) {
  std::map<std::string, const data::ColumnSpec*, std::less<>> fields;
  for (const data::ColumnSpec* c : candidate.Features()) {
    fields[absl::AsciiStrToLower(c->name)] = c;
  }
  std::vector<std::string> problems;
  for (const data::ColumnSpec* p : production.Features()) {
    const std::string field = absl::AsciiStrToLower(p->name);
    const auto it = fields.find(field);
    if (it == fields.end()) {
      problems.push_back(
          absl::StrCat("field '", field, "' of production is unknown to the candidate"));
      continue;
    }
    DeployFieldProblems(*p, *it->second, field, &problems);
    fields.erase(it);
  }
  for (const auto& [field, c] : fields) {
    if (!c->allow_missing) {
      problems.push_back(
          absl::StrCat("new field '", field, "' is required: production's clients do not send it"));
    }
  }
  return problems;
}

GateResult GateContract(const DeployInputs& in) {
  GateResult g{.name = kGateContract, .limit = 0, .op = "<="};
  if (!in.production_version) {
    g.passed = true;
    g.measured = 0;
    g.message = "first deployment: no production contract to keep";
    return g;
  }
  const int64_t pv = in.production_version->version;
  if (!in.candidate.ok()) {
    return GateFailed(g, DeployCandidateInputs(in));
  }
  if (!in.production.ok()) {
    return GateFailed(g, absl::InternalError(absl::StrCat("production v", pv, " does not load: ",
                                                          in.production.status().message())));
  }
  const std::vector<std::string> problems =
      DeployContractProblems((*in.production)->Schema(), (*in.candidate)->Schema());
  g.measured = static_cast<double>(problems.size());
  g.passed = problems.empty();
  g.message =
      problems.empty()
          ? absl::StrCat("accepts every request production v", pv, " accepts (",
                         (*in.production)->Schema().Features().size(), " fields)")
          : absl::StrCat("breaks production v", pv, "'s contract: ", absl::StrJoin(problems, "; "));
  return g;
}

// --- auc_floor ------------------------------------------------------------------------------

GateResult GateAucFloor(const DeployInputs& in) {
  GateResult g{.name = kGateAucFloor, .limit = in.request->settings.min_test_auc, .op = ">="};
  for (const auto& [key, value] : in.version.metrics) {
    if (key == "test_auc") {
      g.measured = value;
    }
  }
  if (std::isnan(g.measured)) {
    g.message = "the version records no test_auc metric";
    return g;
  }
  g.passed = g.measured >= g.limit;
  g.message = absl::StrFormat("test ROC-AUC %.5f %s the floor %.5f", g.measured,
                              g.passed ? "meets" : "is below", g.limit);
  return g;
}

// --- no_regression --------------------------------------------------------------------------

// Whether production was trained on the same split as the candidate ("" when so).
std::string DeploySplitNote(registry::Registry* reg, const DeployInputs& in) {
  const absl::StatusOr<DeploySplitSpec> p = DeploySplitOf(reg, *in.production_version);
  if (p.ok() && DeployIdentity(*p) == in.holdout->identity) {
    return "";
  }
  return " (production was trained on another split and may have seen some of these rows, "
         "which can only favour it)";
}

GateResult GateNoRegression(registry::Registry* reg, const DeployInputs& in) {
  GateResult g{.name = kGateNoRegression, .limit = in.request->settings.max_auc_drop, .op = "<="};
  if (!in.production_version) {
    g.passed = true;
    g.skipped = true;
    g.message = "no production version: nothing to regress from";
    return g;
  }
  const int64_t pv = in.production_version->version;
  if (absl::Status s = DeployCandidateInputs(in); !s.ok()) {
    return GateFailed(g, s);
  }
  if (!in.production.ok()) {
    return GateFailed(g, absl::InternalError(absl::StrCat("production v", pv, " does not load: ",
                                                          in.production.status().message())));
  }
  const absl::StatusOr<DeployScored> prod = DeployScore(**in.production, in.holdout->table);
  if (!prod.ok()) {
    return GateFailed(
        g, absl::InternalError(absl::StrCat(
               "production v", pv, " cannot score the holdout: ", prod.status().message())));
  }
  const absl::StatusOr<double> cand_auc = metrics::RocAuc(in.holdout->labels, in.scored->scores);
  const absl::StatusOr<double> prod_auc = metrics::RocAuc(in.holdout->labels, prod->scores);
  if (!cand_auc.ok() || !prod_auc.ok()) {
    return GateFailed(g, cand_auc.ok() ? prod_auc.status() : cand_auc.status());
  }
  g.measured = *prod_auc - *cand_auc;
  g.passed = g.measured <= g.limit;
  g.message = absl::StrFormat(
      "ROC-AUC on the candidate's %d holdout rows: production v%d %.5f, "
      "candidate %.5f%s",
      in.holdout->labels.size(), pv, *prod_auc, *cand_auc, DeploySplitNote(reg, in));
  return g;
}

// --- latency --------------------------------------------------------------------------------

// `n` request bodies as clients send them, cycling over the holdout's rows.
std::vector<std::string> DeployCanaryRequests(const data::Schema& schema, const data::Table& t,
                                              size_t n) {
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(serving::RecordJson(schema, t, i % t.NumRows()));
  }
  return out;
}

double DeployThreadCpuMs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

// One timed pass over the canary: percentiles of each request's wall-clock time (the latency a
// client sees) and of its thread CPU time (the work alone: on a loaded machine the two differ).
struct DeployLatencyPass {
  double p99_ms = std::numeric_limits<double>::infinity();
  double p50_ms = std::numeric_limits<double>::infinity();
  double cpu_p99_ms = std::numeric_limits<double>::infinity();
};

// Each request's work as the model server does it: decode and encode the record, predict, and
// the TreeSHAP reasons when the server gives them.
absl::StatusOr<DeployLatencyPass> DeployTimeRequests(const serving::RequestDecoder& decoder,
                                                     const model::CompiledModel& trees,
                                                     const std::vector<std::string>& requests,
                                                     size_t count, int reasons) {
  std::vector<double> wall;
  std::vector<double> cpu;
  wall.reserve(count);
  cpu.reserve(count);
  serving::DecodedRecord record;
  volatile float sink = 0;  // keeps the work observable
  for (size_t i = 0; i < count; ++i) {
    const double cpu_start = DeployThreadCpuMs();
    const auto start = std::chrono::steady_clock::now();
    CHURN_RETURN_IF_ERROR(decoder.DecodeOne(requests[i], &record));
    float p = trees.Predict(record.features);
    if (reasons > 0) {
      const std::vector<float> phi = trees.Contributions(record.features);
      const std::vector<model::Reason> top = model::TopReasons(phi, static_cast<size_t>(reasons));
      p += top.empty() ? 0.0F : top[0].contribution;
    }
    const auto end = std::chrono::steady_clock::now();
    cpu.push_back(DeployThreadCpuMs() - cpu_start);
    sink = sink + p;
    wall.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  return DeployLatencyPass{.p99_ms = metrics::NearestRankPercentile(wall, 0.99),
                           .p50_ms = metrics::NearestRankPercentile(wall, 0.50),
                           .cpu_p99_ms = metrics::NearestRankPercentile(cpu, 0.99)};
}

GateResult GateLatency(const DeployInputs& in) {
  const base::DeploySettings& s = in.request->settings;
  GateResult g{.name = kGateLatency, .limit = s.max_p99_ms, .op = "<=", .unit = "ms"};
  if (absl::Status st = DeployCandidateInputs(in); !st.ok()) {
    return GateFailed(g, st);
  }
  const serving::ServedModel& m = **in.candidate;
  absl::StatusOr<serving::RequestDecoder> decoder = serving::RequestDecoder::Create(
      m.Schema(), m.Pipeline(), serving::UnknownCategoryPolicy::kReject);
  if (!decoder.ok()) {
    return GateFailed(g, decoder.status());
  }
  const auto n = static_cast<size_t>(s.canary_rows);
  const std::vector<std::string> requests = DeployCanaryRequests(m.Schema(), in.holdout->table, n);
  const int reasons = in.request->reasons;
  // Untimed first (caches, allocator); then the best of up to kDeployLatencyPasses passes, so
  // that one burst of preemption on a shared machine does not decide.
  absl::StatusOr<DeployLatencyPass> pass = DeployTimeRequests(
      *decoder, m.Trees(), requests, std::min(n, kDeployWarmupRequests), reasons);
  DeployLatencyPass best;
  int passes = 0;
  while (pass.ok() && passes < kDeployLatencyPasses && !(best.p99_ms <= g.limit)) {
    pass = DeployTimeRequests(*decoder, m.Trees(), requests, n, reasons);
    ++passes;
    if (pass.ok() && pass->p99_ms < best.p99_ms) {
      best = *pass;
    }
  }
  if (!pass.ok()) {
    return GateFailed(g, absl::InvalidArgumentError(absl::StrCat("a canary request was refused: ",
                                                                 pass.status().message())));
  }
  g.measured = best.p99_ms;
  g.passed = best.p99_ms <= g.limit;
  g.message = absl::StrFormat(
      "p99 %.3f ms (p50 %.3f ms; CPU p99 %.3f ms) over %d single-row requests from %d holdout "
      "rows: decode, encode, predict%s; best of %d pass%s",
      best.p99_ms, best.p50_ms, best.cpu_p99_ms, n, std::min(n, in.holdout->table.NumRows()),
      reasons > 0 ? absl::StrCat(", top-", reasons, " TreeSHAP reasons") : "", passes,
      passes == 1 ? "" : "es");
  return g;
}

// --- scorer_equals_xgboost ------------------------------------------------------------------

// The version's model.json: its source is runs:/<run_id>/<path> (FailedPrecondition otherwise).
absl::StatusOr<std::string> DeployModelJson(registry::Registry* reg,
                                            const registry::ModelVersion& v) {
  const std::string prefix = absl::StrCat("runs:/", v.run_id, "/");
  if (v.run_id.empty() || !absl::StartsWith(v.source, prefix)) {
    return absl::FailedPreconditionError(
        absl::StrCat("version source '", v.source, "' is not a run's artifacts"));
  }
  std::string path = v.source.substr(prefix.size());
  while (!path.empty() && path.back() == '/') {
    path.pop_back();
  }
  return reg->ReadArtifact(v.run_id,
                           path.empty() ? "model.json" : absl::StrCat(path, "/model.json"));
}

absl::StatusOr<double> DeployMaxScorerDiff(registry::Registry* reg, const DeployInputs& in,
                                           size_t rows) {
  const serving::ServedModel& m = **in.candidate;
  const size_t cols = m.Pipeline().NumFeatures();
  CHURN_ASSIGN_OR_RETURN(const std::string json, DeployModelJson(reg, in.version));
  CHURN_ASSIGN_OR_RETURN(const model::Booster booster, model::Booster::Load(json));
  const absl::Span<const float> x = absl::MakeConstSpan(in.scored->x).subspan(0, rows * cols);
  CHURN_ASSIGN_OR_RETURN(const std::vector<float> xgb, booster.PredictDense(x, rows, cols));
  double worst = 0;
  for (size_t i = 0; i < rows; ++i) {
    const float ours = in.scored->scores[i];
    const bool both_nan = std::isnan(ours) && std::isnan(xgb[i]);
    const double diff = std::fabs(static_cast<double>(ours) - static_cast<double>(xgb[i]));
    worst = both_nan ? worst
                     : (std::isnan(diff) ? std::numeric_limits<double>::infinity()
                                         : std::max(worst, diff));
  }
  return worst;
}

GateResult GateScorer(registry::Registry* reg, const DeployInputs& in) {
  GateResult g{.name = kGateScorer, .limit = kScorerTolerance, .op = "<="};
  if (absl::Status s = DeployCandidateInputs(in); !s.ok()) {
    return GateFailed(g, s);
  }
  const size_t rows =
      std::min(static_cast<size_t>(in.request->settings.canary_rows), in.holdout->table.NumRows());
  const absl::StatusOr<double> worst = DeployMaxScorerDiff(reg, in, rows);
  if (!worst.ok()) {
    return GateFailed(g, worst.status());
  }
  const serving::ServedModel& m = **in.candidate;
  g.measured = *worst;
  g.passed = *worst <= g.limit;
  g.message = absl::StrFormat(
      "largest |compiled - XGBoost| probability over %d canary rows; the load-time check on %d "
      "reference rows passed",
      rows, m.ReferenceRows().size() / std::max<size_t>(m.Pipeline().NumFeatures(), 1));
  return g;
}

// --- The flow -------------------------------------------------------------------------------

std::vector<GateResult> DeployRunGates(registry::Registry* reg, features::FeatureStore* store,
                                       const DeployRequest& request,
                                       const registry::ModelVersion& version,
                                       const std::optional<registry::ModelVersion>& production,
                                       std::string* holdout_text) {
  DeployInputs in{.request = &request, .version = version, .production_version = production};
  in.candidate = serving::LoadServedModel(*reg, {.name = version.name, .version = version.version});
  if (production) {
    in.production =
        serving::LoadServedModel(*reg, {.name = production->name, .version = production->version});
  }
  in.holdout = DeployLoadHoldout(reg, store, version);
  if (in.holdout.ok()) {
    *holdout_text = in.holdout->description;
  }
  if (in.candidate.ok() && in.holdout.ok()) {
    in.scored = DeployScore(**in.candidate, in.holdout->table);
  }
  return {GateContract(in), GateAucFloor(in), GateNoRegression(reg, in), GateLatency(in),
          GateScorer(reg, in)};
}

nlohmann::ordered_json DeployGateJson(const GateResult& g, size_t max_message) {
  const auto number = [](double v) {
    return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json();
  };
  return {{"name", g.name},       {"passed", g.passed},
          {"skipped", g.skipped}, {"measured", number(g.measured)},
          {"op", g.op},           {"limit", number(g.limit)},
          {"unit", g.unit},       {"message", g.message.substr(0, max_message)}};
}

// The attempt's verdict on the version, for audits.
absl::Status DeployRecordGates(registry::Registry* reg, const DeployOutcome& out) {
  nlohmann::ordered_json gates = nlohmann::ordered_json::array();
  for (const GateResult& g : out.gates) {
    gates.push_back(DeployGateJson(g, kDeployTagMessageChars));
  }
  const nlohmann::ordered_json record = {
      {"at", base::FormatRfc3339(absl::Now())},
      {"result", out.deployed ? (out.forced ? "forced" : "deployed") : "refused"},
      {"alias", out.alias},
      {"previous_version", out.previous_version ? nlohmann::ordered_json(*out.previous_version)
                                                : nlohmann::ordered_json()},
      {"actor", out.actor},
      {"reason", out.reason.substr(0, kDeployTagMessageChars)},
      {"holdout", out.holdout},
      {"gates", gates}};
  return reg->SetModelVersionTag(
      out.model_name, out.version,
      {kDeployGatesTag,
       record.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)});
}

absl::StatusOr<DeployOutcome> DeployRollback(registry::Registry* reg, const DeployRequest& r) {
  const std::string& alias = r.settings.alias;
  CHURN_RETURN_IF_ERROR(reg->GetRegisteredModel(r.model_name).status());
  CHURN_ASSIGN_OR_RETURN(const std::vector<registry::AliasEvent> events,
                         reg->AliasHistory(r.model_name, alias));
  if (events.empty() || !events.back().previous_version) {
    return absl::FailedPreconditionError(absl::StrCat(
        r.model_name, "@", alias, " named no version before ",
        events.empty() ? "(it was never set)" : "its last move", ": nothing to roll back to"));
  }
  const registry::AliasEvent& last = events.back();
  DeployOutcome out{.model_name = r.model_name,
                    .alias = alias,
                    .version = *last.previous_version,
                    .previous_version = last.version,
                    .dry_run = r.dry_run,
                    .rollback = true,
                    .actor = r.actor};
  absl::StatusOr<registry::ModelVersion> target = reg->GetModelVersion(r.model_name, out.version);
  if (absl::IsNotFound(target.status())) {
    return absl::FailedPreconditionError(absl::StrCat("cannot roll back to ", r.model_name, " v",
                                                      out.version, ": it has been deleted"));
  }
  CHURN_RETURN_IF_ERROR(target.status());
  out.run_id = target->run_id;
  const std::string from = last.version ? absl::StrCat("v", *last.version) : "nothing";
  out.reason = absl::StrCat(
      "rollback ", from, " -> v", out.version,
      " (no gates): ", r.reason.empty() ? "back to the version before the last move" : r.reason);
  if (r.dry_run) {
    return out;
  }
  CHURN_RETURN_IF_ERROR(
      reg->SetAliasIf(r.model_name, alias, out.version, out.previous_version, r.actor, out.reason));
  out.deployed = true;
  return out;
}

}  // namespace

std::string DeployOutcome::FailedGates() const {
  std::vector<std::string> failed;
  for (const GateResult& g : gates) {
    if (!g.passed) {
      failed.push_back(g.name);
    }
  }
  return absl::StrJoin(failed, ",");
}

std::string DeployOutcome::ToJson(int indent) const {
  nlohmann::ordered_json gates_json = nlohmann::ordered_json::array();
  for (const GateResult& g : gates) {
    gates_json.push_back(DeployGateJson(g, std::string::npos));
  }
  const auto optional = [](const std::optional<int64_t>& v) {
    return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
  };
  const nlohmann::ordered_json j = {{"model", model_name},
                                    {"alias", alias},
                                    {"version", version},
                                    {"run_id", run_id},
                                    {"previous_version", optional(previous_version)},
                                    {"deployed", deployed},
                                    {"gates_passed", gates_passed},
                                    {"dry_run", dry_run},
                                    {"forced", forced},
                                    {"rollback", rollback},
                                    {"already_current", already_current},
                                    {"actor", actor},
                                    {"reason", reason},
                                    {"holdout", holdout},
                                    {"gates", gates_json}};
  // Replacement characters for invalid UTF-8 (a reason is whatever the caller typed).
  return j.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

absl::StatusOr<DeployOutcome> RunDeployFlow(registry::Registry* registry,
                                            features::FeatureStore* store,
                                            const DeployRequest& request) {
  CHURN_RETURN_IF_ERROR(DeployValidate(request));
  if (request.rollback) {
    return DeployRollback(registry, request);
  }
  CHURN_ASSIGN_OR_RETURN(const registry::ModelVersion version,
                         DeployResolveCandidate(registry, request));
  const std::string& alias = request.settings.alias;
  CHURN_ASSIGN_OR_RETURN(const std::optional<registry::ModelVersion> production,
                         DeployCurrent(registry, version.name, alias));
  DeployOutcome out{.model_name = version.name,
                    .alias = alias,
                    .version = version.version,
                    .run_id = version.run_id,
                    .dry_run = request.dry_run,
                    .actor = request.actor,
                    .reason = request.reason};
  if (production) {
    out.previous_version = production->version;
    if (production->version == version.version) {
      out.already_current = true;
      return out;
    }
  }
  out.gates = DeployRunGates(registry, store, request, version, production, &out.holdout);
  out.gates_passed = out.FailedGates().empty();
  if (request.dry_run) {
    return out;
  }
  if (out.gates_passed || request.force) {
    out.forced = !out.gates_passed;
    if (out.reason.empty()) {
      out.reason = kDefaultDeployReason;
    }
    if (out.forced) {
      out.reason = absl::StrCat("FORCED past failed gates (", out.FailedGates(), "): ", out.reason);
    }
    // Only over the version the gates compared against: a deploy that ran meanwhile wins.
    CHURN_RETURN_IF_ERROR(registry->SetAliasIf(out.model_name, alias, out.version,
                                               out.previous_version, out.actor, out.reason));
    out.deployed = true;
  }
  absl::Status recorded = DeployRecordGates(registry, out);
  if (!recorded.ok()) {
    return absl::Status(
        recorded.code(),
        absl::StrCat(out.deployed ? "the alias moved, but " : "",
                     "recording the gate results on the version failed: ", recorded.message()));
  }
  return out;
}

}  // namespace churn::flows
