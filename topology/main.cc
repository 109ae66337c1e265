// topologyd: the topology controller. Loads its state (or seeds it from a
// topology file), serves RelayControl and Admin over gRPC, expires leases.
// With --store=etcd://... several topologyd share one state in etcd: one is
// elected leader and serves; the others refuse every call naming it, and one
// of them takes over when it dies. A leader that loses its term exits with
// kExitNotLeader, for its supervisor to restart it as a follower.
#include <glog/logging.h>

#include <algorithm>
#include <climits>
#include <iostream>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/flags.h"
#include "topology/controller.h"
#include "topology/etcd/etcd_client.h"
#include "topology/etcd/pem.h"
#include "topology/lifecycle.h"
#include "topology/metrics_flags.h"
#include "topology/server_limits.h"
#include "topology/server_tls.h"
#include "topology/service.h"
#include "topology/topology_file.h"
#include "topology/topologyd_server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7700",
          "HOST:PORT to serve on; port 0 lets the kernel choose (see "
          "--port-file)");
ABSL_FLAG(std::string, port_file, "",
          "write the bound port to this file once serving");
ABSL_FLAG(std::string, state_dir, "",
          "directory of the journal and snapshot (required with "
          "--store=journal; created 0700)");
ABSL_FLAG(std::string, store, "journal",
          "where the state lives: journal (in --state-dir, one controller) "
          "or etcd://HOST:PORT[,HOST:PORT...] (etcd members; several "
          "topologyd share the state and elect one leader, the others "
          "redirect callers to it; see docs/etcd.md)");
ABSL_FLAG(std::string, etcd_prefix, "/cascade/",
          "with --store=etcd: key prefix of this controller group (state "
          "under PREFIXstate/, leader key PREFIXleader)");
ABSL_FLAG(absl::Duration, leader_ttl, absl::Seconds(5),
          "with --store=etcd: the leader's lease, whole seconds: a dead "
          "leader is replaced within about this long");
ABSL_FLAG(absl::Duration, etcd_timeout, absl::Seconds(2),
          "with --store=etcd: the deadline of each request to one etcd member "
          "(then the next member is tried); longer for a store behind a slow "
          "link. Leader keep-alives renew every third of --leader-ttl within "
          "that third, so --leader-ttl must exceed three round trips");
ABSL_FLAG(std::string, etcd_ca, "",
          "with --store=etcd: PEM CA that signed the etcd members' "
          "certificates; turns TLS to etcd on (required when --store names "
          "https:// members)");
ABSL_FLAG(std::string, etcd_cert, "",
          "with --store=etcd: PEM client certificate presented to etcd (for "
          "etcd --client-cert-auth); needs --etcd-ca and --etcd-key");
ABSL_FLAG(std::string, etcd_key, "",
          "with --store=etcd: PEM private key of --etcd-cert");
ABSL_FLAG(std::string, advertise, "",
          "with --store=etcd: HOST:PORT other controllers name when they "
          "redirect callers to this one while it leads (default: --listen "
          "with the bound port)");
ABSL_FLAG(std::string, console_url, "",
          "with --store=etcd and --console: this console's URL as operators' "
          "browsers reach it (https://NAME:PORT/console), kept in etcd so "
          "that a page on another controller's console goes to the "
          "leader's (default: --console's address and bound port)");
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
ABSL_FLAG(absl::Duration, stream_key_rotation, absl::Hours(24),
          "each stream (the program and every site's upstream) gets a new "
          "SRTP key when its newest is "
          "this old (its first at once); 0: only on `relayctl stream-key "
          "rotate` (docs/security.md)");
ABSL_FLAG(absl::Duration, stream_key_overlap, absl::Minutes(2),
          "a new stream key is handed out this long before the source uses "
          "it, so every site has it first (they poll at a quarter of this)");
ABSL_FLAG(int, snapshot_every, 1000, "journal records between snapshots");
ABSL_FLAG(std::string, admin_token_file, "",
          "legacy: file holding a shared token; a caller presenting it as "
          "'authorization: Bearer TOKEN' is an admin. Without it, "
          "--tls-client-ca or tokens, Admin is open to anyone "
          "(docs/security.md)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM server certificate (enables TLS); topologyd refuses to start "
          "without it (and --tls-key) unless --insecure");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle; when set, clients must present a certificate it "
          "signed (mutual TLS), a relay may act only as the node its "
          "certificate names and Admin takes operators' certificates only "
          "(docs/security.md); operators' signed tokens (relayctl token "
          "issue) are checked against it too");
ABSL_FLAG(std::string, client_cert, "required",
          "with --tls-client-ca: required (the TLS handshake refuses a "
          "client without a certificate) or optional (a client may connect "
          "without one, and then only make Admin calls with a signed token; "
          "a certificate presented is still verified)");
ABSL_FLAG(bool, insecure, false,
          "serve in plaintext without --tls-cert/--tls-key, for a test bed "
          "only: anyone who reaches --listen can act as any relay and read "
          "its link keys; warned about at start and every minute");
ABSL_FLAG(double, admin_rate, 100,
          "Admin calls per second each caller (operator, node, or host when "
          "unknown) may make; beyond it (and --admin-burst) calls are "
          "refused RESOURCE_EXHAUSTED");
ABSL_FLAG(double, admin_burst, 500, "Admin calls a caller may make at once");
ABSL_FLAG(int64_t, max_receive_bytes, 2 << 20,
          "largest message topologyd accepts on either service (Admin's "
          "apply of the national topology is about 1.2 MB; 100,000 nodes "
          "about 7 MB)");
ABSL_FLAG(int, max_streams_per_connection, 1000,
          "concurrent calls on one connection (a relay holds two; relayd "
          "--relays over plaintext shares one connection among its relays)");
ABSL_FLAG(absl::Duration, keepalive_interval, absl::Seconds(30),
          "ping a connection quiet for this long; close it when the answer "
          "takes longer than --keepalive-timeout");
ABSL_FLAG(absl::Duration, keepalive_timeout, absl::Seconds(10),
          "how long a keepalive ping may go unanswered");
ABSL_FLAG(absl::Duration, min_ping_interval, absl::Seconds(10),
          "a peer that pings again within this while topologyd sent it "
          "nothing is disconnected at its third offence (GOAWAY "
          "too_many_pings); below the relays' keepalive pings (15 s)");
ABSL_FLAG(absl::Duration, max_connection_idle, absl::Minutes(5),
          "close a connection without calls for this long");
ABSL_FLAG(absl::Duration, handshake_timeout, absl::Seconds(10),
          "close a connection that has not finished its TLS handshake by "
          "then");

namespace cascade::topology {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
// With etcd: this controller led and lost its term (or could not take up
// leadership); a supervisor should start it again, as a follower.
constexpr int kExitNotLeader = 3;

int Usage(const std::string& message) {
  std::cerr << "topologyd: " << message << "\n";
  return kExitUsage;
}

// The exit code of what ServeJournal or ServeEtcd returned, said on stderr.
int ExitCode(const absl::Status& served) {
  if (served.ok()) return 0;
  if (absl::IsAborted(served)) {
    std::cerr << "topologyd: " << served.message() << "; exiting with code "
              << kExitNotLeader << " to be restarted as a follower\n";
    return kExitNotLeader;
  }
  std::cerr << "topologyd: " << served.message() << "\n";
  return absl::IsInvalidArgument(served) ? kExitUsage : kExitFailed;
}

// Said by topologyd --insecure once serving, and every minute after.
std::string InsecureWarning() {
  return absl::StrCat(
      "--insecure: the control plane is unauthenticated and unencrypted: "
      "anyone who reaches --listen can act as any relay, read its link keys",
      absl::GetFlag(FLAGS_admin_token_file).empty() ? " and change the topology"
                                                    : "",
      "; give --tls-cert/--tls-key/--tls-client-ca outside a test bed "
      "(docs/security.md)");
}

// --etcd-ca/--etcd-cert/--etcd-key read, and checked against the scheme
// --store writes its members with. No CA: plaintext.
absl::StatusOr<std::optional<etcd::EtcdTls>> EtcdTlsFromFlags(
    const std::string& scheme) {
  const std::string ca_file = absl::GetFlag(FLAGS_etcd_ca);
  const std::string cert_file = absl::GetFlag(FLAGS_etcd_cert);
  const std::string key_file = absl::GetFlag(FLAGS_etcd_key);
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError("--etcd-cert and --etcd-key go together");
  }
  if (!cert_file.empty() && ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--etcd-cert needs --etcd-ca (the CA of etcd's server certificate)");
  }
  if (ca_file.empty()) {
    if (scheme == "https") {
      return absl::InvalidArgumentError(
          "--store names https:// members: --etcd-ca is required (and "
          "--etcd-cert/--etcd-key when etcd runs with --client-cert-auth)");
    }
    return std::nullopt;
  }
  if (scheme == "http") {
    return absl::InvalidArgumentError(
        "--store names http:// members, which speak no TLS, but "
        "--etcd-ca/--etcd-cert/--etcd-key ask for TLS: write https:// (or no "
        "scheme)");
  }
  etcd::EtcdTls tls;
  std::string error;
  // Checked here, naming the flag and its file: gRPC would only report a
  // channel that never connects.
  if (!ReadFlagFile("--etcd-ca", ca_file, &tls.ca, &error)) {
    return absl::InvalidArgumentError(error);
  }
  if (absl::Status ca = etcd::CheckCertificatesPem(tls.ca); !ca.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--etcd-ca: ", ca_file, ": ", ca.message()));
  }
  if (cert_file.empty()) return tls;
  if (!ReadFlagFile("--etcd-cert", cert_file, &tls.cert, &error) ||
      !ReadFlagFile("--etcd-key", key_file, &tls.key, &error)) {
    return absl::InvalidArgumentError(error);
  }
  if (absl::Status cert = etcd::CheckCertificatesPem(tls.cert); !cert.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--etcd-cert: ", cert_file, ": ", cert.message()));
  }
  if (absl::Status pair = etcd::CheckKeyPairPem(tls.cert, tls.key);
      !pair.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--etcd-key: ", key_file, ": ", pair.message(),
                     " (--etcd-cert is ", cert_file, ")"));
  }
  return tls;
}

// The etcd flags checked, then serving on etcd.
int RunEtcd(SignalWaiter* signals, TopologydOptions options) {
  const std::string url = absl::GetFlag(FLAGS_store);
  absl::StatusOr<etcd::EtcdUrl> members = etcd::ParseEtcdUrl(url);
  if (!members.ok()) {
    return Usage(absl::StrCat("--store: ", members.status().message()));
  }
  absl::StatusOr<std::optional<etcd::EtcdTls>> tls =
      EtcdTlsFromFlags(members->scheme);
  if (!tls.ok()) return Usage(std::string(tls.status().message()));
  const std::string prefix = absl::GetFlag(FLAGS_etcd_prefix);
  if (prefix.empty()) return Usage("--etcd-prefix must not be empty");
  const absl::Duration ttl = absl::GetFlag(FLAGS_leader_ttl);
  if (ttl < absl::Seconds(1) || ttl != absl::Trunc(ttl, absl::Seconds(1))) {
    return Usage("--leader-ttl must be a whole number of seconds, at least 1s");
  }
  const absl::Duration etcd_timeout = absl::GetFlag(FLAGS_etcd_timeout);
  if (etcd_timeout <= absl::ZeroDuration() || etcd_timeout > absl::Minutes(1)) {
    return Usage("--etcd-timeout must be more than 0s and at most 1m");
  }
  const std::string& listen = options.listen;
  std::string advertise = absl::GetFlag(FLAGS_advertise);
  const size_t colon = listen.rfind(':');
  if (advertise.empty()) {
    const std::string host =
        colon == std::string::npos ? "" : listen.substr(0, colon);
    if (host.empty() || host == "0.0.0.0" || host == "[::]") {
      return Usage("--advertise is required when --listen (" + listen +
                   ") names no address other controllers can reach");
    }
  } else {
    const size_t advertised_colon = advertise.rfind(':');
    int advertised_port = 0;
    if (advertised_colon == std::string::npos || advertised_colon == 0 ||
        !absl::SimpleAtoi(advertise.substr(advertised_colon + 1),
                          &advertised_port) ||
        advertised_port <= 0 || advertised_port > 65535) {
      return Usage("--advertise must be HOST:PORT, not \"" + advertise + "\"");
    }
  }
  if (!absl::GetFlag(FLAGS_state_dir).empty()) {
    LOG(WARNING) << "--state-dir is not used with --store=etcd";
  }
  // Checked now, not only once elected: a bad file is a usage error.
  if (!absl::GetFlag(FLAGS_topology).empty()) {
    absl::StatusOr<TopologyText> parsed =
        ReadSeedTopology(absl::GetFlag(FLAGS_topology));
    if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
  }

  EtcdServingOptions etcd_options;
  etcd_options.url = url;
  etcd_options.client = {members->endpoints, etcd_timeout, *std::move(tls)};
  etcd_options.prefix = prefix;
  etcd_options.leader_ttl = ttl;
  etcd_options.advertise = advertise;
  etcd_options.console_url = absl::GetFlag(FLAGS_console_url);
  return ExitCode(
      ServeEtcd(signals, std::move(options), std::move(etcd_options)));
}

int Run() {
  // First: gRPC starts threads as soon as credentials are made, and every
  // thread must inherit the blocked signals, or SIGTERM kills the process
  // before a leader can resign.
  SignalWaiter signals;
  TopologydOptions serving;
  serving.listen = absl::GetFlag(FLAGS_listen);
  serving.port_file = absl::GetFlag(FLAGS_port_file);
  serving.topology_file = absl::GetFlag(FLAGS_topology);
  serving.console_tls = {absl::GetFlag(FLAGS_tls_cert),
                         absl::GetFlag(FLAGS_tls_key),
                         absl::GetFlag(FLAGS_tls_client_ca)};
  if (absl::GetFlag(FLAGS_insecure)) {
    serving.insecure_warning = InsecureWarning();
  }
  ControllerOptions& options = serving.controller;
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
  options.stream_key_rotation = absl::GetFlag(FLAGS_stream_key_rotation);
  options.stream_key_overlap = absl::GetFlag(FLAGS_stream_key_overlap);
  if (options.stream_key_overlap < absl::Seconds(4)) {
    return Usage("--stream-key-overlap must be at least 4s");
  }
  if (options.stream_key_rotation != absl::ZeroDuration() &&
      options.stream_key_rotation <= options.stream_key_overlap) {
    return Usage(
        "--stream-key-rotation must be 0 or longer than --stream-key-overlap");
  }
  if (absl::GetFlag(FLAGS_snapshot_every) < 1) {
    return Usage("--snapshot-every must be at least 1");
  }
  options.snapshot_every = absl::GetFlag(FLAGS_snapshot_every);

  ServiceOptions& service_options = serving.service;
  std::string error;
  const std::string token_file = absl::GetFlag(FLAGS_admin_token_file);
  if (!token_file.empty()) {
    if (!ReadFlagFile("--admin-token-file", token_file,
                      &service_options.admin_token, &error)) {
      return Usage(error);
    }
    service_options.admin_token =
        std::string(absl::StripAsciiWhitespace(service_options.admin_token));
    if (service_options.admin_token.empty()) {
      return Usage("--admin-token-file: " + token_file + " is empty");
    }
  }

  service_options.admin_rate = absl::GetFlag(FLAGS_admin_rate);
  service_options.admin_burst = absl::GetFlag(FLAGS_admin_burst);
  if (absl::Status metrics = MetricsOptionsFromFlags(&service_options);
      !metrics.ok()) {
    return Usage(std::string(metrics.message()));
  }
  if (!(service_options.admin_rate > 0) ||
      !(service_options.admin_burst >= 1)) {
    return Usage("--admin-rate must be positive and --admin-burst at least 1");
  }
  ServerLimits& limits = service_options.limits;
  const int64_t max_receive = absl::GetFlag(FLAGS_max_receive_bytes);
  limits.max_receive_bytes =
      static_cast<int>(std::clamp<int64_t>(max_receive, 0, INT_MAX));
  limits.max_streams_per_connection =
      absl::GetFlag(FLAGS_max_streams_per_connection);
  limits.keepalive_interval = absl::GetFlag(FLAGS_keepalive_interval);
  limits.keepalive_timeout = absl::GetFlag(FLAGS_keepalive_timeout);
  limits.min_ping_interval = absl::GetFlag(FLAGS_min_ping_interval);
  limits.max_connection_idle = absl::GetFlag(FLAGS_max_connection_idle);
  limits.handshake_timeout = absl::GetFlag(FLAGS_handshake_timeout);
  if (absl::Status valid = ValidateServerLimits(limits); !valid.ok()) {
    return Usage(std::string(valid.message()));
  }

  // etcd holds every node key and the audit trail: plaintext to it is a
  // test bed's, as the control plane's is.
  if (absl::StartsWith(absl::GetFlag(FLAGS_store), "etcd://") &&
      absl::GetFlag(FLAGS_etcd_ca).empty() && !absl::GetFlag(FLAGS_insecure)) {
    return Usage(
        "refusing to reach etcd in plaintext: give --etcd-ca (and "
        "--etcd-cert/--etcd-key for etcd's --client-cert-auth), or --insecure "
        "for a test bed");
  }
  absl::StatusOr<ServerTls> tls = MakeServerTls(
      {absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
       absl::GetFlag(FLAGS_tls_client_ca), absl::GetFlag(FLAGS_client_cert),
       absl::GetFlag(FLAGS_insecure)});
  if (!tls.ok()) return Usage(std::string(tls.status().message()));
  service_options.peer_identity = tls->peer_identity;
  service_options.token_verifier = tls->token_verifier;
  serving.credentials = tls->credentials;

  const std::string store = absl::GetFlag(FLAGS_store);
  if (store == "journal") {
    const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
    if (state_dir.empty()) return Usage("--state-dir is required");
    return ExitCode(ServeJournal(&signals, serving, state_dir));
  }
  if (absl::StartsWith(store, "etcd://")) {
    return RunEtcd(&signals, std::move(serving));
  }
  return Usage(
      "--store must be journal or etcd://HOST:PORT[,HOST:PORT...], "
      "not \"" +
      store + "\"");
}

}  // namespace
}  // namespace cascade::topology

int main(int argc, char** argv) {
  // Debian's abseil is built with deadlock detection on: a fifth of the
  // controller's CPU at 100,000 nodes (docs/BENCHMARKS.md) for a debugging
  // aid.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<char*> positional = cascade::ParseFlags(
      argc, argv,
      "the Cascade topology controller.\n"
      "  topologyd --state-dir=DIR [--listen=HOST:PORT] [--topology=FILE] "
      "TLS\n"
      "  topologyd --store=etcd://HOST:PORT[,...] [--listen=HOST:PORT] "
      "[--advertise=HOST:PORT] [--topology=FILE] TLS\n"
      "TLS is --tls-cert=F --tls-key=F [--tls-client-ca=F] (docs/security.md),"
      " or --insecure for a test bed (plaintext, warned about every minute).\n"
      "With etcd, run several: one leads, the others refuse calls naming it "
      "(gRPC trailing metadata cascade-leader) and take over when it dies.\n"
      "Exit codes: 0 stopped by a signal, 1 failed, 2 bad flags, 3 (etcd) "
      "lost or could not take up leadership: restart it, it rejoins as a "
      "follower.\n"
      "See docs/topologyd.md and docs/etcd.md.");
  if (positional.size() > 1) {
    std::cerr << "topologyd: unexpected argument \"" << positional[1] << "\"\n";
    return 2;
  }
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  return cascade::topology::Run();
}
