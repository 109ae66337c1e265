// topologyd's --metrics flag, kept out of main.cc: read into the service's
// options (the Admin call counter) before serving, then the endpoint started
// once the gRPC server runs.
#ifndef CASCADE_TOPOLOGY_METRICS_FLAGS_H_
#define CASCADE_TOPOLOGY_METRICS_FLAGS_H_

#include "absl/status/status.h"
#include "topology/metrics_server.h"
#include "topology/service.h"

namespace cascade::topology {

// Checks --metrics; when given, `options` counts Admin calls. An error is a
// usage error naming the flag.
absl::Status MetricsOptionsFromFlags(ServiceOptions* options);
// Starts `endpoint` on --metrics; nothing without the flag.
absl::Status StartMetricsFromFlags(MetricsEndpoint* endpoint);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_METRICS_FLAGS_H_
