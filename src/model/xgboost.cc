#include "churn/model/xgboost.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include <xgboost/c_api.h>

#include "churn/base/status_macros.h"

// Calls the C API function `fn` with the remaining arguments: an absl::Status (Internal) that
// names `fn` and carries XGBGetLastError()'s text when it returns nonzero. Change the code with
// WithCode where the caller's input is to blame.
#define CHURN_XGB_(fn, ...) XgbStatus((fn)(__VA_ARGS__), #fn)

namespace churn::model {

// Wraps a fresh handle in a Booster (whose constructor is private).
struct BoosterAccess {
  static Booster Wrap(BoosterHandle handle) { return Booster(handle); }
};

namespace {

using nlohmann::json;

// The array interface below says "<f4" (little-endian float32).
static_assert(std::endian::native == std::endian::little);

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

constexpr char kPredictConfig[] =
    R"({"type":0,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false})";
constexpr char kContribsConfig[] =
    R"({"type":2,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false})";
// 1.7.4's XGBoosterPredictFromDense requires "cache_id" (it fails on a missing key) and takes
// the missing value; NaN is a JSON extension XGBoost's parser accepts (nlohmann would write null).
constexpr char kDenseConfig[] =
    R"({"type":0,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false,)"
    R"("cache_id":0,"missing":NaN})";
constexpr char kValidName[] = "valid";

// XGBoost's aliases of one parameter, so that the later of two spellings wins (XGBoost itself
// applies them in key order, whatever order they were set in).
constexpr std::pair<absl::string_view, absl::string_view> kAliases[] = {
    {"learning_rate", "eta"}, {"min_split_loss", "gamma"}, {"reg_lambda", "lambda"},
    {"reg_alpha", "alpha"},   {"random_state", "seed"},    {"n_jobs", "nthread"},
};

// XGBGetLastError()'s text without the stack trace and the "[hh:mm:ss] " in front that
// LOG(FATAL) messages carry.
std::string LastError() {
  const char* raw = XGBGetLastError();
  absl::string_view text = raw == nullptr ? "" : raw;
  if (const size_t trace = text.find("Stack trace:"); trace != absl::string_view::npos) {
    text = text.substr(0, trace);
  }
  constexpr absl::string_view kTimePattern = "[00:00:00] ";
  if (text.size() > kTimePattern.size()) {
    bool timestamp = true;
    for (size_t i = 0; i < kTimePattern.size(); ++i) {
      const bool digit = kTimePattern[i] == '0';
      timestamp = timestamp && (digit ? absl::ascii_isdigit(static_cast<unsigned char>(text[i]))
                                      : text[i] == kTimePattern[i]);
    }
    if (timestamp) {
      text.remove_prefix(kTimePattern.size());
    }
  }
  text = absl::StripAsciiWhitespace(text);
  return text.empty() ? std::string("no error message") : std::string(text);
}

// The status of a C API call `call` that returned `rc`: OK for 0, else Internal with
// XGBGetLastError()'s text (read at once: it is per thread and the next failure replaces it).
absl::Status XgbStatus(int rc, absl::string_view call) {
  if (rc == 0) {
    return absl::OkStatus();
  }
  if (rc == -2) {  // XGBoosterSlice: out of bound, without setting the last error
    return absl::OutOfRangeError(absl::StrCat(call, ": index out of bound"));
  }
  return absl::InternalError(absl::StrCat(call, ": ", LastError()));
}

absl::Status WithCode(absl::StatusCode code, const absl::Status& status) {
  return status.ok() ? status : absl::Status(code, status.message());
}

absl::Status NotEmpty(const void* handle, absl::string_view what) {
  if (handle == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("empty ", what, " (default-constructed or moved from)"));
  }
  return absl::OkStatus();
}

// rows * cols, InvalidArgument on overflow.
absl::StatusOr<size_t> CellCount(size_t rows, size_t cols) {
  if (cols != 0 && rows > std::numeric_limits<size_t>::max() / cols) {
    return absl::InvalidArgumentError(absl::StrCat(rows, " x ", cols, " cells overflow size_t"));
  }
  return rows * cols;
}

// Fails unless the booster was trained on `cols` features (XGBoost itself accepts fewer columns
// silently, treating the rest as missing).
absl::Status CheckFeatures(BoosterHandle handle, size_t cols) {
  bst_ulong features = 0;
  CHURN_RETURN_IF_ERROR(CHURN_XGB_(XGBoosterGetNumFeature, handle, &features));
  if (features != cols) {
    return absl::InvalidArgumentError(
        absl::StrCat("the model has ", features, " features but the data has ", cols, " columns"));
  }
  return absl::OkStatus();
}

// Copies a prediction buffer out of XGBoost (it is reused by the next call) after checking its
// shape is rows x width.
absl::StatusOr<std::vector<float>> CopyPrediction(const bst_ulong* shape, bst_ulong dim,
                                                  const float* out, size_t rows, size_t width) {
  size_t total = 1;
  for (bst_ulong i = 0; i < dim; ++i) {
    total *= static_cast<size_t>(shape[i]);
  }
  if (dim == 0 || shape[0] != rows || total != rows * width) {
    return absl::InternalError(absl::StrCat("XGBoost returned ", total, " values in ", dim,
                                            " dimensions for ", rows, " x ", width));
  }
  return std::vector<float>(out, out + total);
}

absl::StatusOr<std::vector<float>> PredictWith(const Booster& booster, const DMatrix& data,
                                               const char* config, size_t width) {
  CHURN_RETURN_IF_ERROR(NotEmpty(booster.Handle(), "Booster"));
  CHURN_RETURN_IF_ERROR(NotEmpty(data.Handle(), "DMatrix"));
  CHURN_RETURN_IF_ERROR(CheckFeatures(booster.Handle(), data.Cols()));
  if (data.Rows() == 0) {
    return std::vector<float>();  // XGBoost answers a 0 x 1 matrix even for type 0
  }
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  CHURN_RETURN_IF_ERROR(CHURN_XGB_(XGBoosterPredictFromDMatrix, booster.Handle(), data.Handle(),
                                   config, &shape, &dim, &out));
  return CopyPrediction(shape, dim, out, data.Rows(), width);
}

absl::StatusOr<std::string> SaveToBuffer(BoosterHandle handle, const char* config) {
  CHURN_RETURN_IF_ERROR(NotEmpty(handle, "Booster"));
  bst_ulong len = 0;
  const char* bytes = nullptr;
  CHURN_RETURN_IF_ERROR(CHURN_XGB_(XGBoosterSaveModelToBuffer, handle, config, &len, &bytes));
  return std::string(bytes, static_cast<size_t>(len));
}

// `j[key]` when `j` is an object holding it, else nullptr.
const json* Member(const json& j, const char* key) {
  if (!j.is_object()) {
    return nullptr;
  }
  const auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

// Adds one tree of the JSON model ("left_children" / "right_children", -1 for none) to `size`.
absl::Status AddTree(const json& tree, ModelSize& size) {
  const json* left = Member(tree, "left_children");
  const json* right = Member(tree, "right_children");
  if (left == nullptr || right == nullptr || !left->is_array() || !right->is_array() ||
      left->size() != right->size() || left->empty()) {
    return absl::InternalError("model JSON: a tree lacks left_children / right_children");
  }
  const auto n = static_cast<int64_t>(left->size());
  size.trees += 1;
  size.nodes += n;
  // Walk from the root; a visit budget of n guards against a malformed (cyclic) tree.
  std::vector<std::pair<int64_t, int64_t>> stack = {{0, 0}};  // node, depth
  int64_t visited = 0;
  while (!stack.empty()) {
    const auto [node, depth] = stack.back();
    stack.pop_back();
    if (++visited > n) {
      return absl::InternalError("model JSON: a tree is not a tree");
    }
    const json& l = (*left)[static_cast<size_t>(node)];
    const json& r = (*right)[static_cast<size_t>(node)];
    if (!l.is_number_integer() || !r.is_number_integer()) {
      return absl::InternalError("model JSON: a child index is not an integer");
    }
    const auto lc = l.get<int64_t>();
    const auto rc = r.get<int64_t>();
    if (lc == -1) {
      size.leaves += 1;
      size.max_depth = std::max(size.max_depth, depth);
      continue;
    }
    if (lc <= 0 || lc >= n || rc <= 0 || rc >= n) {
      return absl::InternalError("model JSON: a child index is out of range");
    }
    stack.emplace_back(lc, depth + 1);
    stack.emplace_back(rc, depth + 1);
  }
  return absl::OkStatus();
}

// The tree model of a JSON model: learner.gradient_booster.model (gbtree), or under "gbtree"
// for dart. FailedPrecondition for another booster (gblinear); Internal when malformed.
absl::StatusOr<const json*> TreeModel(const json& model) {
  const json* booster = Member(model, "learner");
  booster = booster == nullptr ? nullptr : Member(*booster, "gradient_booster");
  const json* name = booster == nullptr ? nullptr : Member(*booster, "name");
  if (name == nullptr) {
    return absl::InternalError("model JSON lacks learner.gradient_booster.name");
  }
  if (*name != "gbtree" && *name != "dart") {
    return absl::FailedPreconditionError(
        absl::StrCat("not a tree model (booster ",
                     name->is_string() ? name->get_ref<const std::string&>() : "?", ")"));
  }
  if (*name == "dart") {
    booster = Member(*booster, "gbtree");
  }
  const json* inner = booster == nullptr ? nullptr : Member(*booster, "model");
  const json* trees = inner == nullptr ? nullptr : Member(*inner, "trees");
  if (trees == nullptr || !trees->is_array()) {
    return absl::InternalError("model JSON lacks gradient_booster.model.trees");
  }
  return inner;
}

// An integer that XGBoost keeps as a decimal string in its *_param objects; -1 when absent.
int64_t IntParam(const json* params, const char* key) {
  const json* value = params == nullptr ? nullptr : Member(*params, key);
  int64_t out = -1;
  if (value == nullptr || !value->is_string() ||
      !absl::SimpleAtoi(value->get_ref<const std::string&>(), &out)) {
    return -1;
  }
  return out;
}

bool IsIntIn(const json& value, int64_t lo, int64_t hi) {
  return value.is_number_integer() && value.get<int64_t>() >= lo && value.get<int64_t>() < hi;
}

constexpr const char* kNodeArrays[] = {
    "left_children", "right_children", "parents",      "split_indices", "split_conditions",
    "split_type",    "default_left",   "base_weights", "loss_changes",  "sum_hessian",
};

// Categorical splits: each listed node's categories lie inside "categories".
absl::Status CheckCategories(const json& tree, int64_t n) {
  const json* categories = Member(tree, "categories");
  const json* nodes = Member(tree, "categories_nodes");
  const json* segments = Member(tree, "categories_segments");
  const json* sizes = Member(tree, "categories_sizes");
  if (categories == nullptr || nodes == nullptr || segments == nullptr || sizes == nullptr ||
      !categories->is_array() || !nodes->is_array() || !segments->is_array() ||
      !sizes->is_array() || nodes->size() != segments->size() || nodes->size() != sizes->size()) {
    return absl::InvalidArgumentError("malformed categories of a categorical split");
  }
  const auto total = static_cast<int64_t>(categories->size());
  for (size_t i = 0; i < nodes->size(); ++i) {
    if (!IsIntIn((*nodes)[i], 0, n) || !IsIntIn((*segments)[i], 0, total + 1) ||
        !IsIntIn((*sizes)[i], 0, total + 1) ||
        (*segments)[i].get<int64_t>() + (*sizes)[i].get<int64_t>() > total) {
      return absl::InvalidArgumentError("categories of a categorical split out of range");
    }
  }
  return absl::OkStatus();
}

// What 1.7.4 trusts in a tree (it indexes by num_nodes, child indices and split features
// unchecked, and crashes on a bad one when loading or predicting).
absl::Status CheckTree(const json& tree, size_t index, int64_t num_feature) {
  const int64_t n = IntParam(Member(tree, "tree_param"), "num_nodes");
  const json* id = Member(tree, "id");
  if (n <= 0 || id == nullptr ||
      !IsIntIn(*id, static_cast<int64_t>(index), static_cast<int64_t>(index) + 1)) {
    return absl::InvalidArgumentError("bad id or tree_param.num_nodes");
  }
  for (const char* key : kNodeArrays) {
    const json* array = Member(tree, key);
    if (array == nullptr || !array->is_array() || array->size() != static_cast<size_t>(n)) {
      return absl::InvalidArgumentError(absl::StrCat(key, " does not have ", n, " entries"));
    }
  }
  ModelSize unused;
  CHURN_RETURN_IF_ERROR(WithCode(absl::StatusCode::kInvalidArgument, AddTree(tree, unused)));
  const json& left = *Member(tree, "left_children");
  const json& right = *Member(tree, "right_children");
  const json& parents = *Member(tree, "parents");
  const json& split_indices = *Member(tree, "split_indices");
  const json& split_type = *Member(tree, "split_type");
  bool categorical = false;
  for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
    // The root's parent is INT32_MAX (kInvalidNodeId without its "is left child" bit).
    if (!IsIntIn(parents[i], 0, n) && parents[i] != std::numeric_limits<int32_t>::max() &&
        parents[i] != -1) {
      return absl::InvalidArgumentError(absl::StrCat("node ", i, ": bad parent"));
    }
    if (left[i] == -1) {
      continue;
    }
    // AddTree checked the children of the reachable nodes; these are of every node.
    if (!IsIntIn(left[i], 1, n) || !IsIntIn(right[i], 1, n) ||
        parents[left[i].get<size_t>()] != i || parents[right[i].get<size_t>()] != i) {
      return absl::InvalidArgumentError(absl::StrCat("node ", i, ": bad children"));
    }
    if (!IsIntIn(split_indices[i], 0, num_feature) || !IsIntIn(split_type[i], 0, 2)) {
      return absl::InvalidArgumentError(absl::StrCat("node ", i, ": bad split feature or type"));
    }
    categorical = categorical || split_type[i] == 1;
  }
  return categorical ? CheckCategories(tree, n) : absl::OkStatus();
}

// Checks a model document before XGBoost loads it: see CheckTree.
absl::Status CheckModel(const json& model) {
  const json* learner = Member(model, "learner");
  const json* params = learner == nullptr ? nullptr : Member(*learner, "learner_model_param");
  const int64_t num_feature = IntParam(params, "num_feature");
  const int64_t groups = std::max<int64_t>(IntParam(params, "num_class"), 1);
  if (num_feature < 0) {
    return absl::InvalidArgumentError("no learner.learner_model_param.num_feature");
  }
  const absl::StatusOr<const json*> inner = TreeModel(model);
  if (absl::IsFailedPrecondition(inner.status())) {
    return absl::OkStatus();  // gblinear: left to XGBoost
  }
  CHURN_RETURN_IF_ERROR(WithCode(absl::StatusCode::kInvalidArgument, inner.status()));
  const json& trees = *Member(**inner, "trees");
  const json* tree_info = Member(**inner, "tree_info");
  if (IntParam(Member(**inner, "gbtree_model_param"), "num_trees") !=
          static_cast<int64_t>(trees.size()) ||
      tree_info == nullptr || !tree_info->is_array() || tree_info->size() != trees.size()) {
    return absl::InvalidArgumentError("num_trees, tree_info and trees disagree");
  }
  for (size_t t = 0; t < trees.size(); ++t) {
    if (!IsIntIn((*tree_info)[t], 0, groups)) {
      return absl::InvalidArgumentError(absl::StrCat("tree_info[", t, "] out of range"));
    }
    CHURN_RETURN_IF_ERROR(
        base::WithContext(CheckTree(trees[t], t, num_feature), absl::StrCat("tree ", t)));
  }
  return absl::OkStatus();
}

// The document of a serialized model: JSON text when it opens with '{"', else UBJSON.
absl::StatusOr<json> ParseModel(absl::string_view bytes) {
  json model;
  try {  // nlohmann throws some errors (an excessive array size) even without exceptions
    model = bytes.substr(0, 2) == "{\""
                ? json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false)
                : json::from_ubjson(bytes.begin(), bytes.end(), /*strict=*/true,
                                    /*allow_exceptions=*/false);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed model: ", e.what()));
  }
  if (model.is_discarded()) {
    return absl::InvalidArgumentError("malformed model: not one complete JSON/UBJSON document");
  }
  return model;
}

// The parameters to set: the defaults, then `params`, a later value of a key (or of an alias of
// it) replacing the earlier one in place.
std::vector<std::pair<std::string, std::string>> EffectiveParams(
    const std::vector<std::pair<std::string, std::string>>& params) {
  std::vector<std::pair<std::string, std::string>> out = {
      {"objective", "binary:logistic"},
      {"tree_method", "hist"},
      {"eval_metric", "auc"},
      {"nthread", "1"},
      {"verbosity", "0"},
      {"seed", "0"},
  };
  for (const auto& [raw_key, value] : params) {
    std::string key = raw_key;
    for (const auto& [alias, canonical] : kAliases) {
      if (key == alias) {
        key = std::string(canonical);
      }
    }
    bool replaced = false;
    for (auto& [k, v] : out) {
      if (k == key) {
        v = value;
        replaced = true;
      }
    }
    if (!replaced) {
      out.emplace_back(key, value);
    }
  }
  return out;
}

// Sets `params` on a fresh booster and configures it, so that XGBoost (which validates lazily)
// rejects a bad value now. A booster whose configuration failed must not be trained on: 1.7.4
// then crashes in GBTree::BoostNewTrees.
absl::Status Configure(BoosterHandle handle,
                       const std::vector<std::pair<std::string, std::string>>& params) {
  for (const auto& [key, value] : params) {
    CHURN_RETURN_IF_ERROR(WithCode(
        absl::StatusCode::kInvalidArgument,
        base::WithContext(CHURN_XGB_(XGBoosterSetParam, handle, key.c_str(), value.c_str()),
                          absl::StrCat("XGBoost parameter ", key, "=", value))));
  }
  bst_ulong len = 0;
  const char* config = nullptr;  // XGBoosterSaveJsonConfig runs Learner::Configure
  return WithCode(absl::StatusCode::kInvalidArgument,
                  base::WithContext(CHURN_XGB_(XGBoosterSaveJsonConfig, handle, &len, &config),
                                    "invalid XGBoost parameters"));
}

// The value of `metric` for "valid" in an evaluation line such as
// "[3]\tvalid-auc:0.912345"; the last "valid-" entry when none is named `metric` (XGBoost may
// print a metric under another name).
absl::StatusOr<double> ParseMetric(absl::string_view line, absl::string_view metric) {
  const std::string prefix = absl::StrCat(kValidName, "-");
  bool found = false;
  bool exact = false;
  double value = 0;
  for (absl::string_view field :
       absl::StrSplit(line, absl::ByAnyChar("\t \n"), absl::SkipEmpty())) {
    const size_t colon = field.rfind(':');
    if (!absl::StartsWith(field, prefix) || colon == absl::string_view::npos) {
      continue;
    }
    const absl::string_view name = field.substr(prefix.size(), colon - prefix.size());
    const absl::string_view number = field.substr(colon + 1);
    double v = 0;
    const auto r = std::from_chars(number.data(), number.data() + number.size(), v);
    if (r.ec != std::errc() || r.ptr != number.data() + number.size()) {
      return absl::InternalError(
          absl::StrCat("cannot parse the metric value in XGBoost's evaluation '", line, "'"));
    }
    if (!exact) {
      value = v;
      found = true;
      exact = name == metric;
    }
  }
  if (!found) {
    return absl::InternalError(
        absl::StrCat("no '", prefix, metric, "' in XGBoost's evaluation '", line, "'"));
  }
  return value;
}

bool Improves(double value, double best, bool maximize) {
  if (std::isnan(value)) {
    return false;
  }
  if (std::isnan(best)) {
    return true;
  }
  return maximize ? value > best : value < best;
}

absl::Status CheckTrainInputs(const TrainOptions& options, const DMatrix& train,
                              const DMatrix& valid) {
  CHURN_RETURN_IF_ERROR(NotEmpty(train.Handle(), "training DMatrix"));
  CHURN_RETURN_IF_ERROR(NotEmpty(valid.Handle(), "validation DMatrix"));
  if (train.Cols() != valid.Cols()) {
    return absl::InvalidArgumentError(absl::StrCat("training data has ", train.Cols(),
                                                   " columns, validation data ", valid.Cols()));
  }
  if (options.max_rounds <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_rounds must be positive, not ", options.max_rounds));
  }
  if (options.early_stopping_rounds < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("early_stopping_rounds must be >= 0, not ", options.early_stopping_rounds));
  }
  return absl::OkStatus();
}

// The boosting loop: one round, its evaluation on `valid`, the callback, early stopping.
absl::Status Boost(const TrainOptions& options, BoosterHandle handle, const DMatrix& train,
                   const DMatrix& valid, absl::string_view metric, TrainResult& result) {
  DMatrixHandle eval_sets[] = {valid.Handle()};
  const char* eval_names[] = {kValidName};
  for (int round = 0; round < options.max_rounds; ++round) {
    // The data or the parameters are to blame when a round fails (e.g. labels outside [0, 1]).
    CHURN_RETURN_IF_ERROR(
        WithCode(absl::StatusCode::kInvalidArgument,
                 CHURN_XGB_(XGBoosterUpdateOneIter, handle, round, train.Handle())));
    const char* eval = nullptr;
    CHURN_RETURN_IF_ERROR(
        WithCode(absl::StatusCode::kInvalidArgument,
                 CHURN_XGB_(XGBoosterEvalOneIter, handle, round, eval_sets, eval_names, 1, &eval)));
    CHURN_ASSIGN_OR_RETURN(const double value, ParseMetric(eval == nullptr ? "" : eval, metric));
    result.history.push_back(value);
    result.rounds_trained = round + 1;
    // As XGBoost's EarlyStopping callback: the first round reaching the best value is best.
    if (round == 0 || Improves(value, result.best_score, options.maximize)) {
      result.best_iteration = round;
      result.best_score = value;
    }
    if (options.on_round && !options.on_round(round, value)) {
      result.stopped_by_callback = true;
      break;
    }
    if (options.early_stopping_rounds > 0 &&
        round - result.best_iteration >= options.early_stopping_rounds) {
      break;
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string XgboostVersion() {
  int major = 0;
  int minor = 0;
  int patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return absl::StrCat(major, ".", minor, ".", patch);
}

// ---------------------------------------------------------------------------------------------
// DMatrix

absl::StatusOr<DMatrix> DMatrix::FromDense(absl::Span<const float> values, size_t rows, size_t cols,
                                           absl::Span<const float> labels) {
  if (cols == 0) {
    return absl::InvalidArgumentError("a DMatrix needs at least one column");
  }
  CHURN_ASSIGN_OR_RETURN(const size_t cells, CellCount(rows, cols));
  if (values.size() != cells) {
    return absl::InvalidArgumentError(absl::StrCat("DMatrix of ", rows, " x ", cols, " needs ",
                                                   cells, " values, not ", values.size()));
  }
  if (!labels.empty() && labels.size() != rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("DMatrix of ", rows, " rows got ", labels.size(), " labels"));
  }
  DMatrixHandle handle = nullptr;
  CHURN_RETURN_IF_ERROR(
      WithCode(absl::StatusCode::kInvalidArgument,
               CHURN_XGB_(XGDMatrixCreateFromMat, values.data(), static_cast<bst_ulong>(rows),
                          static_cast<bst_ulong>(cols), kMissing, &handle)));
  DMatrix matrix(handle, rows, cols);
  if (!labels.empty()) {
    CHURN_RETURN_IF_ERROR(WithCode(absl::StatusCode::kInvalidArgument,
                                   CHURN_XGB_(XGDMatrixSetFloatInfo, handle, "label", labels.data(),
                                              static_cast<bst_ulong>(rows))));
  }
  return matrix;
}

DMatrix::DMatrix(DMatrix&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)),
      rows_(std::exchange(other.rows_, 0)),
      cols_(std::exchange(other.cols_, 0)) {}

DMatrix& DMatrix::operator=(DMatrix&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) {
      static_cast<void>(XGDMatrixFree(handle_));
    }
    handle_ = std::exchange(other.handle_, nullptr);
    rows_ = std::exchange(other.rows_, 0);
    cols_ = std::exchange(other.cols_, 0);
  }
  return *this;
}

DMatrix::~DMatrix() {
  if (handle_ != nullptr) {
    static_cast<void>(XGDMatrixFree(handle_));
  }
}

// ---------------------------------------------------------------------------------------------
// Booster

absl::StatusOr<Booster> Booster::Load(absl::string_view bytes) {
  // XGBoost's own dispatch: '{' then '"' is JSON, '{' then a letter (a UBJSON type marker) is
  // UBJSON; anything else would reach the deprecated binary loader, which fails oddly (or
  // worse) on arbitrary bytes.
  if (bytes.size() < 2 || bytes[0] != '{' ||
      (bytes[1] != '"' && !absl::ascii_isalpha(static_cast<unsigned char>(bytes[1])))) {
    return absl::InvalidArgumentError("not an XGBoost JSON or UBJSON model");
  }
  // 1.7.4 trusts what it loads: its UBJSON reader runs past the end of a truncated buffer
  // (ASan: heap-buffer-overflow in UBJReader::DecodeStr) and a tree with an out-of-range child
  // or feature index crashes RegTree::LoadModel or prediction. So the document is parsed and
  // its trees checked here first.
  CHURN_ASSIGN_OR_RETURN(const json model, ParseModel(bytes));
  CHURN_RETURN_IF_ERROR(base::WithContext(CheckModel(model), "not a valid XGBoost model"));
  BoosterHandle handle = nullptr;
  CHURN_RETURN_IF_ERROR(CHURN_XGB_(XGBoosterCreate, nullptr, 0, &handle));
  Booster booster(handle);
  CHURN_RETURN_IF_ERROR(WithCode(absl::StatusCode::kInvalidArgument,
                                 CHURN_XGB_(XGBoosterLoadModelFromBuffer, handle, bytes.data(),
                                            static_cast<bst_ulong>(bytes.size()))));
  return booster;
}

Booster::Booster(Booster&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}

Booster& Booster::operator=(Booster&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) {
      static_cast<void>(XGBoosterFree(handle_));
    }
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

Booster::~Booster() {
  if (handle_ != nullptr) {
    static_cast<void>(XGBoosterFree(handle_));
  }
}

absl::StatusOr<std::string> Booster::SaveJson() const {
  return SaveToBuffer(handle_, R"({"format":"json"})");
}

absl::StatusOr<std::string> Booster::SaveUbj() const {
  return SaveToBuffer(handle_, R"({"format":"ubj"})");
}

absl::StatusOr<int> Booster::NumRounds() const {
  CHURN_RETURN_IF_ERROR(NotEmpty(handle_, "Booster"));
  int rounds = 0;
  CHURN_RETURN_IF_ERROR(CHURN_XGB_(XGBoosterBoostedRounds, handle_, &rounds));
  return rounds;
}

absl::StatusOr<ModelSize> Booster::Size() const {
  // UBJSON rather than JSON text: faster to parse, and it keeps a NaN (which nlohmann's JSON
  // parser refuses) as a number.
  CHURN_ASSIGN_OR_RETURN(const std::string bytes, SaveUbj());
  absl::StatusOr<json> model = ParseModel(bytes);
  CHURN_RETURN_IF_ERROR(WithCode(absl::StatusCode::kInternal, model.status()));
  CHURN_ASSIGN_OR_RETURN(const json* inner, TreeModel(*model));
  ModelSize size;
  for (const json& tree : *Member(*inner, "trees")) {
    CHURN_RETURN_IF_ERROR(AddTree(tree, size));
  }
  return size;
}

absl::StatusOr<std::vector<float>> Booster::Predict(const DMatrix& data) const {
  return PredictWith(*this, data, kPredictConfig, 1);
}

absl::StatusOr<std::vector<float>> Booster::PredictDense(absl::Span<const float> values,
                                                         size_t rows, size_t cols) const {
  CHURN_ASSIGN_OR_RETURN(const size_t cells, CellCount(rows, cols));
  if (values.size() != cells) {
    return absl::InvalidArgumentError(absl::StrCat("a block of ", rows, " x ", cols, " needs ",
                                                   cells, " values, not ", values.size()));
  }
  CHURN_RETURN_IF_ERROR(NotEmpty(handle_, "Booster"));
  CHURN_RETURN_IF_ERROR(CheckFeatures(handle_, cols));
  if (rows == 0) {
    return std::vector<float>();
  }
  const std::string array =
      absl::StrCat(R"({"data":[)", reinterpret_cast<uintptr_t>(values.data()),
                   R"(,true],"shape":[)", rows, ",", cols, R"(],"typestr":"<f4","version":3})");
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  CHURN_RETURN_IF_ERROR(CHURN_XGB_(XGBoosterPredictFromDense, handle_, array.c_str(), kDenseConfig,
                                   nullptr, &shape, &dim, &out));
  return CopyPrediction(shape, dim, out, rows, 1);
}

absl::StatusOr<std::vector<float>> Booster::Contributions(const DMatrix& data) const {
  return PredictWith(*this, data, kContribsConfig, data.Cols() + 1);
}

absl::StatusOr<std::vector<double>> Booster::GainImportance(size_t num_features) const {
  CHURN_RETURN_IF_ERROR(NotEmpty(handle_, "Booster"));
  // Features are named by the booster's feature names when it has them (a model from Python
  // with a data frame), else "f0", "f1", ...
  bst_ulong num_names = 0;
  const char** names = nullptr;
  CHURN_RETURN_IF_ERROR(
      CHURN_XGB_(XGBoosterGetStrFeatureInfo, handle_, "feature_name", &num_names, &names));
  const std::vector<std::string> feature_names(names, names + num_names);

  bst_ulong used = 0;
  const char** features = nullptr;
  bst_ulong dim = 0;
  const bst_ulong* shape = nullptr;
  const float* scores = nullptr;
  CHURN_RETURN_IF_ERROR(CHURN_XGB_(XGBoosterFeatureScore, handle_,
                                   R"({"importance_type":"total_gain"})", &used, &features, &dim,
                                   &shape, &scores));
  if (used != 0 && (dim != 1 || shape[0] != used)) {
    return absl::InternalError("XGBoosterFeatureScore: expected one score per feature");
  }
  std::vector<double> gain(num_features, 0.0);
  for (bst_ulong i = 0; i < used; ++i) {
    const absl::string_view name = features[i];
    int64_t index = -1;
    for (size_t j = 0; j < feature_names.size(); ++j) {
      if (feature_names[j] == name) {
        index = static_cast<int64_t>(j);
      }
    }
    if (index < 0 && feature_names.empty() && absl::StartsWith(name, "f")) {
      const auto r = std::from_chars(name.data() + 1, name.data() + name.size(), index);
      if (r.ec != std::errc() || r.ptr != name.data() + name.size()) {
        index = -1;
      }
    }
    if (index < 0 || static_cast<size_t>(index) >= num_features) {
      return absl::InvalidArgumentError(absl::StrCat(
          "feature '", name, "' of the model is not one of ", num_features, " features"));
    }
    gain[static_cast<size_t>(index)] += scores[i];
  }
  return gain;
}

// ---------------------------------------------------------------------------------------------
// Training

absl::StatusOr<TrainResult> Train(const TrainOptions& options, const DMatrix& train,
                                  const DMatrix& valid) {
  CHURN_RETURN_IF_ERROR(CheckTrainInputs(options, train, valid));
  DMatrixHandle cache[] = {train.Handle(), valid.Handle()};
  BoosterHandle handle = nullptr;
  CHURN_RETURN_IF_ERROR(CHURN_XGB_(XGBoosterCreate, cache, 2, &handle));
  Booster booster = BoosterAccess::Wrap(handle);
  const auto params = EffectiveParams(options.params);
  CHURN_RETURN_IF_ERROR(Configure(handle, params));
  std::string metric;
  for (const auto& [key, value] : params) {
    if (key == "eval_metric") {
      metric = value;
    }
  }

  TrainResult result;
  CHURN_RETURN_IF_ERROR(Boost(options, handle, train, valid, metric, result));
  if (options.early_stopping_rounds > 0 && result.best_iteration + 1 < result.rounds_trained) {
    BoosterHandle sliced = nullptr;
    CHURN_RETURN_IF_ERROR(
        CHURN_XGB_(XGBoosterSlice, handle, 0, result.best_iteration + 1, 1, &sliced));
    booster = BoosterAccess::Wrap(sliced);
  }
  result.booster = std::move(booster);
  return result;
}

}  // namespace churn::model
