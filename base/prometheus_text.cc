#include "base/prometheus_text.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace cascade {
namespace {

// Backslash, double quote and newline are escaped in label values.
void AppendEscaped(std::string* out, absl::string_view value) {
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

// The sample up to and including the space before its value.
void AppendNameAndLabels(std::string* out, absl::string_view name,
                         MetricLabels labels) {
  out->append(name.data(), name.size());
  if (!labels.empty()) {
    out->push_back('{');
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out->push_back(',');
      absl::StrAppend(out, labels[i].first, "=\"");
      AppendEscaped(out, labels[i].second);
      out->push_back('"');
    }
    out->push_back('}');
  }
  out->push_back(' ');
}

}  // namespace

void AppendFamily(std::string* out, absl::string_view name,
                  absl::string_view type, absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type,
                  "\n");
}

void AppendSample(std::string* out, absl::string_view name, MetricLabels labels,
                  uint64_t value) {
  AppendNameAndLabels(out, name, labels);
  absl::StrAppend(out, value, "\n");
}

void AppendSample(std::string* out, absl::string_view name, MetricLabels labels,
                  int64_t value) {
  AppendNameAndLabels(out, name, labels);
  absl::StrAppend(out, value, "\n");
}

void AppendSample(std::string* out, absl::string_view name, MetricLabels labels,
                  double value) {
  AppendNameAndLabels(out, name, labels);
  if (std::isinf(value)) {
    out->append(value > 0 ? "+Inf" : "-Inf");
  } else {
    absl::StrAppend(out, value);
  }
  out->push_back('\n');
}

void AppendCounter(std::string* out, absl::string_view name,
                   absl::string_view help, uint64_t value) {
  AppendFamily(out, name, "counter", help);
  AppendSample(out, name, {}, value);
}

void AppendGauge(std::string* out, absl::string_view name,
                 absl::string_view help, absl::string_view formatted) {
  AppendFamily(out, name, "gauge", help);
  absl::StrAppend(out, name, " ", formatted, "\n");
}

DurationHistogram::DurationHistogram(std::vector<double> bounds_seconds)
    : bounds_(std::move(bounds_seconds)), buckets_(bounds_.size(), 0) {}

void DurationHistogram::Observe(double seconds) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (seconds <= bounds_[i]) ++buckets_[i];
  }
  ++count_;
  sum_ += seconds;
}

void DurationHistogram::Append(std::string* out, absl::string_view name,
                               absl::string_view help) const {
  AppendFamily(out, name, "histogram", help);
  const std::string bucket = absl::StrCat(name, "_bucket");
  for (size_t i = 0; i < bounds_.size(); ++i) {
    AppendSample(out, bucket, {{"le", absl::StrCat(bounds_[i])}}, buckets_[i]);
  }
  AppendSample(out, bucket, {{"le", "+Inf"}}, count_);
  AppendSample(out, absl::StrCat(name, "_sum"), {}, sum_);
  AppendSample(out, absl::StrCat(name, "_count"), {}, count_);
}

std::vector<double> ControlLatencyBounds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25,  0.5,    1,     2.5,  5,     10};
}

}  // namespace cascade
