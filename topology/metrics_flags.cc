#include "topology/metrics_flags.h"

#include <memory>
#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, metrics, "",
          "IP:PORT to serve Prometheus metrics on (plain HTTP, /metrics; "
          "port 0 lets the kernel choose, written to --port-file as "
          "metrics=PORT); empty: none. Names: docs/observability.md");

namespace cascade::topology {

absl::Status MetricsOptionsFromFlags(ServiceOptions* options) {
  const std::string flag = absl::GetFlag(FLAGS_metrics);
  if (flag.empty()) return absl::OkStatus();
  absl::StatusOr<MetricsListen> listen = ParseMetricsListen(flag);
  if (!listen.ok()) return listen.status();
  options->admin_calls = std::make_shared<AdminCallCounter>();
  return absl::OkStatus();
}

absl::Status StartMetricsFromFlags(MetricsEndpoint* endpoint) {
  const std::string flag = absl::GetFlag(FLAGS_metrics);
  if (flag.empty()) return absl::OkStatus();
  absl::StatusOr<MetricsListen> listen = ParseMetricsListen(flag);
  if (!listen.ok()) return listen.status();
  return endpoint->Start(*listen);
}

}  // namespace cascade::topology
