// topologyd's --console: the console (server.h) started beside the gRPC
// server, whose Admin service it calls in-process, with the controller's
// tree for its ticks.
#ifndef CASCADE_CONSOLE_STARTUP_H_
#define CASCADE_CONSOLE_STARTUP_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "console/server.h"
#include "topology/service.h"

namespace cascade::console {

// Serves the console on `listen` (IP:PORT), over HTTPS with `tls_cert` and
// `tls_key` when given, asking browsers for a certificate of
// `tls_client_ca` when Admin takes client certificates. Refused
// (InvalidArgument, naming --console) when Admin checks no credential (no
// --tls-client-ca, no --admin-token-file): the console shows nothing to anyone
// who cannot show who they are. `service` and `server` outlive the console.
absl::StatusOr<std::unique_ptr<ConsoleServer>> StartConsole(
    topology::ControllerService* service, grpc::Server* server,
    absl::string_view listen, const std::string& tls_cert,
    const std::string& tls_key, const std::string& tls_client_ca);

}  // namespace cascade::console

#endif  // CASCADE_CONSOLE_STARTUP_H_
