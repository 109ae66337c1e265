#include "topology/metrics_flags.h"

#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "console/startup.h"

ABSL_FLAG(std::string, metrics, "",
          "IP:PORT to serve Prometheus metrics on (plain HTTP, /metrics; "
          "port 0 lets the kernel choose, written to --port-file as "
          "metrics=PORT); empty: none. Names: docs/observability.md");

ABSL_FLAG(std::string, console, "",
          "IP:PORT to serve the operators' console on (/console; HTTPS with "
          "--tls-cert/--tls-key, plain HTTP only on a loopback address; port "
          "0 lets the kernel choose, written to --port-file as console=PORT). "
          "Needs --tls-client-ca or --admin-token-file: every request shows "
          "an operator's token (or, with --tls-client-ca, certificate) and "
          "is checked as an Admin call. Empty: none. docs/observability.md, "
          "\"Console\"");

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

absl::Status StartConsoleFromFlags(
    ControllerService* service, grpc::Server* server,
    const ConsoleTlsFiles& tls,
    std::unique_ptr<console::ConsoleServer>* console) {
  const std::string flag = absl::GetFlag(FLAGS_console);
  if (flag.empty()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<console::ConsoleServer>> started =
      console::StartConsole(service, server, flag, tls.cert, tls.key,
                            tls.client_ca);
  if (!started.ok()) return started.status();
  *console = *std::move(started);
  return absl::OkStatus();
}

std::string ConsolePortFileLine(const console::ConsoleServer* console) {
  return console == nullptr ? "" : console->PortFileLine();
}

}  // namespace cascade::topology
