#include "console/startup.h"

#include <utility>

#include "topology/controller.h"

namespace cascade::console {

absl::StatusOr<std::unique_ptr<ConsoleServer>> StartConsole(
    topology::ControllerService* service, grpc::Server* server,
    absl::string_view listen, const std::string& tls_cert,
    const std::string& tls_key, const std::string& tls_client_ca) {
  const topology::ServiceOptions& options = service->options();
  if (options.token_verifier == nullptr && options.admin_token.empty()) {
    return absl::InvalidArgumentError(
        "--console needs operators to authenticate: give --tls-client-ca "
        "(signed tokens, relayctl token issue) or --admin-token-file");
  }
  absl::StatusOr<ConsoleOptions> console =
      ParseConsoleListen(listen, !tls_cert.empty());
  if (!console.ok()) return console.status();
  console->tls_cert = tls_cert;
  console->tls_key = tls_key;
  if (options.peer_identity) console->tls_client_ca = tls_client_ca;
  auto snapshot =
      [service]() -> absl::StatusOr<cascade::v1::GetTopologyResponse> {
    topology::Controller* controller = service->controller();
    if (controller == nullptr) {
      return absl::UnavailableError("not leading: no tree here");
    }
    return controller->GetTopology("");
  };
  auto started = std::make_unique<ConsoleServer>(
      server->InProcessChannel(grpc::ChannelArguments()), std::move(snapshot),
      *std::move(console));
  if (absl::Status status = started->Start(); !status.ok()) return status;
  return started;
}

}  // namespace cascade::console
