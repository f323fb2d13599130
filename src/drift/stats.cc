#include "churn/drift/stats.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "boost/math/distributions/chi_squared.hpp"
#include "boost/math/distributions/normal.hpp"
#include "boost/math/policies/policy.hpp"
#include "boost/math/special_functions/gamma.hpp"
#include "boost/sort/spreadsort/integer_sort.hpp"

#include "churn/base/status_macros.h"

namespace churn::drift {
namespace {

// Boost.Math reports errors through errno and a NaN or infinite result, never by throwing.
using Policy = boost::math::policies::policy<
    boost::math::policies::domain_error<boost::math::policies::errno_on_error>,
    boost::math::policies::pole_error<boost::math::policies::errno_on_error>,
    boost::math::policies::overflow_error<boost::math::policies::errno_on_error>,
    boost::math::policies::evaluation_error<boost::math::policies::errno_on_error>>;

// SciPy's ks_2samp tries the exact distribution when both samples are at most this large.
constexpr size_t kMaxExactKs = 10000;

absl::Status CheckSample(absl::string_view what, absl::string_view name,
                         absl::Span<const double> sample) {
  if (sample.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", name, " is empty"));
  }
  for (size_t i = 0; i < sample.size(); ++i) {
    if (!std::isfinite(sample[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": ", name, " value ", sample[i], " at row ", i, " is not finite"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSamples(absl::string_view what, absl::Span<const double> reference,
                          absl::Span<const double> current) {
  CHURN_RETURN_IF_ERROR(CheckSample(what, "reference", reference));
  return CheckSample(what, "current", current);
}

// Non-negative finite weights with a positive sum.
absl::Status CheckWeights(absl::string_view what, absl::string_view name,
                          absl::Span<const double> weights) {
  if (weights.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", name, " is empty"));
  }
  double sum = 0.0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i]) || weights[i] < 0.0) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", name, " entry ", weights[i],
                                                     " at ", i, " is negative or not finite"));
    }
    sum += weights[i];
  }
  if (sum <= 0.0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", name, " sums to 0"));
  }
  return absl::OkStatus();
}

absl::Status CheckAligned(absl::string_view what, size_t a, size_t b) {
  if (a != b) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the two sides differ in length (", a, " and ", b, ")"));
  }
  return absl::OkStatus();
}

// A double's bits as an unsigned integer in the same order as the values: negative ones
// flipped, positive ones with the sign bit set (-0.0 just below 0.0). For finite values.
uint64_t OrderedKey(double x) {
  const auto bits = std::bit_cast<uint64_t>(x);
  return (bits >> 63) != 0 ? ~bits : bits | (uint64_t{1} << 63);
}

double FromOrderedKey(uint64_t key) {
  return std::bit_cast<double>((key >> 63) != 0 ? key & ~(uint64_t{1} << 63) : ~key);
}

// An ascending copy of finite values: Boost's spreadsort (radix and comparison hybrid) on the
// ordered keys, 2-3x std::sort on 10,000 values (std::sort below a few hundred). Its float_sort
// would spare the keys, but overflows a signed integer on such input (UBSan reports it).
std::vector<double> SortedCopy(absl::Span<const double> values) {
  std::vector<uint64_t> keys(values.size());
  std::transform(values.begin(), values.end(), keys.begin(), OrderedKey);
  boost::sort::spreadsort::integer_sort(keys.begin(), keys.end());
  std::vector<double> out(keys.size());
  std::transform(keys.begin(), keys.end(), out.begin(), FromOrderedKey);
  return out;
}

// A sample in ascending order: the span itself when it already is (a monitor's expanded
// reference; checking is one pass), else a sorted copy. Sorted once per RunTest, not once per
// statistic. Neither copyable nor movable: the view may point into the copy. For finite values
// (check them first).
class SortedSample {
 public:
  explicit SortedSample(absl::Span<const double> values) {
    if (std::is_sorted(values.begin(), values.end())) {
      view_ = values;
    } else {
      copy_ = SortedCopy(values);
      view_ = copy_;
    }
  }

  SortedSample(const SortedSample&) = delete;
  SortedSample& operator=(const SortedSample&) = delete;
  ~SortedSample() = default;

  absl::Span<const double> View() const { return view_; }

 private:
  std::vector<double> copy_;
  absl::Span<const double> view_;
};

// Walks the distinct values x of two ascending samples pooled, ascending, calling
// visit(x, i, j) with i and j the counts of values <= x in `a` and in `b` (equal values, 0.0 and
// -0.0 included, are one x).
template <typename Visit>
void WalkPooled(absl::Span<const double> a, absl::Span<const double> b, Visit visit) {
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() || j < b.size()) {
    const double x = (j == b.size() || (i < a.size() && a[i] <= b[j])) ? a[i] : b[j];
    while (i < a.size() && a[i] <= x) {
      ++i;
    }
    while (j < b.size() && b[j] <= x) {
      ++j;
    }
    visit(x, i, j);
  }
}

// The number of distinct values of two ascending samples together (as keys of a
// std::map<double> would count them).
size_t DistinctUnion(absl::Span<const double> a, absl::Span<const double> b) {
  size_t n = 0;
  WalkPooled(a, b, [&n](double, size_t, size_t) { ++n; });
  return n;
}

// The number of distinct values of one ascending sample.
size_t Distinct(absl::Span<const double> sorted) {
  size_t n = sorted.empty() ? 0 : 1;
  for (size_t i = 1; i < sorted.size(); ++i) {
    n += sorted[i] != sorted[i - 1] ? 1 : 0;
  }
  return n;
}

// --- Kolmogorov-Smirnov ----------------------------------------------------------------------

// max over the pooled values x of |F1(x) - F2(x)|, each F as count(<= x) / n (numpy's
// searchsorted(side="right") / n, so the differences round as SciPy's).
double KsStatistic(absl::Span<const double> a, absl::Span<const double> b) {
  const auto n1 = static_cast<double>(a.size());
  const auto n2 = static_cast<double>(b.size());
  double max_diff = 0.0;
  double min_diff = 0.0;
  WalkPooled(a, b, [&](double, size_t i, size_t j) {
    const double diff = static_cast<double>(i) / n1 - static_cast<double>(j) / n2;
    max_diff = std::max(max_diff, diff);
    min_diff = std::min(min_diff, diff);
  });
  return std::max(max_diff, std::clamp(-min_diff, 0.0, 1.0));
}

// Pr(D_{n,n} >= h / n): 2 * sum_k (-1)^(k+1) binom(2n, n - k h) / binom(2n, n), evaluated as
// SciPy's Horner-like nest of ratios to avoid cancellation.
double ProbOutsideSquare(int64_t n, int64_t h) {
  double p = 0.0;
  for (int64_t k = n / h; k >= 0; --k) {
    double p1 = 1.0;
    for (int64_t j = 0; j < h; ++j) {
      p1 = static_cast<double>(n - k * h - j) * p1 / static_cast<double>(n + k * h + j + 1);
    }
    p = p1 * (1.0 - p);
  }
  return 2.0 * p;
}

// 1 - (share of lattice paths from (0, 0) to (m, n) staying strictly inside |x/m - y/n| <
// h / lcm), by the recursion of Viehmann (arXiv 2102.08037) that computes the complement directly
// over a sliding window of one column, as SciPy 1.10.
double OuterProbInside(int64_t m, int64_t n, int64_t g, int64_t h) {
  if (m < n) {
    std::swap(m, n);
  }
  const int64_t mg = m / g;
  const int64_t ng = n / g;
  int64_t min_j = 0;
  int64_t max_j = std::min((h + mg - 1) / mg, n + 1);
  int64_t cur_len = max_j - min_j;
  const int64_t len_a = std::min(2 * max_j + 2, n + 1);
  std::vector<double> a(static_cast<size_t>(len_a), 1.0);
  std::fill(a.begin() + min_j, a.begin() + max_j, 0.0);
  for (int64_t i = 1; i <= m; ++i) {
    const int64_t last_min_j = min_j;
    const int64_t last_len = cur_len;
    // floor((ng i - h) / mg) + 1 and ceil((ng i + h) / mg), in exact integer arithmetic.
    const int64_t num_lo = ng * i - h;
    const int64_t floor_lo = num_lo >= 0 ? num_lo / mg : -((-num_lo + mg - 1) / mg);
    min_j = std::min(std::max(floor_lo + 1, int64_t{0}), n);
    max_j = std::min((ng * i + h + mg - 1) / mg, n + 1);
    if (max_j <= min_j) {
      return 1.0;
    }
    double val = min_j == 0 ? 0.0 : 1.0;
    for (int64_t jj = 0; jj < max_j - min_j; ++jj) {
      const int64_t j = jj + min_j;
      val = (a[static_cast<size_t>(jj + min_j - last_min_j)] * static_cast<double>(i) +
             val * static_cast<double>(j)) /
            static_cast<double>(i + j);
      a[static_cast<size_t>(jj)] = val;
    }
    cur_len = max_j - min_j;
    if (last_len > cur_len) {
      std::fill(a.begin() + cur_len, a.begin() + last_len, 1.0);
    }
  }
  return a[static_cast<size_t>(max_j - min_j - 1)];
}

// One-sided Smirnov survival function Pr(D+_n >= x) by the Birnbaum-Tingey sum of positive
// terms, each in log space (scipy.special.smirnov).
double SmirnovSf(int64_t n, double x) {
  if (x >= 1.0) {
    return 0.0;
  }
  if (x <= 0.0) {
    return 1.0;
  }
  const auto nd = static_cast<double>(n);
  const auto last = static_cast<int64_t>(std::floor(nd * (1.0 - x)));
  const double log_n_fact = boost::math::lgamma(nd + 1.0, Policy());
  double sum = 0.0;
  for (int64_t v = 0; v <= last; ++v) {
    const auto vd = static_cast<double>(v);
    const double tail = 1.0 - x - vd / nd;
    if (tail <= 0.0) {
      continue;
    }
    const double log_binom = log_n_fact - boost::math::lgamma(vd + 1.0, Policy()) -
                             boost::math::lgamma(nd - vd + 1.0, Policy());
    sum += std::exp(log_binom + (vd - 1.0) * std::log(x + vd / nd) + (nd - vd) * std::log(tail));
  }
  return std::clamp(x * sum, 0.0, 1.0);
}

using Matrix = std::vector<double>;  // row-major m x m

Matrix MatMul(const Matrix& a, const Matrix& b, size_t m) {
  Matrix c(m * m, 0.0);
  for (size_t i = 0; i < m; ++i) {
    for (size_t k = 0; k < m; ++k) {
      const double aik = a[i * m + k];
      for (size_t j = 0; j < m; ++j) {
        c[i * m + j] += aik * b[k * m + j];
      }
    }
  }
  return c;
}

// Durbin's matrix H for d = (k - h) / n (Marsaglia, Tsang and Wang 2003).
Matrix DurbinMatrix(double h, size_t m) {
  Matrix hm(m * m, 0.0);
  std::vector<double> v(m);
  std::vector<double> w(m);
  double fac = 1.0;
  for (size_t j = 1; j <= m; ++j) {
    w[j - 1] = fac;
    fac /= static_cast<double>(j);
    v[j - 1] = (1.0 - std::pow(h, static_cast<double>(j))) * fac;
  }
  const double tt = std::pow(std::max(2.0 * h - 1.0, 0.0), static_cast<double>(m)) -
                    2.0 * std::pow(h, static_cast<double>(m));
  v[m - 1] = (1.0 + tt) * fac;
  for (size_t i = 1; i < m; ++i) {
    for (size_t r = i - 1; r < m; ++r) {
      hm[r * m + i] = w[r - (i - 1)];
    }
  }
  for (size_t r = 0; r < m; ++r) {
    hm[r * m] = v[r];
  }
  for (size_t c = 0; c < m; ++c) {
    hm[(m - 1) * m + c] = v[m - 1 - c];
  }
  return hm;
}

// Pr(D_n <= d), exact, by the k-th diagonal entry of (n! / n^n) H^n with scaling by 2^128.
double KolmogorovCdfDurbin(int64_t n, double d) {
  if (d >= 1.0) {
    return 1.0;
  }
  const double nd = static_cast<double>(n) * d;
  if (nd <= 0.5) {
    return 0.0;
  }
  const auto k = static_cast<int64_t>(std::ceil(nd));
  const double h = static_cast<double>(k) - nd;
  const auto m = static_cast<size_t>(2 * k - 1);
  const size_t kk = static_cast<size_t>(k - 1) * m + static_cast<size_t>(k - 1);
  constexpr int kScaleExp = 128;
  const double scale = std::ldexp(1.0, kScaleExp);
  Matrix hm = DurbinMatrix(h, m);
  Matrix power(m * m, 0.0);
  for (size_t i = 0; i < m; ++i) {
    power[i * m + i] = 1.0;
  }
  int expnt = 0;
  int h_expnt = 0;
  for (int64_t left = n; left > 0; left /= 2) {
    if (left % 2 != 0) {
      power = MatMul(power, hm, m);
      expnt += h_expnt;
    }
    hm = MatMul(hm, hm, m);
    h_expnt *= 2;
    if (std::abs(hm[kk]) > scale) {
      for (double& x : hm) {
        x /= scale;
      }
      h_expnt += kScaleExp;
    }
  }
  double p = power[kk];
  for (int64_t i = 1; i <= n; ++i) {
    p = static_cast<double>(i) * p / static_cast<double>(n);
    if (std::abs(p) < 1.0 / scale) {
      p *= scale;
      expnt -= kScaleExp;
    }
  }
  return std::ldexp(p, expnt);
}

// The four Pelz-Good terms K0..K3 of Pr(D_n <= x) ~ K0 + K1/sqrt(n) + K2/n + K3/n^1.5, each as
// a theta-function sum suited to small z = sqrt(n) x (Pelz and Good 1976, as SciPy).
double KolmogorovCdfPelzGood(int64_t n, double x) {
  constexpr double kPi = 3.14159265358979323846;
  const double pi2 = kPi * kPi;
  const double pi4 = pi2 * pi2;
  const double pi6 = pi4 * pi2;
  const double sqrt2pi = std::sqrt(2.0 * kPi);
  const double z = std::sqrt(static_cast<double>(n)) * x;
  const double z2 = z * z;
  const double z4 = z2 * z2;
  const double z6 = z4 * z2;
  const double qlog = -pi2 / 8.0 / z2;
  if (qlog < -708.0) {
    return 0.0;
  }
  double q = std::exp(qlog);
  const double k1a = -z2;
  const double k1b = pi2 / 4.0;
  const double k2a = 6.0 * z6 + 2.0 * z4;
  const double k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
  const double k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
  const double k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
  const double k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
  const double k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
  const double k3a = -30.0 * z6 - 90.0 * z4 * z4;
  double kt[4] = {0.0, 0.0, 0.0, 0.0};
  const auto max_k = static_cast<int64_t>(std::ceil(16.0 * z / kPi));
  for (int64_t k = max_k; k > 0; --k) {
    const auto m = static_cast<double>(2 * k - 1);
    const double m2 = m * m;
    const double qpower = std::pow(q, static_cast<double>(8 * k));
    const double coeffs[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m2 * m2,
                              k3a + k3b * m2 + k3c * m2 * m2 + k3d * m2 * m2 * m2};
    for (int t = 0; t < 4; ++t) {
      kt[t] = kt[t] * qpower + coeffs[t];
    }
  }
  const double divisors[4] = {z, 6.0 * z4, 72.0 * z6 * z, 6480.0 * z6 * z4};
  for (int t = 0; t < 4; ++t) {
    kt[t] = kt[t] * q * sqrt2pi / divisors[t];
  }
  q = std::exp(-pi2 / 2.0 / z2);
  double k2extra = 0.0;
  double k3extra = 0.0;
  const double sqrt3z = std::sqrt(3.0) * z;
  for (int64_t k = max_k; k > 0; --k) {
    const auto kd = static_cast<double>(k);
    const double qk = std::pow(q, kd * kd);
    k2extra += kd * kd * qk;
    k3extra += (sqrt3z + kPi * kd) * (sqrt3z - kPi * kd) * kd * kd * qk;
  }
  kt[2] += k2extra * pi2 * sqrt2pi / (-36.0 * z2 * z);
  kt[3] += k3extra * pi2 * sqrt2pi / (216.0 * z6);
  double sum = 0.0;
  for (int t = 0; t < 4; ++t) {
    sum += kt[t] / std::pow(static_cast<double>(n), t / 2.0);
  }
  return sum;
}

// Pr(D_n >= x) of the one-sample two-sided statistic: SciPy's kstwo.sf (Simard and L'Ecuyer's
// choice of method). Where SciPy uses Pomeranz's recursion (n <= 140, 0.754693 < n x^2 <= 4) this
// uses Durbin's matrix: both are exact.
double KolmogorovSf(int64_t n, double x) {
  const auto nd = static_cast<double>(n);
  if (x >= 1.0) {
    return 0.0;
  }
  if (x <= 0.0) {
    return 1.0;
  }
  const double t = nd * x;
  if (t <= 1.0) {
    if (t <= 0.5) {
      return 1.0;
    }
    // n! / n^n * (2t - 1)^n (Ruben and Gambino).
    const double log_cdf =
        boost::math::lgamma(nd + 1.0, Policy()) - nd * std::log(nd) + nd * std::log(2.0 * t - 1.0);
    return std::clamp(1.0 - std::exp(log_cdf), 0.0, 1.0);
  }
  if (t >= nd - 1.0) {
    return std::clamp(2.0 * std::pow(1.0 - x, nd), 0.0, 1.0);
  }
  if (x >= 0.5) {
    return std::clamp(2.0 * SmirnovSf(n, x), 0.0, 1.0);
  }
  const double nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 4.0) {
      return std::clamp(1.0 - KolmogorovCdfDurbin(n, x), 0.0, 1.0);
    }
    return std::clamp(2.0 * SmirnovSf(n, x), 0.0, 1.0);
  }
  if (nx2 >= 370.0) {
    return 0.0;
  }
  if (nx2 >= 2.2) {
    return std::clamp(2.0 * SmirnovSf(n, x), 0.0, 1.0);
  }
  double cdf = 1.0;
  if (nx2 < 18.0) {
    cdf = (n <= 100000 && nd * std::pow(x, 1.5) <= 1.4) ? KolmogorovCdfDurbin(n, x)
                                                        : KolmogorovCdfPelzGood(n, x);
  }
  return std::clamp(1.0 - cdf, 0.0, 1.0);
}

// SciPy's _attempt_exact_2kssamp: rounds d to h / lcm and returns the exact p-value, or nothing
// when it is not a probability (overflow, NaN).
std::optional<double> ExactKsPValue(int64_t n1, int64_t n2, double& d) {
  const int64_t g = std::gcd(n1, n2);
  const int64_t lcm = (n1 / g) * n2;
  const auto h = static_cast<int64_t>(std::nearbyint(d * static_cast<double>(lcm)));
  d = static_cast<double>(h) / static_cast<double>(lcm);
  if (h == 0) {
    return 1.0;
  }
  const double p = n1 == n2 ? ProbOutsideSquare(n1, h) : OuterProbInside(n1, n2, g, h);
  if (!std::isfinite(p) || p < 0.0 || p > 1.0) {
    return std::nullopt;
  }
  return p;
}

// --- Binning ---------------------------------------------------------------------------------

// numpy.histogram_bin_edges(values, bins="sturges"): width ptp / (log2(n) + 1), ceil(ptp / width)
// equal bins between min and max (min - 0.5, max + 0.5 when they are equal), edges as linspace.
// `first` and `last` are the smallest and largest of the `n` values.
std::vector<double> SturgesEdges(double first, double last, size_t n) {
  const double ptp = last - first;
  const double width = ptp / (std::log2(static_cast<double>(n)) + 1.0);
  const int64_t bins = width != 0.0 ? static_cast<int64_t>(std::ceil(ptp / width)) : 1;
  if (first == last) {
    first -= 0.5;
    last += 0.5;
  }
  const double step = (last - first) / static_cast<double>(bins);
  std::vector<double> edges(static_cast<size_t>(bins + 1));
  for (int64_t i = 0; i <= bins; ++i) {
    edges[static_cast<size_t>(i)] = static_cast<double>(i) * step + first;
  }
  edges.back() = last;
  return edges;
}

// numpy.histogram(values, edges)[0] / n: bins [e_i, e_i+1), the last one closed.
std::vector<double> HistogramShares(absl::Span<const double> values,
                                    const std::vector<double>& edges) {
  std::vector<double> counts(edges.size() - 1, 0.0);
  for (const double v : values) {
    if (v < edges.front() || v > edges.back()) {
      continue;
    }
    auto it = std::upper_bound(edges.begin(), edges.end(), v);
    size_t bin = static_cast<size_t>(it - edges.begin());
    bin = bin == 0 ? 0 : bin - 1;
    counts[std::min(bin, counts.size() - 1)] += 1.0;
  }
  const auto n = static_cast<double>(values.size());
  for (double& c : counts) {
    c /= n;
  }
  return counts;
}

// Counts of each distinct value of two ascending samples, in ascending order (what a
// std::map<double> of counts would hold).
CategoryCounts ValueCounts(absl::Span<const double> reference, absl::Span<const double> current) {
  CategoryCounts counts;
  size_t i = 0;
  size_t j = 0;
  while (i < reference.size() || j < current.size()) {
    const double x = (j == current.size() || (i < reference.size() && reference[i] <= current[j]))
                         ? reference[i]
                         : current[j];
    const size_t i0 = i;
    const size_t j0 = j;
    while (i < reference.size() && reference[i] <= x) {
      ++i;
    }
    while (j < current.size() && current[j] <= x) {
      ++j;
    }
    counts.reference.push_back(static_cast<double>(i - i0));
    counts.current.push_back(static_cast<double>(j - j0));
  }
  return counts;
}

// --- The statistics on ascending samples (checked already) ----------------------------------

TestStatistic KsOnSorted(absl::Span<const double> a, absl::Span<const double> b) {
  double d = KsStatistic(a, b);
  const auto n1 = static_cast<int64_t>(a.size());
  const auto n2 = static_cast<int64_t>(b.size());
  if (std::max(a.size(), b.size()) <= kMaxExactKs) {
    double rounded = d;
    const std::optional<double> p = ExactKsPValue(n1, n2, rounded);
    if (p.has_value()) {
      return TestStatistic{.statistic = rounded, .p_value = *p};
    }
    d = rounded;
  }
  const auto m = static_cast<double>(std::max(n1, n2));
  const auto n = static_cast<double>(std::min(n1, n2));
  const double en = m * n / (m + n);
  const auto en_rounded = static_cast<int64_t>(std::nearbyint(en));
  return TestStatistic{.statistic = d,
                       .p_value = std::clamp(KolmogorovSf(en_rounded, d), 0.0, 1.0)};
}

// SciPy's sum over the pooled sorted values x_k of |F_u(x_k) - F_v(x_k)| (x_k+1 - x_k), walked
// over the distinct values: between equal pooled values the step is 0 and adds nothing, so the
// sum is the same, term for term, in the same order.
double WassersteinOnSorted(absl::Span<const double> u, absl::Span<const double> v) {
  const auto nu = static_cast<double>(u.size());
  const auto nv = static_cast<double>(v.size());
  double sum = 0.0;
  bool first = true;
  double prev_x = 0.0;
  double prev_gap = 0.0;  // |F_u - F_v| from prev_x to the next pooled value
  WalkPooled(u, v, [&](double x, size_t i, size_t j) {
    if (!first) {
      sum += prev_gap * (x - prev_x);
    }
    first = false;
    prev_x = x;
    prev_gap = std::abs(static_cast<double>(i) / nu - static_cast<double>(j) / nv);
  });
  return sum;
}

// Evidently's norm of the Wasserstein distance: max(std(reference), 0.001), ddof 0, summed in
// the reference's own order.
double WassersteinNorm(absl::Span<const double> reference) {
  const auto n = static_cast<double>(reference.size());
  const double mean = std::accumulate(reference.begin(), reference.end(), 0.0) / n;
  double ss = 0.0;
  for (const double x : reference) {
    ss += (x - mean) * (x - mean);
  }
  return std::max(std::sqrt(ss / n), 0.001);
}

// BinNumeric with both samples also given ascending.
absl::StatusOr<Binned> BinOnSorted(absl::Span<const double> reference,
                                   absl::Span<const double> current,
                                   absl::Span<const double> ref_sorted,
                                   absl::Span<const double> cur_sorted) {
  if (Distinct(ref_sorted) > 20) {
    const std::vector<double> edges = SturgesEdges(std::min(ref_sorted.front(), cur_sorted.front()),
                                                   std::max(ref_sorted.back(), cur_sorted.back()),
                                                   ref_sorted.size() + cur_sorted.size());
    return Binned{.reference = HistogramShares(reference, edges),
                  .current = HistogramShares(current, edges)};
  }
  return ToProportions(ValueCounts(ref_sorted, cur_sorted));
}

// Evidently's z test on counts of each category: the first category (in ascending order) is 0,
// every other one 1.
absl::StatusOr<TestStatistic> ZTestOnCounts(const CategoryCounts& counts) {
  const double ref_rows = std::accumulate(counts.reference.begin(), counts.reference.end(), 0.0);
  const double cur_rows = std::accumulate(counts.current.begin(), counts.current.end(), 0.0);
  if (counts.reference.size() <= 1) {
    return TestStatistic{.statistic = 0.0, .p_value = 1.0};
  }
  return ZTestProportions(ref_rows - counts.reference[0], ref_rows, cur_rows - counts.current[0],
                          cur_rows);
}

DriftResult MakeResult(DriftTest test, double score, double threshold) {
  DriftResult r;
  r.test = test;
  r.test_name = std::string(DriftTestName(test));
  r.score = score;
  r.threshold = threshold;
  switch (test) {
    case DriftTest::kKs:
      r.drifted = score <= threshold;
      break;
    case DriftTest::kChiSquare:
    case DriftTest::kZ:
      r.drifted = score < threshold;
      break;
    default:
      r.drifted = score >= threshold;
      break;
  }
  return r;
}

// The tests both column kinds run on category (or distinct-value) counts.
absl::StatusOr<double> ScoreOnCounts(DriftTest test, const CategoryCounts& counts) {
  switch (test) {
    case DriftTest::kChiSquare: {
      CHURN_ASSIGN_OR_RETURN(TestStatistic t, ChiSquareTest(counts.reference, counts.current));
      return t.p_value;
    }
    case DriftTest::kZ: {
      CHURN_ASSIGN_OR_RETURN(TestStatistic t, ZTestOnCounts(counts));
      return t.p_value;
    }
    case DriftTest::kJensenShannon: {
      CHURN_ASSIGN_OR_RETURN(Binned b, ToProportions(counts));
      return JensenShannonDistance(b.reference, b.current);
    }
    case DriftTest::kPsi: {
      CHURN_ASSIGN_OR_RETURN(Binned b, ToProportions(counts));
      FillEmptyBins(b.reference);
      FillEmptyBins(b.current);
      return PopulationStabilityIndex(b.reference, b.current);
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("RunTest: test ", DriftTestName(test), " needs numeric values"));
  }
}

absl::Status CheckThreshold(const ColumnOptions& options) {
  if (options.threshold.has_value() && !std::isfinite(*options.threshold)) {
    return absl::InvalidArgumentError("RunTest: threshold is not finite");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TestStatistic> KsTwoSample(absl::Span<const double> reference,
                                          absl::Span<const double> current) {
  CHURN_RETURN_IF_ERROR(CheckSamples("KsTwoSample", reference, current));
  const SortedSample a(reference);
  const SortedSample b(current);
  return KsOnSorted(a.View(), b.View());
}

absl::StatusOr<TestStatistic> ChiSquareGoodnessOfFit(absl::Span<const double> observed,
                                                     absl::Span<const double> expected) {
  constexpr absl::string_view kWhat = "ChiSquareGoodnessOfFit";
  CHURN_RETURN_IF_ERROR(CheckAligned(kWhat, observed.size(), expected.size()));
  CHURN_RETURN_IF_ERROR(CheckWeights(kWhat, "observed", observed));
  CHURN_RETURN_IF_ERROR(CheckWeights(kWhat, "expected", expected));
  const double obs_sum = std::accumulate(observed.begin(), observed.end(), 0.0);
  const double exp_sum = std::accumulate(expected.begin(), expected.end(), 0.0);
  if (std::abs(obs_sum - exp_sum) / std::min(obs_sum, exp_sum) > 1e-8) {
    return absl::InvalidArgumentError(
        absl::StrCat(kWhat, ": observed sums to ", obs_sum, ", expected to ", exp_sum));
  }
  if (observed.size() == 1) {
    return TestStatistic{.statistic = 0.0, .p_value = 1.0};
  }
  double stat = 0.0;
  for (size_t i = 0; i < observed.size(); ++i) {
    const double diff = observed[i] - expected[i];
    if (expected[i] == 0.0) {
      if (diff != 0.0) {
        return TestStatistic{.statistic = HUGE_VAL, .p_value = 0.0};
      }
      continue;
    }
    stat += diff * diff / expected[i];
  }
  const boost::math::chi_squared_distribution<double, Policy> dist(
      static_cast<double>(observed.size() - 1));
  return TestStatistic{.statistic = stat, .p_value = boost::math::cdf(complement(dist, stat))};
}

absl::StatusOr<TestStatistic> ChiSquareTest(absl::Span<const double> reference_counts,
                                            absl::Span<const double> current_counts) {
  constexpr absl::string_view kWhat = "ChiSquareTest";
  CHURN_RETURN_IF_ERROR(CheckAligned(kWhat, reference_counts.size(), current_counts.size()));
  CHURN_RETURN_IF_ERROR(CheckWeights(kWhat, "reference counts", reference_counts));
  CHURN_RETURN_IF_ERROR(CheckWeights(kWhat, "current counts", current_counts));
  const double ref_total = std::accumulate(reference_counts.begin(), reference_counts.end(), 0.0);
  const double cur_total = std::accumulate(current_counts.begin(), current_counts.end(), 0.0);
  const double k_norm = cur_total / ref_total;
  std::vector<double> expected(reference_counts.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    expected[i] = reference_counts[i] * k_norm;
  }
  return ChiSquareGoodnessOfFit(current_counts, expected);
}

absl::StatusOr<TestStatistic> ZTestProportions(double reference_hits, double reference_rows,
                                               double current_hits, double current_rows) {
  const bool valid = std::isfinite(reference_rows) && std::isfinite(current_rows) &&
                     reference_rows > 0.0 && current_rows > 0.0 && reference_hits >= 0.0 &&
                     current_hits >= 0.0 && reference_hits <= reference_rows &&
                     current_hits <= current_rows;
  if (!valid) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ZTestProportions: need 0 <= hits <= rows and rows > 0 (reference ", reference_hits, " of ",
        reference_rows, ", current ", current_hits, " of ", current_rows, ")"));
  }
  const double p1 = reference_hits / reference_rows;
  const double p2 = current_hits / current_rows;
  const double pooled = (p1 * reference_rows + p2 * current_rows) / (reference_rows + current_rows);
  const double var = pooled * (1.0 - pooled) * (1.0 / reference_rows + 1.0 / current_rows);
  if (var <= 0.0) {
    return TestStatistic{.statistic = 0.0, .p_value = 1.0};
  }
  const double z = (p1 - p2) / std::sqrt(var);
  const boost::math::normal_distribution<double, Policy> normal;
  return TestStatistic{.statistic = z,
                       .p_value = 2.0 * boost::math::cdf(complement(normal, std::abs(z)))};
}

absl::StatusOr<double> WassersteinDistance(absl::Span<const double> reference,
                                           absl::Span<const double> current) {
  CHURN_RETURN_IF_ERROR(CheckSamples("WassersteinDistance", reference, current));
  const SortedSample u(reference);
  const SortedSample v(current);
  return WassersteinOnSorted(u.View(), v.View());
}

absl::StatusOr<double> WassersteinNormed(absl::Span<const double> reference,
                                         absl::Span<const double> current) {
  CHURN_ASSIGN_OR_RETURN(const double w, WassersteinDistance(reference, current));
  return w / WassersteinNorm(reference);
}

absl::StatusOr<double> JensenShannonDistance(absl::Span<const double> p, absl::Span<const double> q,
                                             std::optional<double> base) {
  constexpr absl::string_view kWhat = "JensenShannonDistance";
  CHURN_RETURN_IF_ERROR(CheckAligned(kWhat, p.size(), q.size()));
  CHURN_RETURN_IF_ERROR(CheckWeights(kWhat, "p", p));
  CHURN_RETURN_IF_ERROR(CheckWeights(kWhat, "q", q));
  if (base.has_value() && !(*base > 0.0 && *base != 1.0 && std::isfinite(*base))) {
    return absl::InvalidArgumentError(absl::StrCat(kWhat, ": base ", *base, " is not valid"));
  }
  const double p_sum = std::accumulate(p.begin(), p.end(), 0.0);
  const double q_sum = std::accumulate(q.begin(), q.end(), 0.0);
  double left = 0.0;
  double right = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double pi = p[i] / p_sum;
    const double qi = q[i] / q_sum;
    const double mi = (pi + qi) / 2.0;
    left += pi > 0.0 ? pi * std::log(pi / mi) : 0.0;
    right += qi > 0.0 ? qi * std::log(qi / mi) : 0.0;
  }
  double js = left + right;
  if (base.has_value()) {
    js /= std::log(*base);
  }
  return std::sqrt(std::max(js / 2.0, 0.0));
}

absl::StatusOr<double> PopulationStabilityIndex(absl::Span<const double> reference_percents,
                                                absl::Span<const double> current_percents) {
  constexpr absl::string_view kWhat = "PopulationStabilityIndex";
  CHURN_RETURN_IF_ERROR(CheckAligned(kWhat, reference_percents.size(), current_percents.size()));
  CHURN_RETURN_IF_ERROR(CheckWeights(kWhat, "reference", reference_percents));
  CHURN_RETURN_IF_ERROR(CheckWeights(kWhat, "current", current_percents));
  double psi = 0.0;
  for (size_t i = 0; i < reference_percents.size(); ++i) {
    const double r = reference_percents[i];
    const double c = current_percents[i];
    if (r <= 0.0 || c <= 0.0) {
      return absl::InvalidArgumentError(
          absl::StrCat(kWhat, ": bin ", i, " is empty (apply FillEmptyBins first)"));
    }
    psi += (r - c) * std::log(r / c);
  }
  return psi;
}

absl::StatusOr<Binned> BinNumeric(absl::Span<const double> reference,
                                  absl::Span<const double> current) {
  CHURN_RETURN_IF_ERROR(CheckSamples("BinNumeric", reference, current));
  const SortedSample ref(reference);
  const SortedSample cur(current);
  return BinOnSorted(reference, current, ref.View(), cur.View());
}

CategoryCounts CountCategories(absl::Span<const std::string> reference,
                               absl::Span<const std::string> current) {
  // Counted in a hash map, then the keys sorted: what a std::map<std::string> gives, without a
  // tree walk of string comparisons per value.
  absl::flat_hash_map<absl::string_view, std::pair<double, double>> by_key;
  for (const std::string& v : reference) {
    by_key[v].first += 1.0;
  }
  for (const std::string& v : current) {
    by_key[v].second += 1.0;
  }
  std::vector<std::pair<absl::string_view, std::pair<double, double>>> sorted(by_key.begin(),
                                                                              by_key.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  CategoryCounts counts;
  counts.keys.reserve(sorted.size());
  counts.reference.reserve(sorted.size());
  counts.current.reserve(sorted.size());
  for (const auto& [key, c] : sorted) {
    counts.keys.emplace_back(key);
    counts.reference.push_back(c.first);
    counts.current.push_back(c.second);
  }
  return counts;
}

absl::StatusOr<Binned> ToProportions(const CategoryCounts& counts) {
  constexpr absl::string_view kWhat = "ToProportions";
  CHURN_RETURN_IF_ERROR(CheckAligned(kWhat, counts.reference.size(), counts.current.size()));
  CHURN_RETURN_IF_ERROR(CheckWeights(kWhat, "reference counts", counts.reference));
  CHURN_RETURN_IF_ERROR(CheckWeights(kWhat, "current counts", counts.current));
  const double ref_total = std::accumulate(counts.reference.begin(), counts.reference.end(), 0.0);
  const double cur_total = std::accumulate(counts.current.begin(), counts.current.end(), 0.0);
  Binned b;
  for (size_t i = 0; i < counts.reference.size(); ++i) {
    b.reference.push_back(counts.reference[i] / ref_total);
    b.current.push_back(counts.current[i] / cur_total);
  }
  return b;
}

void FillEmptyBins(std::vector<double>& percents) {
  double min_nonzero = HUGE_VAL;
  for (const double p : percents) {
    if (p != 0.0) {
      min_nonzero = std::min(min_nonzero, p);
    }
  }
  if (min_nonzero == HUGE_VAL) {
    return;
  }
  const double fill = min_nonzero <= 1e-4 ? min_nonzero / 1e6 : 1e-4;
  for (double& p : percents) {
    if (p == 0.0) {
      p = fill;
    }
  }
}

absl::string_view DriftTestName(DriftTest test) {
  switch (test) {
    case DriftTest::kKs:
      return "ks";
    case DriftTest::kChiSquare:
      return "chisquare";
    case DriftTest::kZ:
      return "z";
    case DriftTest::kWasserstein:
      return "wasserstein";
    case DriftTest::kJensenShannon:
      return "jensenshannon";
    case DriftTest::kPsi:
      return "psi";
  }
  return "unknown";
}

absl::StatusOr<DriftTest> DriftTestFromName(absl::string_view name) {
  for (const DriftTest t : {DriftTest::kKs, DriftTest::kChiSquare, DriftTest::kZ,
                            DriftTest::kWasserstein, DriftTest::kJensenShannon, DriftTest::kPsi}) {
    if (DriftTestName(t) == name) {
      return t;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("DriftTestFromName: unknown test \"", name,
                   "\" (expected ks, chisquare, z, wasserstein, jensenshannon or psi)"));
}

bool IsPValueTest(DriftTest test) {
  return test == DriftTest::kKs || test == DriftTest::kChiSquare || test == DriftTest::kZ;
}

double DefaultThreshold(DriftTest test) {
  return IsPValueTest(test) ? 0.05 : 0.1;
}

DriftTest ChooseTest(ColumnKind kind, size_t reference_rows, size_t n_unique) {
  const bool numeric_many = kind == ColumnKind::kNumeric && n_unique > 5;
  if (reference_rows <= 1000) {
    if (numeric_many) {
      return DriftTest::kKs;
    }
    return n_unique > 2 ? DriftTest::kChiSquare : DriftTest::kZ;
  }
  return numeric_many ? DriftTest::kWasserstein : DriftTest::kJensenShannon;
}

absl::StatusOr<DriftResult> RunTest(absl::Span<const double> reference,
                                    absl::Span<const double> current,
                                    const ColumnOptions& options) {
  CHURN_RETURN_IF_ERROR(CheckSamples("RunTest", reference, current));
  CHURN_RETURN_IF_ERROR(CheckThreshold(options));
  // Every test below works on the sorted samples (or counts of their distinct values); sort each
  // once here. The distinct count is needed only to choose the test.
  const SortedSample ref(reference);
  const SortedSample cur(current);
  const DriftTest test = options.test.has_value()
                             ? *options.test
                             : ChooseTest(ColumnKind::kNumeric, reference.size(),
                                          DistinctUnion(ref.View(), cur.View()));
  const double threshold = options.threshold.value_or(DefaultThreshold(test));
  double score = 0.0;
  switch (test) {
    case DriftTest::kKs: {
      score = KsOnSorted(ref.View(), cur.View()).p_value;
      break;
    }
    case DriftTest::kWasserstein: {
      score = WassersteinOnSorted(ref.View(), cur.View()) / WassersteinNorm(reference);
      break;
    }
    case DriftTest::kJensenShannon:
    case DriftTest::kPsi: {
      CHURN_ASSIGN_OR_RETURN(Binned b, BinOnSorted(reference, current, ref.View(), cur.View()));
      if (test == DriftTest::kPsi) {
        FillEmptyBins(b.reference);
        FillEmptyBins(b.current);
        CHURN_ASSIGN_OR_RETURN(score, PopulationStabilityIndex(b.reference, b.current));
      } else {
        CHURN_ASSIGN_OR_RETURN(score, JensenShannonDistance(b.reference, b.current));
      }
      break;
    }
    default: {
      CHURN_ASSIGN_OR_RETURN(score, ScoreOnCounts(test, ValueCounts(ref.View(), cur.View())));
      break;
    }
  }
  return MakeResult(test, score, threshold);
}

absl::StatusOr<DriftResult> RunTest(absl::Span<const std::string> reference,
                                    absl::Span<const std::string> current,
                                    const ColumnOptions& options) {
  if (reference.empty() || current.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("RunTest: ", reference.empty() ? "reference" : "current", " is empty"));
  }
  CHURN_RETURN_IF_ERROR(CheckThreshold(options));
  const CategoryCounts counts = CountCategories(reference, current);
  const DriftTest test = options.test.value_or(
      ChooseTest(ColumnKind::kCategorical, reference.size(), counts.keys.size()));
  const double threshold = options.threshold.value_or(DefaultThreshold(test));
  CHURN_ASSIGN_OR_RETURN(const double score, ScoreOnCounts(test, counts));
  return MakeResult(test, score, threshold);
}

absl::StatusOr<DatasetDriftResult> DatasetDrift(absl::Span<const DriftResult> columns,
                                                double share_threshold) {
  if (columns.empty()) {
    return absl::InvalidArgumentError("DatasetDrift: no columns");
  }
  if (!(share_threshold >= 0.0 && share_threshold <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DatasetDrift: share threshold ", share_threshold, " is outside [0, 1]"));
  }
  DatasetDriftResult r;
  r.columns = columns.size();
  r.drifted_columns = static_cast<size_t>(std::count_if(
      columns.begin(), columns.end(), [](const DriftResult& c) { return c.drifted; }));
  r.share = static_cast<double>(r.drifted_columns) / static_cast<double>(r.columns);
  r.threshold = share_threshold;
  r.drifted = r.share >= share_threshold;
  return r;
}

}  // namespace churn::drift
