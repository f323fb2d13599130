// File: churn/model/xgboost.h
//
// XGBoost (the Debian libxgboost-dev 1.7.4 C API), wrapped in one place: src/model/xgboost.cc is
// the only file that includes <xgboost/c_api.h>. Handles are RAII and move-only; every C API
// error comes back as an absl::Status carrying XGBGetLastError()'s text.
//
// Training is binary:logistic with tree_method=hist by default, one boosting round at a time,
// so that a caller sees the validation metric after every round (for pruning) and early
// stopping keeps the best iteration only.
//
//   CHURN_ASSIGN_OR_RETURN(DMatrix train, DMatrix::FromDense(x, rows, cols, labels));
//   CHURN_ASSIGN_OR_RETURN(DMatrix valid, DMatrix::FromDense(vx, vrows, cols, vlabels));
//   CHURN_ASSIGN_OR_RETURN(TrainResult r, Train({.params = {{"max_depth", "4"}}}, train, valid));
//   CHURN_ASSIGN_OR_RETURN(std::vector<float> p, r.booster.Predict(valid));
//
// A Booster is not safe for concurrent mutation; Predict* may be called from several threads
// only on distinct Boosters. DMatrix objects must not be shared between concurrently training
// boosters (XGBoost caches its histogram index inside the DMatrix): give each worker its own.
#ifndef CHURN_MODEL_XGBOOST_H_
#define CHURN_MODEL_XGBOOST_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace churn::model {

// "1.7.4": the linked library's version.
std::string XgboostVersion();

class DMatrix {
 public:
  // A dense row-major matrix of rows x cols floats (NaN = missing) with optional labels (empty,
  // or one per row). InvalidArgument when the sizes disagree, cols is 0, or XGBoost refuses the
  // values (an infinity) or the labels (NaN). `values` is copied.
  static absl::StatusOr<DMatrix> FromDense(absl::Span<const float> values, size_t rows, size_t cols,
                                           absl::Span<const float> labels);

  DMatrix(DMatrix&& other) noexcept;
  DMatrix& operator=(DMatrix&& other) noexcept;
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;
  ~DMatrix();

  size_t Rows() const { return rows_; }

  size_t Cols() const { return cols_; }

  void* Handle() const { return handle_; }

 private:
  DMatrix(void* handle, size_t rows, size_t cols) : handle_(handle), rows_(rows), cols_(cols) {}

  void* handle_ = nullptr;
  size_t rows_ = 0;
  size_t cols_ = 0;
};

// The size of a tree ensemble: what serving it costs.
struct ModelSize {
  int64_t trees = 0;
  int64_t nodes = 0;  // split and leaf nodes over all trees
  int64_t leaves = 0;
  int64_t max_depth = 0;
};

class Booster {
 public:
  // Loads a model saved by SaveJson or SaveUbj (the format is detected), or by another XGBoost
  // 1.7's save_model. InvalidArgument for anything else. XGBoost 1.7.4 trusts what it loads (a
  // truncated UBJ buffer or an out-of-range node index is a buffer overflow), so the document is
  // parsed and its trees checked first; a JSON text model holding NaN (a diverged training)
  // fails that parse: save it as UBJ.
  static absl::StatusOr<Booster> Load(absl::string_view bytes);

  // An empty booster: every call fails with FailedPrecondition.
  Booster() = default;
  Booster(Booster&& other) noexcept;
  Booster& operator=(Booster&& other) noexcept;
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;
  ~Booster();

  absl::StatusOr<std::string> SaveJson() const;
  absl::StatusOr<std::string> SaveUbj() const;

  // Boosting rounds in the model.
  absl::StatusOr<int> NumRounds() const;
  absl::StatusOr<ModelSize> Size() const;

  // Probabilities of the positive class, one per row of `data`. Every Predict* and Contributions
  // is InvalidArgument unless the data has the model's number of features (XGBoost itself would
  // take fewer columns as missing ones).
  absl::StatusOr<std::vector<float>> Predict(const DMatrix& data) const;
  // The same for a dense row-major block (XGBoosterPredictFromDense); no DMatrix needed.
  absl::StatusOr<std::vector<float>> PredictDense(absl::Span<const float> values, size_t rows,
                                                  size_t cols) const;
  // SHAP contributions (pred_contribs): rows x (cols + 1) margins, the last column of each row
  // being the bias; each row sums to the margin of its prediction.
  absl::StatusOr<std::vector<float>> Contributions(const DMatrix& data) const;
  // Total gain per feature index (0 for features never split on); `num_features` entries.
  // InvalidArgument when the model splits on a feature at or past `num_features`.
  absl::StatusOr<std::vector<double>> GainImportance(size_t num_features) const;

  void* Handle() const { return handle_; }

 private:
  friend struct BoosterAccess;

  explicit Booster(void* handle) : handle_(handle) {}

  void* handle_ = nullptr;
};

struct TrainOptions {
  // XGBoost parameters applied after the defaults (objective=binary:logistic,
  // tree_method=hist, eval_metric=auc, nthread=1, verbosity=0, seed=0); a later pair wins, also
  // over an alias (learning_rate/eta, random_state/seed, n_jobs/nthread, ...). eval_metric names
  // the one metric evaluated (it replaces auc; XGBoost itself would add it to a list).
  std::vector<std::pair<std::string, std::string>> params{};
  int max_rounds = 2000;
  // Stop when the validation metric has not improved for this many rounds; 0 disables.
  int early_stopping_rounds = 50;
  // Whether a larger validation metric is better (auc: yes; logloss: no).
  bool maximize = true;
  // Called after every round with the round (0-based) and the validation metric; returning
  // false stops training (the trial was pruned). May be empty.
  std::function<bool(int round, double value)> on_round{};
};

struct TrainResult {
  // Sliced to [0, best_iteration] when early stopping is on (also when the callback stopped
  // training); all rounds_trained rounds otherwise.
  Booster booster;
  // 0-based round with the best validation metric (the first to reach it), early stopping on
  // or off.
  int best_iteration = 0;
  double best_score = 0.0;  // the validation metric at best_iteration
  int rounds_trained = 0;
  bool stopped_by_callback = false;
  // The validation metric after every round trained.
  std::vector<double> history{};
};

// Trains on `train`, evaluating `valid` (named "valid") after each round. InvalidArgument, with
// XGBoost's message, for a parameter it rejects (checked before the first round), for data it
// rejects during a round (labels outside [0, 1]), for column counts that differ, and for
// max_rounds < 1 or early_stopping_rounds < 0. FailedPrecondition for an empty DMatrix.
absl::StatusOr<TrainResult> Train(const TrainOptions& options, const DMatrix& train,
                                  const DMatrix& valid);

}  // namespace churn::model

#endif  // CHURN_MODEL_XGBOOST_H_
