// topologyd's --metrics and --console flags, kept out of main.cc: read into
// the service's options (the Admin call counter) before serving, then the
// endpoints started once the gRPC server runs.
#ifndef CASCADE_TOPOLOGY_METRICS_FLAGS_H_
#define CASCADE_TOPOLOGY_METRICS_FLAGS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "console/server.h"
#include "topology/metrics_server.h"
#include "topology/service.h"

namespace cascade::topology {

// Checks --metrics; when given, `options` counts Admin calls. An error is a
// usage error naming the flag.
absl::Status MetricsOptionsFromFlags(ServiceOptions* options);
// Starts `endpoint` on --metrics; nothing without the flag.
absl::Status StartMetricsFromFlags(MetricsEndpoint* endpoint);
// topologyd's TLS files, as the console uses them.
struct ConsoleTlsFiles {
  std::string cert;
  std::string key;
  std::string client_ca;
};
// Starts the console (console/startup.h) on --console into `*console`,
// HTTPS with `tls` when it has a certificate; nothing without the flag.
// `service` and `server` outlive it.
absl::Status StartConsoleFromFlags(
    ControllerService* service, grpc::Server* server,
    const ConsoleTlsFiles& tls,
    std::unique_ptr<console::ConsoleServer>* console);
// "console=PORT\n" for the port file; empty without a console.
std::string ConsolePortFileLine(const console::ConsoleServer* console);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_METRICS_FLAGS_H_
