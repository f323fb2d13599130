#include "churn/drift/monitor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"

namespace churn::drift {
namespace {

// splitmix64: the reservoirs' random numbers (quality is not critical, speed is).
uint64_t NextRandom(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t HashId(absl::string_view id) {
  // 0 means "no id"; a real id hashing to 0 is remembered under 1.
  if (id.empty()) {
    return 0;
  }
  const uint64_t h = absl::HashOf(id);
  return h == 0 ? 1 : h;
}

std::vector<double> ExpandedLabels(const ReferenceProfile& ref) {
  std::vector<double> out(ref.labeled, 0.0);
  std::fill_n(out.begin(), std::min(ref.positives, ref.labeled), 1.0);
  return out;
}

}  // namespace

absl::Status MonitorOptions::Validate() const {
  const auto bad = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("drift monitor: ", what));
  };
  if (count_rows < 1) {
    return bad("count_rows must be at least 1");
  }
  if (time_span <= absl::ZeroDuration() || time_buckets < 1 ||
      time_span / time_buckets < absl::Microseconds(1)) {
    return bad("time_span must be positive and at least a microsecond per bucket");
  }
  if (static_cast<size_t>(time_buckets) > time_max_rows) {
    return bad("time_max_rows must be at least time_buckets (one row per bucket)");
  }
  if (min_rows < 1) {
    return bad("min_rows must be at least 1");
  }
  if (!(share_threshold >= 0.0 && share_threshold <= 1.0)) {
    return bad("share_threshold must be in [0, 1]");
  }
  if (labeled_rows < 1 || label_lookup < 1) {
    return bad("labeled_rows and label_lookup must be at least 1");
  }
  return absl::OkStatus();
}

absl::string_view WindowName(WindowKind kind) {
  return kind == WindowKind::kCount ? "count" : "time";
}

DriftMonitor::DriftMonitor(std::shared_ptr<const ReferenceProfile> reference,
                           MonitorOptions options)
    : reference_(options.per_column.empty()
                     ? std::move(reference)
                     : std::make_shared<const ReferenceProfile>(
                           WithOverrides(*reference, options.per_column, &ignored_overrides_))),
      options_(std::move(options)),
      bucket_us_(std::max<int64_t>(
          1, absl::ToInt64Microseconds(options_.time_span / options_.time_buckets))),
      bucket_rows_(
          std::max<size_t>(1, options_.time_max_rows / static_cast<size_t>(options_.time_buckets))),
      num_buckets_(static_cast<size_t>(options_.time_buckets)) {
  expanded_ = ExpandReference(*reference_);
  expanded_.push_back(ExpandedLabels(*reference_));
  absl::MutexLock lock(&mu_);
  ring_.assign(options_.count_rows * Width(), 0.0f);
  buckets_.resize(num_buckets_);
  remembered_.resize(options_.label_lookup);
  labeled_.assign(2 * options_.labeled_rows, 0.0f);
}

size_t DriftMonitor::CapacityBytes() const {
  const size_t row = Width() * sizeof(float);
  // A remembered prediction: its slot, and an entry in each of the two id maps.
  const size_t remembered = sizeof(Remembered) + 2 * (2 * sizeof(uint64_t));
  return options_.count_rows * row + bucket_rows_ * num_buckets_ * row +
         options_.label_lookup * remembered + 2 * options_.labeled_rows * sizeof(float);
}

void DriftMonitor::WriteRow(absl::Span<const float> features, double probability,
                            float* out) const {
  const std::vector<ReferenceColumn>& columns = reference_->columns;
  for (size_t c = 0; c < columns.size(); ++c) {
    const size_t i = columns[c].feature.index;
    out[c] = i < features.size() ? features[i] : std::nanf("");
  }
  out[columns.size()] = static_cast<float>(probability);
}

void DriftMonitor::Observe(absl::Span<const float> features, double probability,
                           absl::string_view request_id, absl::string_view customer_id,
                           absl::Time now) {
  const size_t width = Width();
  const int64_t bucket_id = absl::ToUnixMicros(now) / bucket_us_;
  absl::MutexLock lock(&mu_);
  float* row = &ring_[(ring_next_ % options_.count_rows) * width];
  WriteRow(features, probability, row);
  ++ring_next_;
  Bucket& b = buckets_[static_cast<size_t>(bucket_id) % buckets_.size()];
  if (b.id != bucket_id) {
    b.id = bucket_id;
    b.seen = 0;
    b.rows.clear();
  }
  if (b.seen < bucket_rows_) {
    b.rows.insert(b.rows.end(), row, row + width);
  } else {
    // Algorithm R: the new row replaces a kept one with probability bucket_rows_ / (seen + 1).
    const uint64_t j = NextRandom(rng_) % (b.seen + 1);
    if (j < bucket_rows_) {
      std::memcpy(&b.rows[j * width], row, width * sizeof(float));
    }
  }
  ++b.seen;
  Remember(request_id, customer_id, static_cast<float>(probability));
}

void DriftMonitor::Remember(absl::string_view request_id, absl::string_view customer_id,
                            float probability) {
  const uint64_t rh = HashId(request_id);
  const uint64_t ch = HashId(customer_id);
  if (rh == 0 && ch == 0) {
    return;
  }
  const uint64_t seq = remembered_next_++;
  Remembered& slot = remembered_[seq % remembered_.size()];
  if (seq >= remembered_.size()) {  // evict the entry this slot held
    const uint64_t old = seq - remembered_.size();
    for (auto [map, hash] : {std::pair{&by_request_, slot.request_hash},
                             std::pair{&by_customer_, slot.customer_hash}}) {
      const auto it = map->find(hash);
      if (hash != 0 && it != map->end() && it->second == old) {
        map->erase(it);
      }
    }
  }
  slot = Remembered{.request_hash = rh, .customer_hash = ch, .probability = probability};
  if (rh != 0) {
    by_request_[rh] = seq;
  }
  if (ch != 0) {
    by_customer_[ch] = seq;
  }
}

bool DriftMonitor::Label(absl::string_view request_id, absl::string_view customer_id, int churned) {
  const uint64_t rh = HashId(request_id);
  const uint64_t ch = HashId(customer_id);
  absl::MutexLock lock(&mu_);
  auto it = rh != 0 ? by_request_.find(rh) : by_request_.end();
  if (it == by_request_.end() && ch != 0) {
    it = by_customer_.find(ch);
    if (it == by_customer_.end()) {
      ++labels_unmatched_;
      return false;
    }
  } else if (it == by_request_.end()) {
    ++labels_unmatched_;
    return false;
  }
  Remembered& r = remembered_[it->second % remembered_.size()];
  if (r.labeled) {
    ++labels_unmatched_;
    return false;
  }
  r.labeled = true;
  const size_t at = 2 * (labeled_next_ % options_.labeled_rows);
  labeled_[at] = r.probability;
  labeled_[at + 1] = churned != 0 ? 1.0f : 0.0f;
  ++labeled_next_;
  ++labels_matched_;
  return true;
}

std::vector<std::vector<double>> ExpandReference(const ReferenceProfile& reference) {
  std::vector<std::vector<double>> out;
  out.reserve(reference.columns.size() + 1);
  for (const ReferenceColumn& c : reference.columns) {
    out.push_back(c.Expanded());
  }
  out.push_back(reference.scores.Expanded());
  return out;
}

WindowReport EvaluateWindow(const ReferenceProfile& reference,
                            absl::Span<const std::vector<double>> expanded, WindowKind kind,
                            absl::Span<const float> rows, size_t min_rows, double share_threshold) {
  const size_t width = reference.columns.size() + 1;
  const size_t n = rows.size() / width;
  WindowReport w{.kind = kind, .rows = n};
  if (n < min_rows || n == 0 || expanded.size() < width) {
    return w;
  }
  w.computed = true;
  std::vector<double> values;
  std::vector<DriftResult> results;
  for (size_t c = 0; c + 1 < width; ++c) {
    values.clear();
    for (size_t r = 0; r < n; ++r) {
      const float v = rows[r * width + c];
      if (!std::isnan(v)) {
        values.push_back(v);
      }
    }
    if (values.empty() || values.size() < min_rows) {
      continue;
    }
    const ReferenceColumn& ref = reference.columns[c];
    absl::StatusOr<DriftResult> result =
        RunTest(expanded[c], values, {.test = ref.test, .threshold = ref.threshold});
    if (result.ok()) {
      w.columns.push_back({.feature = ref.feature.name, .rows = values.size(), .result = *result});
      results.push_back(*result);
    }
  }
  if (!results.empty()) {
    w.dataset = *DatasetDrift(results, share_threshold);
  }
  std::vector<float> scores(n);
  double sum = 0.0;
  for (size_t r = 0; r < n; ++r) {
    scores[r] = rows[r * width + width - 1];
    sum += scores[r];
  }
  w.score_mean = sum / static_cast<double>(n);
  values.assign(scores.begin(), scores.end());
  const ReferenceColumn& ref = reference.scores;
  absl::StatusOr<DriftResult> prediction =
      RunTest(expanded[width - 1], values, {.test = ref.test, .threshold = ref.threshold});
  if (prediction.ok()) {
    w.prediction = *prediction;
  }
  absl::StatusOr<Quality> estimated = EstimateQuality(scores, reference.decision_threshold);
  if (estimated.ok()) {
    w.estimated = *estimated;
  }
  return w;
}

MonitorReport DriftMonitor::Compute(absl::Time now) const {
  const size_t width = Width();
  const int64_t now_id = absl::ToUnixMicros(now) / bucket_us_;
  std::vector<float> count_rows;
  std::vector<float> time_rows;
  std::vector<float> labeled;
  MonitorReport report;
  {
    absl::MutexLock lock(&mu_);
    const size_t n = std::min<uint64_t>(ring_next_, options_.count_rows);
    count_rows.assign(ring_.begin(), ring_.begin() + static_cast<ptrdiff_t>(n * width));
    for (const Bucket& b : buckets_) {
      if (b.id > now_id - static_cast<int64_t>(buckets_.size()) && b.id <= now_id) {
        time_rows.insert(time_rows.end(), b.rows.begin(), b.rows.end());
      }
    }
    const size_t m = std::min<uint64_t>(labeled_next_, options_.labeled_rows);
    labeled.assign(labeled_.begin(), labeled_.begin() + static_cast<ptrdiff_t>(2 * m));
    report.observed = ring_next_;
    report.labels_matched = labels_matched_;
    report.labels_unmatched = labels_unmatched_;
  }
  for (const auto& [kind, rows] :
       {std::pair{WindowKind::kCount, &count_rows}, std::pair{WindowKind::kTime, &time_rows}}) {
    report.windows.push_back(EvaluateWindow(*reference_, expanded_, kind, *rows, options_.min_rows,
                                            options_.share_threshold));
  }
  LabeledReport& l = report.labeled;
  l.rows = labeled.size() / 2;
  std::vector<float> probabilities(l.rows);
  std::vector<float> labels(l.rows);
  for (size_t i = 0; i < l.rows; ++i) {
    probabilities[i] = labeled[2 * i];
    labels[i] = labeled[2 * i + 1];
    l.positives += labels[i] >= 0.5f ? 1 : 0;
  }
  if (l.rows >= options_.min_rows && l.positives > 0 && l.positives < l.rows) {
    absl::StatusOr<Quality> q =
        RealizedQuality(labels, probabilities, reference_->decision_threshold);
    if (q.ok()) {
      l.computed = true;
      l.realized = *q;
      const std::vector<double> current(labels.begin(), labels.end());
      absl::StatusOr<DriftResult> target =
          expanded_.back().empty() ? absl::StatusOr<DriftResult>(absl::NotFoundError(""))
                                   : RunTest(expanded_.back(), current,
                                             {.test = DriftTest::kZ, .threshold = std::nullopt});
      if (target.ok()) {
        l.target = *target;
      }
    }
  }
  return report;
}

}  // namespace churn::drift
