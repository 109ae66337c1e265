// Prometheus text exposition (format 0.0.4) for topologyd's /metrics: one
// family's HELP and TYPE lines, labelled samples, and a histogram of
// durations. (relayd has its own unlabelled helpers in relay/; topology/
// may not depend on relay/.)
#ifndef CASCADE_TOPOLOGY_PROMETHEUS_TEXT_H_
#define CASCADE_TOPOLOGY_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace cascade::topology {

using MetricLabels = std::vector<std::pair<absl::string_view, std::string>>;

// "# HELP" and "# TYPE" of one family; `type` is counter, gauge or histogram.
void AppendFamily(std::string* out, absl::string_view name,
                  absl::string_view type, absl::string_view help);
// One sample: name{label="value",...} value. Label values are escaped.
void AppendSample(std::string* out, absl::string_view name,
                  const MetricLabels& labels, double value);

// A histogram of durations in seconds. Copyable, so a snapshot of it can be
// rendered without the lock its owner updates it under.
class DurationHistogram {
 public:
  // Upper bounds in seconds, increasing.
  explicit DurationHistogram(std::vector<double> bounds_seconds);
  void Observe(double seconds);
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  // Samples at or below bounds[i] (cumulative).
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

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_PROMETHEUS_TEXT_H_
