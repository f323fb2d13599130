// File: churn/flows/deploy_flow.h
//
// The deployment flow, the use case behind `churn deploy`: a candidate model version passes
// every gate, then the alias `production` (DeploySettings::alias) moves to it, recorded in the
// alias history with the actor and the reason. The gates, each computed and reported even when
// an earlier one failed:
//
//   contract               the candidate accepts every request production accepts: each field
//                          production takes exists with the same type, no field optional in
//                          production (or new) is required, categorical levels and numeric
//                          ranges are supersets. Passes with "first deployment" when nothing is
//                          in production.
//   auc_floor              the version's test_auc metric >= min_test_auc.
//   no_regression          production's ROC-AUC minus the candidate's <= max_auc_drop, both
//                          scored on the candidate's holdout: the test rows of the split its
//                          study made (dataset snapshot and split seed from the study run's
//                          params, re-split with data::StratifiedSplit and checked against the
//                          recorded split fingerprint), each model through its own pipeline.
//                          Skipped (passed) when nothing is in production.
//   latency                the p99 of one request's scoring work as the server does it (decode
//                          the JSON record with the contract and encode it with the pipeline,
//                          CompiledModel::Predict, Contributions and TopReasons for the reasons)
//                          over canary_rows single-row requests made from holdout rows, <=
//                          max_p99_ms; the best of up to three passes, so that one preemption on
//                          a loaded machine does not decide.
//   scorer_equals_xgboost  the compiled scorer's probabilities equal XGBoost's
//                          (Booster::PredictDense of the version's model.json) within 1e-6 on the
//                          canary rows, beside the check LoadServedModel makes on every load.
//
// The alias never moves when a gate failed, unless the request forces it with a reason (which
// the alias history keeps, marked as forced). A dry run computes the gates and writes nothing.
// Every real attempt (deployed, forced or refused) records the gate results on the candidate
// version as the tag `churn.deploy.gates` (compact JSON), so the decision is auditable. A
// rollback needs no gates: it points the alias back at the version it named before its last
// move (the alias history's previous_version), so a second rollback undoes the first.
//
// Not atomic against a concurrent deployment of the same alias: the last SetAlias wins (both are
// in the alias history).
#ifndef CHURN_FLOWS_DEPLOY_FLOW_H_
#define CHURN_FLOWS_DEPLOY_FLOW_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "churn/base/config.h"
#include "churn/features/feature_store.h"
#include "churn/registry/registry.h"

namespace churn::flows {

// The alias history reason when a deployment gives none.
inline constexpr char kDefaultDeployReason[] = "churn deploy: gates passed";
// The model-version tag holding the last deployment attempt's gate results.
inline constexpr char kDeployGatesTag[] = "churn.deploy.gates";
// Largest |compiled - XGBoost| probability difference scorer_equals_xgboost accepts.
inline constexpr double kScorerTolerance = 1e-6;

struct DeployRequest {
  // The registered model (for `run_id` and rollbacks; a candidate version names its own).
  std::string model_name = "churn";
  // The candidate: a version number, or an alias resolved now (e.g. "candidate"), or the run a
  // version was registered from (its winner trial run, or its study run). Exactly one, unless
  // `rollback`.
  int64_t version = 0;
  std::string alias_ref{};
  std::string run_id{};
  // Point the alias back at its previous version instead (no candidate, no gates).
  bool rollback = false;
  // Compute the gates, write nothing.
  bool dry_run = false;
  // Move the alias even when a gate failed. REQUIRES: a non-empty `reason`.
  bool force = false;
  // Who and why, for the alias history. Empty reason: kDefaultDeployReason (or, for a rollback,
  // one naming both versions).
  std::string actor = "churn deploy";
  std::string reason{};
  base::DeploySettings settings{};
  // Reasons (TreeSHAP top features) the server gives per answer; 0 skips them in the latency
  // gate as the server does.
  int reasons = 3;
};

// One gate's verdict.
struct GateResult {
  std::string name{};
  bool passed = false;
  // Not applicable (no production to compare with): counts as passed.
  bool skipped = false;
  // What was measured and the limit it was held to (NaN when there is none), compared with
  // `op` ("<=" or ">="), in `unit` ("" or "ms").
  double measured = std::numeric_limits<double>::quiet_NaN();
  double limit = std::numeric_limits<double>::quiet_NaN();
  std::string op{};
  std::string unit{};
  std::string message{};
};

struct DeployOutcome {
  std::string model_name{};
  std::string alias{};
  // The candidate (for a rollback: the version the alias goes back to).
  int64_t version = 0;
  std::string run_id{};
  // What the alias named before (nullopt: nothing).
  std::optional<int64_t> previous_version{};
  std::vector<GateResult> gates{};
  // Every gate passed (false for a rollback or an already-current candidate: no gates ran).
  bool gates_passed = false;
  // The alias moved.
  bool deployed = false;
  bool dry_run = false;
  // The alias moved although a gate failed.
  bool forced = false;
  bool rollback = false;
  // The candidate already was what the alias names: nothing to do.
  bool already_current = false;
  std::string actor{};
  std::string reason{};
  // The rows the quality gates scored, e.g. "d@1a2b3c4d5e6f7a8b test split (split_seed 42):
  // 600 rows"; empty when no holdout was made.
  std::string holdout{};

  // The failed gates' names, comma-separated ("" when none).
  std::string FailedGates() const;
  // The outcome as JSON (compact when indent < 0); NaN measurements are null.
  std::string ToJson(int indent = -1) const;
};

// Runs the gates on the candidate and moves the alias (see the file comment). An outcome whose
// gates failed is not an error: the caller looks at gates_passed / deployed. InvalidArgument for
// a malformed request (no candidate or several, --force without a reason, a malformed run id),
// NotFound for an unknown model, version, alias or run, FailedPrecondition for a rollback with
// nothing to go back to; registry and feature-store errors as they come. `store` is not used by
// a rollback and may then be null.
absl::StatusOr<DeployOutcome> RunDeployFlow(registry::Registry* registry,
                                            features::FeatureStore* store,
                                            const DeployRequest& request);

}  // namespace churn::flows

#endif  // CHURN_FLOWS_DEPLOY_FLOW_H_
