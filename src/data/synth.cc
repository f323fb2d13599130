// The synthetic BankChurners generator. Each row draws its demographics and account features
// from distributions fitted by eye to the Kaggle file's marginals (and the dependences that
// matter: income on gender, credit limit on income and card, tenure on age, amount on count),
// then draws the label from a logistic model of the behaviour that drives churn in the real data
// (fewer and smaller transactions, falling Q4/Q1 activity, a low revolving balance, inactivity,
// contacts, few products), plus noise so that no model is perfect. Drift scenarios move the
// features after the label is drawn.
//
// Determinism: xoshiro256** seeded through splitmix64, our own uniform/normal/categorical draws,
// and std::to_chars formatting, so the same options give the same bytes.
#include "churn/data/synth.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <span>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "churn/base/status_macros.h"
#include "churn/data/csv.h"

namespace churn::data {
namespace {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& word : s_) {
      seed += 0x9E3779B97F4A7C15ULL;  // splitmix64
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      word = z ^ (z >> 31);
    }
  }

  uint64_t Next() {  // xoshiro256**
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // Standard normal (Box-Muller; one draw per call keeps the stream simple).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

  double Normal(double mean, double sd) { return mean + sd * Normal(); }

  // An index drawn with the given (unnormalised) weights.
  size_t Categorical(std::span<const double> weights) {
    double total = 0;
    for (const double w : weights) {
      total += w;
    }
    double u = Uniform() * total;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (u < weights[i]) {
        return i;
      }
      u -= weights[i];
    }
    return weights.size() - 1;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  std::array<uint64_t, 4> s_{};
};

// Levels in the order of configs/bank_churners.yaml.
constexpr std::array<const char*, 2> kGender = {"F", "M"};
constexpr std::array<const char*, 7> kEducation = {
    "Uneducated", "High School", "College", "Graduate", "Post-Graduate", "Doctorate", "Unknown"};
constexpr std::array<const char*, 4> kMarital = {"Single", "Married", "Divorced", "Unknown"};
constexpr std::array<const char*, 6> kIncome = {"Less than $40K", "$40K - $60K", "$60K - $80K",
                                                "$80K - $120K",   "$120K +",     "Unknown"};
constexpr std::array<const char*, 4> kCard = {"Blue", "Silver", "Gold", "Platinum"};

constexpr std::array<double, 7> kEducationWeights = {.147, .199, .100, .309, .051, .045, .150};
constexpr std::array<double, 4> kMaritalWeights = {.389, .463, .074, .074};
constexpr std::array<double, 6> kIncomeFemale = {.613, .189, 0, 0, 0, .198};
constexpr std::array<double, 6> kIncomeMale = {.058, .163, .294, .322, .152, .011};
constexpr std::array<double, 4> kCardWeights = {.932, .055, .0115, .002};
constexpr std::array<double, 6> kDependents = {.089, .181, .262, .270, .155, .042};
constexpr std::array<double, 6> kRelationships = {.090, .123, .228, .189, .187, .184};
constexpr std::array<double, 7> kInactive = {.003, .220, .324, .380, .043, .018, .012};
constexpr std::array<double, 7> kContacts = {.039, .148, .319, .334, .137, .017, .005};
// Median credit limit by income level; multiplier by card.
constexpr std::array<double, 6> kLimitMedian = {2766, 3682, 7660, 12830, 18442, 6380};
constexpr std::array<double, 4> kCardLimitFactor = {1.0, 5.0, 8.0, 10.0};

struct Row {
  double age = 0;
  size_t gender = 0;
  double dependents = 0;
  size_t education = 0;
  size_t marital = 0;
  size_t income = 0;
  size_t card = 0;
  double months_on_book = 0;
  double relationships = 0;
  double inactive = 0;
  double contacts = 0;
  double credit_limit = 0;
  double revolving = 0;
  double amt_change = 0;
  double trans_amt = 0;
  double trans_ct = 0;
  double ct_change = 0;
  bool churned = false;
};

// A numeric column a drift scenario may move: its field, range and decimals.
struct NumericColumn {
  const char* name;
  double Row::*field;
  double min;
  double max;
  int decimals;  // 0: an integer column
};

constexpr std::array<NumericColumn, 11> kNumeric = {{
    {"Customer_Age", &Row::age, 26, 73, 0},
    {"Dependent_count", &Row::dependents, 0, 5, 0},
    {"Months_on_book", &Row::months_on_book, 13, 56, 0},
    {"Total_Relationship_Count", &Row::relationships, 1, 6, 0},
    {"Months_Inactive_12_mon", &Row::inactive, 0, 6, 0},
    {"Contacts_Count_12_mon", &Row::contacts, 0, 6, 0},
    {"Credit_Limit", &Row::credit_limit, 1438.3, 34516, 1},
    {"Total_Revolving_Bal", &Row::revolving, 0, 2517, 0},
    {"Total_Amt_Chng_Q4_Q1", &Row::amt_change, 0, 3.397, 3},
    {"Total_Trans_Amt", &Row::trans_amt, 510, 18484, 0},
    {"Total_Trans_Ct", &Row::trans_ct, 10, 139, 0},
}};

// Ratios are drifted through these names too (derived columns are recomputed, not drifted).
constexpr NumericColumn kCtChange = {"Total_Ct_Chng_Q4_Q1", &Row::ct_change, 0, 3.714, 3};

const NumericColumn* FindNumeric(absl::string_view name) {
  for (const auto& c : kNumeric) {
    if (name == c.name) {
      return &c;
    }
  }
  return name == kCtChange.name ? &kCtChange : nullptr;
}

double RoundTo(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

double Clip(double v, const NumericColumn& c) {
  return RoundTo(std::clamp(v, c.min, c.max), c.decimals);
}

double Sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

void DrawAccount(Rng& rng, Row& r) {
  r.relationships = static_cast<double>(rng.Categorical(kRelationships) + 1);
  r.inactive = static_cast<double>(rng.Categorical(kInactive));
  r.contacts = static_cast<double>(rng.Categorical(kContacts));
  const double limit =
      kLimitMedian[r.income] * kCardLimitFactor[r.card] * std::exp(rng.Normal(0.0, 0.6));
  r.credit_limit = RoundTo(std::clamp(limit, 1438.3, 34516.0), 1);
  const double u = rng.Uniform();
  if (u < 0.24) {
    r.revolving = 0;
  } else if (u < 0.29) {
    r.revolving = 2517;
  } else {
    r.revolving = std::round(std::clamp(rng.Normal(1470, 500), 132.0, 2514.0));
  }
  r.revolving = std::min(r.revolving, std::floor(r.credit_limit));
  // Activity: the count, then the amount per transaction, which jumps for the most active.
  r.trans_ct = std::round(std::clamp(rng.Normal(65, 22), 10.0, 139.0));
  const double per_trans =
      55.0 * std::exp(rng.Normal(0.0, 0.18)) * (1.0 + 1.3 * Sigmoid((r.trans_ct - 95) / 5));
  r.trans_amt = std::round(std::clamp(r.trans_ct * per_trans, 510.0, 18484.0));
  r.amt_change = RoundTo(std::clamp(rng.Normal(0.76, 0.2), 0.0, 3.397), 3);
  r.ct_change = RoundTo(std::clamp(rng.Normal(0.71, 0.22), 0.0, 3.714), 3);
}

Row DrawRow(Rng& rng) {
  Row r;
  r.age = std::round(std::clamp(rng.Normal(46.3, 8.0), 26.0, 73.0));
  r.gender = rng.Uniform() < 0.529 ? 0 : 1;
  r.dependents = static_cast<double>(rng.Categorical(kDependents));
  r.education = rng.Categorical(kEducationWeights);
  r.marital = rng.Categorical(kMaritalWeights);
  r.income = rng.Categorical(r.gender == 0 ? kIncomeFemale : kIncomeMale);
  r.card = rng.Categorical(kCardWeights);
  // Tenure follows age (correlation ~0.79 in the real file), with its spike at 36 months.
  r.months_on_book =
      rng.Uniform() < 0.243
          ? 36
          : std::round(std::clamp(36 + 0.79 * (r.age - 46.3) + rng.Normal(0, 4.9), 13.0, 56.0));
  DrawAccount(rng, r);
  // The label: what drives churn in the real data, plus noise.
  const double logit = -4.95 - 3.9 * (r.trans_ct - 65) / 23 + 1.5 * (std::log(r.trans_amt) - 8.2) -
                       2.4 * (r.ct_change - 0.71) / 0.24 - 1.9 * (r.revolving - 1160) / 815 +
                       1.2 * (r.inactive - 2.34) + 1.2 * (r.contacts - 2.45) -
                       0.9 * (r.relationships - 3.8) + rng.Normal(0, 0.3);
  r.churned = rng.Uniform() < Sigmoid(logit);
  return r;
}

// The categorical columns a mix scenario may redraw.
absl::StatusOr<size_t Row::*> CategoricalField(absl::string_view column,
                                               std::vector<absl::string_view>* levels) {
  auto fill = [levels](const auto& names) { levels->assign(names.begin(), names.end()); };
  if (column == "Gender") {
    fill(kGender);
    return &Row::gender;
  }
  if (column == "Education_Level") {
    fill(kEducation);
    return &Row::education;
  }
  if (column == "Marital_Status") {
    fill(kMarital);
    return &Row::marital;
  }
  if (column == "Income_Category") {
    fill(kIncome);
    return &Row::income;
  }
  if (column == "Card_Category") {
    fill(kCard);
    return &Row::card;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("drift: '", column, "' is not a categorical column of the synthetic data"));
}

// A drift scenario resolved against the row layout.
struct ResolvedDrift {
  const SynthDrift* drift = nullptr;
  const NumericColumn* numeric = nullptr;
  size_t Row::*category = nullptr;
  std::vector<double> weights{};
};

absl::StatusOr<ResolvedDrift> Resolve(const SynthDrift& drift) {
  ResolvedDrift out{.drift = &drift};
  if (drift.kind != SynthDrift::Kind::kCategoryMix) {
    out.numeric = FindNumeric(drift.column);
    if (out.numeric == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "drift: '", drift.column, "' is not a numeric column of the synthetic data"));
    }
    if (!std::isfinite(drift.amount)) {
      return absl::InvalidArgumentError("drift: the amount must be a finite number");
    }
    return out;
  }
  std::vector<absl::string_view> levels;
  CHURN_ASSIGN_OR_RETURN(out.category, CategoricalField(drift.column, &levels));
  out.weights.assign(levels.size(), 0.0);
  double total = 0;
  for (const auto& [level, weight] : drift.mix) {
    const auto it = std::find(levels.begin(), levels.end(), level);
    if (it == levels.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("drift: column '", drift.column, "' has no level '", level, "'"));
    }
    if (!(weight >= 0) || !std::isfinite(weight)) {
      return absl::InvalidArgumentError("drift: mix weights must be finite and non-negative");
    }
    out.weights[static_cast<size_t>(it - levels.begin())] += weight;
    total += weight;
  }
  if (total <= 0) {
    return absl::InvalidArgumentError("drift: mix weights must not all be zero");
  }
  return out;
}

void ApplyDrift(const ResolvedDrift& d, Rng& rng, Row& r) {
  if (d.numeric != nullptr) {
    double& v = r.*(d.numeric->field);
    v = Clip(d.drift->kind == SynthDrift::Kind::kShift ? v + d.drift->amount : v * d.drift->amount,
             *d.numeric);
    r.revolving = std::min(r.revolving, std::floor(r.credit_limit));
    return;
  }
  r.*(d.category) = rng.Categorical(d.weights);
}

void AppendNumber(double v, int decimals, std::string* out) {
  char buf[64];
  const auto res =
      decimals == 0 ? std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(v))
                    : std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed, decimals);
  out->append(buf, res.ptr);
}

void AppendRow(const Row& r, int64_t client, bool with_label, Rng& rng, std::string* out) {
  absl::StrAppend(out, client, ",");
  if (with_label) {
    absl::StrAppend(out, r.churned ? "Attrited Customer," : "Existing Customer,");
  }
  absl::StrAppend(out, r.age, ",", kGender[r.gender], ",", r.dependents, ",");
  AppendCsvField(kEducation[r.education], ',', out);
  absl::StrAppend(out, ",", kMarital[r.marital], ",");
  AppendCsvField(kIncome[r.income], ',', out);
  absl::StrAppend(out, ",", kCard[r.card], ",", r.months_on_book, ",", r.relationships, ",",
                  r.inactive, ",", r.contacts, ",");
  const double open_to_buy = RoundTo(r.credit_limit - r.revolving, 1);
  const double utilisation = RoundTo(r.revolving / r.credit_limit, 3);
  for (const auto& [v, decimals] : std::array<std::pair<double, int>, 8>{{{r.credit_limit, 1},
                                                                          {r.revolving, 0},
                                                                          {open_to_buy, 1},
                                                                          {r.amt_change, 3},
                                                                          {r.trans_amt, 0},
                                                                          {r.trans_ct, 0},
                                                                          {r.ct_change, 3},
                                                                          {utilisation, 3}}}) {
    AppendNumber(v, decimals, out);
    out->push_back(',');
  }
  // The leaking Naive Bayes columns of the Kaggle file: a near-certain posterior of the label.
  const double nb = r.churned ? 0.99 + 0.0099 * rng.Uniform() : 0.0001 * rng.Uniform();
  AppendNumber(nb, 5, out);
  out->push_back(',');
  AppendNumber(1.0 - nb, 5, out);
  out->push_back('\n');
}

constexpr char kHeaderHead[] = "CLIENTNUM,";
constexpr char kHeaderLabel[] = "Attrition_Flag,";
constexpr char kHeaderTail[] =
    "Customer_Age,Gender,Dependent_count,Education_Level,Marital_Status,Income_Category,"
    "Card_Category,Months_on_book,Total_Relationship_Count,Months_Inactive_12_mon,"
    "Contacts_Count_12_mon,Credit_Limit,Total_Revolving_Bal,Avg_Open_To_Buy,Total_Amt_Chng_Q4_Q1,"
    "Total_Trans_Amt,Total_Trans_Ct,Total_Ct_Chng_Q4_Q1,Avg_Utilization_Ratio,"
    "Naive_Bayes_Classifier_Attrition_Flag_Card_Category_Contacts_Count_12_mon_Dependent_count_"
    "Education_Level_Months_Inactive_12_mon_1,"
    "Naive_Bayes_Classifier_Attrition_Flag_Card_Category_Contacts_Count_12_mon_Dependent_count_"
    "Education_Level_Months_Inactive_12_mon_2\n";

}  // namespace

absl::StatusOr<SynthDrift> ParseSynthDrift(absl::string_view spec) {
  SynthDrift drift;
  absl::string_view rest = spec;
  if (absl::ConsumePrefix(&rest, "shift:")) {
    drift.kind = SynthDrift::Kind::kShift;
  } else if (absl::ConsumePrefix(&rest, "scale:")) {
    drift.kind = SynthDrift::Kind::kScale;
  } else if (absl::ConsumePrefix(&rest, "mix:")) {
    drift.kind = SynthDrift::Kind::kCategoryMix;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "drift '", spec, "': want shift:COL=AMOUNT, scale:COL=FACTOR or mix:COL=LEVEL:W,..."));
  }
  const size_t eq = rest.find('=');
  if (eq == absl::string_view::npos || eq == 0 || eq + 1 == rest.size()) {
    return absl::InvalidArgumentError(absl::StrCat("drift '", spec, "': want COL=VALUE"));
  }
  drift.column = std::string(rest.substr(0, eq));
  const absl::string_view value = rest.substr(eq + 1);
  if (drift.kind != SynthDrift::Kind::kCategoryMix) {
    if (!absl::SimpleAtod(value, &drift.amount) || !std::isfinite(drift.amount)) {
      return absl::InvalidArgumentError(
          absl::StrCat("drift '", spec, "': '", value, "' is not a finite number"));
    }
    return drift;
  }
  for (const absl::string_view item : absl::StrSplit(value, ',')) {
    const size_t colon = item.rfind(':');
    double weight = 0;
    if (colon == absl::string_view::npos || colon == 0 ||
        !absl::SimpleAtod(item.substr(colon + 1), &weight)) {
      return absl::InvalidArgumentError(
          absl::StrCat("drift '", spec, "': '", item, "' is not LEVEL:WEIGHT"));
    }
    drift.mix.emplace_back(std::string(item.substr(0, colon)), weight);
  }
  return drift;
}

absl::StatusOr<std::string> GenerateSynthCsv(const SynthOptions& options) {
  if (options.rows < 1 || options.rows > 100'000'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("rows must be between 1 and 100,000,000, not ", options.rows));
  }
  std::vector<ResolvedDrift> drifts;
  for (const SynthDrift& d : options.drift) {
    CHURN_ASSIGN_OR_RETURN(ResolvedDrift resolved, Resolve(d));
    drifts.push_back(std::move(resolved));
  }
  std::string out;
  out.reserve(static_cast<size_t>(options.rows) * 180 + 1024);
  absl::StrAppend(&out, kHeaderHead, options.with_label ? kHeaderLabel : "", kHeaderTail);
  Rng rng(options.seed);
  // Drift draws come from their own stream so that a scenario never changes the base rows.
  Rng drift_rng(options.seed ^ 0xD1F7D1F7D1F7D1F7ULL);
  for (int64_t i = 0; i < options.rows; ++i) {
    Row row = DrawRow(rng);
    for (const ResolvedDrift& d : drifts) {
      ApplyDrift(d, drift_rng, row);
    }
    AppendRow(row, options.first_client + i * 7919, options.with_label, rng, &out);
  }
  return out;
}

}  // namespace churn::data
