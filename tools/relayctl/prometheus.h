// relayctl prometheus: a Prometheus scrape configuration for the whole
// network, from the controller's topology: prometheus.yml (JSON, which YAML
// reads) with one job for the relays and one for the controllers, each
// discovering its targets from a file_sd file written beside it. Relays are
// labelled node, tier, role and their topology labels, so rules and
// dashboards group by tier or region (observability/).
#ifndef CASCADE_TOOLS_RELAYCTL_PROMETHEUS_H_
#define CASCADE_TOOLS_RELAYCTL_PROMETHEUS_H_

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/controller.pb.h"
#include "tools/relayctl/relayctl.h"

namespace cascade::relayctl {

// File name (relative to the output directory) -> content.
using PrometheusFiles = std::map<std::string, std::string>;

// prometheus.yml, relays.json and controllers.json. A node without a
// metrics_address is left out and named in `unscraped`. Invalid addresses,
// intervals or label names: InvalidArgument naming them.
absl::StatusOr<PrometheusFiles> MakePrometheusFiles(
    const cascade::v1::GetTopologyResponse& topology,
    const std::vector<std::string>& controller_metrics,
    absl::Duration scrape_interval, const std::vector<std::string>& rules,
    std::vector<std::string>* unscraped);

// The command: the files into options.out (created if missing), a summary
// on `out`; returns an exit code.
int WritePrometheus(const Options& options,
                    const cascade::v1::GetTopologyResponse& topology,
                    std::ostream& out, std::ostream& err);

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_PROMETHEUS_H_
