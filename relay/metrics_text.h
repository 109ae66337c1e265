// Prometheus text exposition of an unlabelled sample with its HELP and TYPE
// lines: what the core, each relay instance and the server all write.
#ifndef CASCADE_RELAY_METRICS_TEXT_H_
#define CASCADE_RELAY_METRICS_TEXT_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace cascade::relay {

inline void AppendCounter(std::string* out, absl::string_view name,
                          absl::string_view help, uint64_t value) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                  " counter\n", name, " ", value, "\n");
}

// `value` is already formatted (integers, or seconds with a fixed precision).
inline void AppendGauge(std::string* out, absl::string_view name,
                        absl::string_view help, absl::string_view value) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                  " gauge\n", name, " ", value, "\n");
}

// A Prometheus histogram of durations, in seconds: reading it changes
// nothing, so any number of scrapers see the same figures.
template <size_t N>
class DurationHistogram {
 public:
  explicit DurationHistogram(const std::array<double, N>& bounds_seconds)
      : bounds_(bounds_seconds) {}

  void Add(double seconds) {
    for (size_t i = 0; i < N; ++i) {
      if (seconds <= bounds_[i]) ++buckets_[i];
    }
    ++count_;
    sum_ += seconds;
  }

  void Append(std::string* out, absl::string_view name,
              absl::string_view help) const {
    absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                    " histogram\n");
    for (size_t i = 0; i < N; ++i) {
      absl::StrAppend(out, name, "_bucket{le=\"", bounds_[i], "\"} ",
                      buckets_[i], "\n");
    }
    absl::StrAppend(out, name, "_bucket{le=\"+Inf\"} ", count_, "\n", name,
                    "_sum ", sum_, "\n", name, "_count ", count_, "\n");
  }

 private:
  const std::array<double, N> bounds_;
  std::array<uint64_t, N> buckets_{};  // cumulative, as the format wants
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_METRICS_TEXT_H_
