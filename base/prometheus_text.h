// Prometheus text exposition (format 0.0.4), the one writer relayd's and
// topologyd's /metrics share: a family's HELP and TYPE lines, samples with
// escaped labels, and a histogram of durations.
#ifndef CASCADE_BASE_PROMETHEUS_TEXT_H_
#define CASCADE_BASE_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace cascade {

// name="value" pairs, in the order written. Views only: a braced list of
// temporaries lives as long as the call it is passed to.
using MetricLabels =
    absl::Span<const std::pair<absl::string_view, absl::string_view>>;

// "# HELP" and "# TYPE" of one family; `type` is counter, gauge or histogram.
void AppendFamily(std::string* out, absl::string_view name,
                  absl::string_view type, absl::string_view help);

// One sample: name{label="value",...} value. Label values are escaped.
// Integers are written exactly; doubles with six significant digits, and
// infinities as +Inf and -Inf.
void AppendSample(std::string* out, absl::string_view name, MetricLabels labels,
                  uint64_t value);
void AppendSample(std::string* out, absl::string_view name, MetricLabels labels,
                  int64_t value);
void AppendSample(std::string* out, absl::string_view name, MetricLabels labels,
                  double value);
// Any other integer type (int, uint32_t, bool...), without an ambiguous
// conversion.
template <typename Int, std::enable_if_t<std::is_integral_v<Int>, int> = 0>
void AppendSample(std::string* out, absl::string_view name, MetricLabels labels,
                  Int value) {
  if constexpr (std::is_signed_v<Int>) {
    AppendSample(out, name, labels, static_cast<int64_t>(value));
  } else {
    AppendSample(out, name, labels, static_cast<uint64_t>(value));
  }
}

// An unlabelled counter family with its one sample.
void AppendCounter(std::string* out, absl::string_view name,
                   absl::string_view help, uint64_t value);

// An unlabelled gauge family with its one sample, a number or a value the
// caller formatted (seconds with a fixed precision).
void AppendGauge(std::string* out, absl::string_view name,
                 absl::string_view help, absl::string_view formatted);
template <typename Number,
          std::enable_if_t<std::is_arithmetic_v<Number>, int> = 0>
void AppendGauge(std::string* out, absl::string_view name,
                 absl::string_view help, Number value) {
  AppendFamily(out, name, "gauge", help);
  AppendSample(out, name, {}, value);
}

// A histogram of durations in seconds. Observe() never allocates (relayd
// observes every loop tick); copyable, so a snapshot taken under its owner's
// lock renders outside it; rendering changes nothing, so every scraper sees
// the same figures.
class DurationHistogram {
 public:
  // Upper bounds in seconds, increasing.
  explicit DurationHistogram(std::vector<double> bounds_seconds);
  void Observe(double seconds);
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  // Samples at or below bounds[i] (cumulative, as the format wants).
  uint64_t bucket(size_t i) const { return buckets_[i]; }
  // The family with its HELP and TYPE lines.
  void Append(std::string* out, absl::string_view name,
              absl::string_view help) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

// Bounds for control-plane latencies: 1 ms to 10 s.
std::vector<double> ControlLatencyBounds();

}  // namespace cascade

#endif  // CASCADE_BASE_PROMETHEUS_TEXT_H_
