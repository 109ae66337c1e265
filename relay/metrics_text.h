// Prometheus text exposition of an unlabelled sample with its HELP and TYPE
// lines: what the core, each relay instance and the server all write.
#ifndef CASCADE_RELAY_METRICS_TEXT_H_
#define CASCADE_RELAY_METRICS_TEXT_H_

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

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_METRICS_TEXT_H_
