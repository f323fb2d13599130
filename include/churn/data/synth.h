// File: churn/data/synth.h
//
// A synthetic BankChurners-shaped data set (the columns of configs/bank_churners.yaml, the
// Kaggle "Credit Card customers" file): realistic marginals, the derived identities of the real
// file (open-to-buy = limit - revolving balance, utilisation = balance / limit), and a churn label
// drawn from a logistic model of transaction count and amount, their Q4/Q1 changes, revolving
// balance, inactivity, contacts and relationship count, as in the real data, so that a model
// trained on it reaches a high but imperfect ROC-AUC. Drift scenarios shift or scale a numeric
// column or change a category mix, for the simulators and drift tests.
//
// Deterministic: the same options give the same bytes on every platform (own PRNG and
// distributions, no std:: distributions, fixed number formatting).
#ifndef CHURN_DATA_SYNTH_H_
#define CHURN_DATA_SYNTH_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace churn::data {

struct SynthDrift {
  enum class Kind {
    kShift,        // numeric column += amount (then clipped to the column's range)
    kScale,        // numeric column *= amount (then clipped)
    kCategoryMix,  // categorical column drawn from `mix` instead of its usual frequencies
  };
  Kind kind = Kind::kShift;
  std::string column;
  double amount = 0.0;
  // kCategoryMix: (level, weight) pairs; weights need not sum to 1.
  std::vector<std::pair<std::string, double>> mix;
};

// Parses "shift:Total_Trans_Ct=-10", "scale:Credit_Limit=1.5" or
// "mix:Card_Category=Blue:0.5,Silver:0.5". InvalidArgument naming the problem.
absl::StatusOr<SynthDrift> ParseSynthDrift(absl::string_view spec);

struct SynthOptions {
  // Number of data rows. Default 10,000.
  int64_t rows = 10000;
  // PRNG seed. Default 42.
  uint64_t seed = 42;
  // Drift scenarios, applied in order to the features before the label is drawn from the
  // unshifted features (concept stays, covariates move).
  std::vector<SynthDrift> drift{};
  // Whether to write the label column (a simulator's traffic never carries it). Default true.
  bool with_label = true;
  // First CLIENTNUM; row i gets first_client + i * 7919 (unique, stable). Default 700000000.
  int64_t first_client = 700000000;
};

// Generates the CSV (header included, LF line ends). InvalidArgument for a bad option or a drift
// scenario naming an unknown column or level.
absl::StatusOr<std::string> GenerateSynthCsv(const SynthOptions& options);

}  // namespace churn::data

#endif  // CHURN_DATA_SYNTH_H_
