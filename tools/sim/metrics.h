// Reading relayd's Prometheus endpoint from the simulation.
#ifndef CASCADE_TOOLS_SIM_METRICS_H_
#define CASCADE_TOOLS_SIM_METRICS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cascade::sim {

// The body of GET http://HOST:PORT/PATH (HTTP/1.0), bounded by `timeout`.
absl::StatusOr<std::string> HttpGet(const std::string& host_port,
                                    const std::string& path,
                                    absl::Duration timeout);

// The sum of every sample of metric `name` (any labels) in Prometheus text;
// 0 when absent.
double MetricSum(absl::string_view text, absl::string_view name);

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_METRICS_H_
