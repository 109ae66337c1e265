// topologyd: the topology controller. Loads its state (or seeds it from a
// topology file), serves RelayControl and Admin over gRPC, expires leases.
#include <glog/logging.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "base/clock.h"
#include "base/flags.h"
#include "topology/controller.h"
#include "topology/journal.h"
#include "topology/service.h"
#include "topology/topology_file.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7700",
          "HOST:PORT to serve on; port 0 lets the kernel choose (see "
          "--port-file)");
ABSL_FLAG(std::string, port_file, "",
          "write the bound port to this file once serving");
ABSL_FLAG(std::string, state_dir, "",
          "directory of the journal and snapshot (required; created 0700)");
ABSL_FLAG(std::string, topology, "",
          "topology file (text cascade.v1.Topology) that seeds an empty state; "
          "ignored when the state already holds one");
ABSL_FLAG(absl::Duration, lease_timeout, absl::Seconds(3),
          "a node that has not reported for this long is marked down");
ABSL_FLAG(std::string, reintegration, "revertive",
          "how a node that comes back is reintegrated: revertive (its "
          "children move back) or non-revertive (they stay)");
ABSL_FLAG(absl::Duration, reintegrate_after, absl::Seconds(5),
          "hold-down: a node back after its lease expired gets children "
          "again only once it has held its lease this long (0: at once)");
ABSL_FLAG(absl::Duration, reintegrate_max, absl::Seconds(60),
          "longest hold-down; each lease expiry within this window doubles "
          "the next hold-down, up to this");
ABSL_FLAG(absl::Duration, restart_learning, absl::Seconds(10),
          "after a restart, send no assignment for this long (or until every "
          "node has reported): learn who is alive and where each relay "
          "receives from, so relays get what they already run");
ABSL_FLAG(int, snapshot_every, 1000, "journal records between snapshots");
ABSL_FLAG(std::string, admin_token_file, "",
          "file holding the token Admin calls must present as "
          "'authorization: Bearer TOKEN'; without it Admin is open");
ABSL_FLAG(std::string, tls_cert, "", "PEM server certificate (enables TLS)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle; when set, clients must present a certificate it "
          "signed (mutual TLS)");

namespace cascade::topology {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int Usage(const std::string& message) {
  std::cerr << "topologyd: " << message << "\n";
  return kExitUsage;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream data;
  data << in.rdbuf();
  *out = data.str();
  return true;
}

int Run() {
  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  if (state_dir.empty()) return Usage("--state-dir is required");
  ControllerOptions options;
  options.lease_timeout = absl::GetFlag(FLAGS_lease_timeout);
  if (options.lease_timeout <= absl::ZeroDuration()) {
    return Usage("--lease-timeout must be positive");
  }
  const std::string policy = absl::GetFlag(FLAGS_reintegration);
  if (policy == "revertive") {
    options.default_policy = cascade::v1::RESTORE_REVERTIVE;
  } else if (policy == "non-revertive") {
    options.default_policy = cascade::v1::RESTORE_NON_REVERTIVE;
  } else {
    return Usage("--reintegration must be revertive or non-revertive, not \"" +
                 policy + "\"");
  }
  options.reintegrate_after = absl::GetFlag(FLAGS_reintegrate_after);
  options.reintegrate_max = absl::GetFlag(FLAGS_reintegrate_max);
  if (options.reintegrate_after < absl::ZeroDuration()) {
    return Usage("--reintegrate-after must not be negative");
  }
  if (options.reintegrate_max < options.reintegrate_after) {
    return Usage("--reintegrate-max must be at least --reintegrate-after");
  }
  options.restart_learning = absl::GetFlag(FLAGS_restart_learning);
  if (options.restart_learning < absl::ZeroDuration()) {
    return Usage("--restart-learning must not be negative");
  }
  if (absl::GetFlag(FLAGS_snapshot_every) < 1) {
    return Usage("--snapshot-every must be at least 1");
  }
  options.snapshot_every = absl::GetFlag(FLAGS_snapshot_every);

  ServiceOptions service_options;
  const std::string token_file = absl::GetFlag(FLAGS_admin_token_file);
  if (!token_file.empty()) {
    if (!ReadFile(token_file, &service_options.admin_token)) {
      return Usage("--admin-token-file: cannot read " + token_file);
    }
    service_options.admin_token =
        std::string(absl::StripAsciiWhitespace(service_options.admin_token));
    if (service_options.admin_token.empty()) {
      return Usage("--admin-token-file: " + token_file + " is empty");
    }
  }

  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::InsecureServerCredentials();
  const std::string cert_file = absl::GetFlag(FLAGS_tls_cert);
  const std::string key_file = absl::GetFlag(FLAGS_tls_key);
  const std::string ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  if (cert_file.empty() != key_file.empty()) {
    return Usage("--tls-cert and --tls-key go together");
  }
  if (!ca_file.empty() && cert_file.empty()) {
    return Usage("--tls-client-ca needs --tls-cert and --tls-key");
  }
  if (!cert_file.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    if (!ReadFile(cert_file, &pair.cert_chain)) {
      return Usage("--tls-cert: cannot read " + cert_file);
    }
    if (!ReadFile(key_file, &pair.private_key)) {
      return Usage("--tls-key: cannot read " + key_file);
    }
    ssl.pem_key_cert_pairs.push_back(pair);
    if (!ca_file.empty()) {
      if (!ReadFile(ca_file, &ssl.pem_root_certs)) {
        return Usage("--tls-client-ca: cannot read " + ca_file);
      }
      ssl.client_certificate_request =
          GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    credentials = grpc::SslServerCredentials(ssl);
  }

  SystemClock clock;
  JournalStore store(state_dir);
  Controller controller(&clock, &store, options);
  absl::Status status = controller.Recover();
  if (!status.ok()) {
    std::cerr << "topologyd: cannot recover state from " << state_dir << ": "
              << status.message() << "\n";
    return kExitFailed;
  }
  if (!controller.RecoveryNote().empty()) {
    std::cerr << "topologyd: WARNING: " << controller.RecoveryNote() << "\n";
  }

  const std::string topology_file = absl::GetFlag(FLAGS_topology);
  if (!topology_file.empty()) {
    if (controller.Sequence() > 0) {
      LOG(INFO) << "state in " << state_dir << " already exists; --topology "
                << topology_file << " ignored (use relayctl apply)";
    } else {
      absl::StatusOr<TopologyText> parsed = ReadTopologyFile(topology_file);
      if (parsed.ok()) {
        status = ValidateTopology(parsed->topology, topology_file,
                                  parsed->node_lines);
      }
      if (!parsed.ok() || !status.ok()) {
        return Usage(
            std::string((parsed.ok() ? status : parsed.status()).message()));
      }
      cascade::v1::Change change;
      *change.mutable_apply()->mutable_topology() = std::move(parsed->topology);
      change.mutable_apply()->set_source(topology_file);
      absl::StatusOr<cascade::v1::ChangeResponse> applied =
          controller.Submit(std::move(change));
      if (!applied.ok()) {
        std::cerr << "topologyd: " << applied.status().message() << "\n";
        return kExitFailed;
      }
    }
  }

  // Signals are taken by sigwait below, not by handlers.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ControllerService service(&controller, service_options);
  int port = 0;
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartServer(&service, absl::GetFlag(FLAGS_listen), credentials, &port);
  if (!server.ok()) {
    std::cerr << "topologyd: --listen: " << server.status().message() << "\n";
    return kExitUsage;
  }
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    // Written whole then renamed, so a reader never sees a partial number.
    std::string temp = port_file + ".tmp";
    std::ofstream(temp) << port << "\n";
    if (std::rename(temp.c_str(), port_file.c_str()) != 0) {
      std::cerr << "topologyd: --port-file: cannot write " << port_file << "\n";
      return kExitFailed;
    }
  }
  LOG(INFO) << "topologyd serving on port " << port << ", state sequence "
            << controller.Sequence();

  absl::Notification stop;
  std::thread leases([&] {
    const absl::Duration tick =
        std::max(options.lease_timeout / 10, absl::Milliseconds(10));
    while (!stop.WaitForNotificationWithTimeout(tick)) {
      controller.Tick();
    }
  });
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  LOG(INFO) << "signal " << signal_number << ": shutting down";
  stop.Notify();
  leases.join();
  service.Shutdown();
  (*server)->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  (*server)->Wait();
  return 0;
}

}  // namespace
}  // namespace cascade::topology

int main(int argc, char** argv) {
  std::vector<char*> positional = cascade::ParseFlags(
      argc, argv,
      "the Cascade topology controller.\n"
      "  topologyd --state-dir=DIR [--listen=HOST:PORT] [--topology=FILE]\n"
      "See docs/topologyd.md.");
  if (positional.size() > 1) {
    std::cerr << "topologyd: unexpected argument \"" << positional[1] << "\"\n";
    return 2;
  }
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  return cascade::topology::Run();
}
