// relayd: the Cascade relay daemon. See docs/relayd.md.
#include <glog/logging.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/flags.h"
#include "base/service_notifier.h"
#include "control/controllers.h"
#include "control/node_id.h"
#include "control/tls.h"
#include "relay/config.h"
#include "relay/controller_link.h"
#include "relay/edge.h"
#include "relay/server.h"

ABSL_FLAG(std::string, config, "",
          "Standalone configuration: a textproto cascade.v1.RelayConfig "
          "(proto/relay_config.proto) with parents, children, streams, keys "
          "and timings. Re-read on SIGHUP (without --controller). With "
          "--controller it runs until the first assignment, which replaces "
          "its parents, children and streams (timings stay).");
ABSL_FLAG(std::string, id, "", "Node id; overrides the config's node_id.");
ABSL_FLAG(std::string, listen, "",
          "IP:PORT of the UDP socket (RTP and RTCP); overrides the config's "
          "listen. Port 0: the kernel chooses (see --port-file).");
ABSL_FLAG(std::string, metrics, "",
          "IP:PORT to serve Prometheus text on /metrics (with --relays: "
          "/metrics/ID per relay); empty: no endpoint.");
ABSL_FLAG(std::string, controller, "",
          "HOST:PORT of topologyd, or several as HOST:PORT,HOST:PORT,... (a "
          "group on etcd: the relay follows the others' redirects to the "
          "leader and moves on when it dies): register, take parents, "
          "children and streams from its assignments, report stats. Needs "
          "--id and --listen (or --config). Unreachable: forwarding goes on "
          "with what runs, and the relay keeps retrying.");
ABSL_FLAG(std::string, relays, "",
          "Several relays in this process, as ID@IP:PORT,ID@IP:PORT,... "
          "(instead of --id and --listen; needs --controller): each has its "
          "own socket, forwarding core and controller link, and all share "
          "one event loop thread and --metrics, which then serves "
          "/metrics/ID per relay. For machines that host hundreds of relays "
          "(relay-sim); --source and the timing flags apply to each.");
ABSL_FLAG(int, threads, 0,
          "Threads that send the fan-out: the relay's loop and threads-1 "
          "more, each with its share of every packet's children, all on the "
          "relay's one socket. 0: the cores this process may run on. With "
          "--relays: 1 (the process runs every relay on one loop).");
ABSL_FLAG(int, threads_min_children, 32,
          "Fewer children than this per thread and a packet's fan-out uses "
          "fewer threads (handing a few sends to another thread costs more "
          "than it saves).");
ABSL_FLAG(std::string, send_path, "sendmmsg",
          "How the fan-out is handed to the kernel: sendmmsg, or io_uring "
          "(one ring per sending thread; sendmmsg when the kernel refuses "
          "it). Both send UDP GSO; docs/BENCHMARKS.md, \"io_uring\", "
          "compares them.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA that signed topologyd's certificate: the controller link "
          "speaks TLS and checks the controller's name as given in "
          "--controller (or in a follower's redirect)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate of this node (spiffe://cascade/node/ID, relayctl "
          "pki issue ID) for a controller that requires client certificates. "
          "With --relays: one certificate naming every relay of the process "
          "(relayctl pki issue ID ID...; they share one connection), or a "
          "path containing {id}, replaced by each relay's id (a certificate "
          "and a connection per relay)");
ABSL_FLAG(std::string, tls_key, "",
          "PEM private key of --tls-cert (may contain {id} likewise)");
ABSL_FLAG(bool, insecure, false,
          "with --controller: talk to topologyd in plaintext, without "
          "--tls-ca (a test bed's controller); refused otherwise");
ABSL_FLAG(std::string, source, "",
          "IP:PORT of a plain source (the command center) accepted as the "
          "last parent; with --controller, the parent of a relay the "
          "controller assigns none (the tree's root).");
ABSL_FLAG(std::string, port_file, "",
          "Once bound, write \"udp=PORT\\nmetrics=PORT\\n\" to this file "
          "(with --relays, a line \"udp.ID=PORT\" per relay).");
ABSL_FLAG(absl::Duration, parent_timeout, absl::ZeroDuration(),
          "Fail over to the next parent when the active one has been silent "
          "this long, e.g. 300ms; while no media flows, a relay sends its own "
          "children an SR every third of it. Overrides the config's "
          "timings.parent_timeout_ms. 0: the config's value, by default "
          "300ms.");
ABSL_FLAG(absl::Duration, parent_timeout_max, absl::ZeroDuration(),
          "--parent_timeout is the floor: a parent that left longer gaps "
          "lately (a stalled loop) is allowed twice its longest recent gap, "
          "up to this. Overrides the config's timings.parent_timeout_max_ms. "
          "0: the config's value, by default 4 x the parent timeout; equal "
          "to --parent_timeout: a fixed timeout.");
ABSL_FLAG(absl::Duration, keepalive, absl::ZeroDuration(),
          "How often the relay renews with its parent and reports to the "
          "controller, e.g. 250ms; a child that misses three is reported "
          "silent. Longer on a machine running hundreds of relays. Overrides "
          "the config's timings.parent_keepalive_ms. 0: the config's value, "
          "by default 250ms.");
ABSL_FLAG(std::string, edge, "",
          "IP:PORT of the browser edge (docs/webrtc.md): WHEP and WHIP "
          "(/whep/STREAM, /whip/STREAM) and the pages a site opens (/watch, "
          "/publish) over HTTPS with "
          "--edge_tls_cert/--edge_tls_key, plain HTTP without them (loopback "
          "only, unless --edge_plaintext). Browsers' WebRTC media uses the "
          "relay's UDP socket. Tokens are checked with the edge keys of the "
          "controller's assignment. One relay per process (not --relays).");
ABSL_FLAG(std::string, edge_tls_cert, "",
          "PEM certificate (chain) browsers trust for --edge");
ABSL_FLAG(std::string, edge_tls_key, "", "PEM private key of --edge_tls_cert");
ABSL_FLAG(std::string, edge_candidates, "",
          "IP:PORT[,IP:PORT...] where browsers reach this relay's UDP socket "
          "(the ICE candidates of each answer); default: --listen, which must "
          "then not be 0.0.0.0");
ABSL_FLAG(int, edge_max_viewers, 500,
          "browsers served at once; more get 503 with Retry-After");
ABSL_FLAG(double, edge_posts_per_second, 20,
          "session requests (WHEP/WHIP POSTs) one client address may make per "
          "second, after --edge_post_burst; more get 429 with Retry-After, "
          "before any token is checked");
ABSL_FLAG(int, edge_post_burst, 200,
          "session requests one client address may make at once: size it to "
          "the sites behind one NAT that come back together after a restart");
ABSL_FLAG(bool, edge_plaintext, false,
          "serve --edge over plain HTTP on an address that is not loopback "
          "(a lab only: tokens travel in clear and browsers refuse cameras)");

namespace cascade::relay {
namespace {

[[noreturn]] void Fail(absl::string_view message) {
  std::fprintf(stderr, "relayd: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::exit(2);
}

// The cores this process may run on (its affinity mask: taskset, cpusets).
int AvailableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

// The config file (if any) with the flags laid over it.
absl::StatusOr<cascade::v1::RelayConfig> LoadLocalConfig() {
  cascade::v1::RelayConfig config;
  const std::string path = absl::GetFlag(FLAGS_config);
  if (!path.empty()) {
    absl::StatusOr<cascade::v1::RelayConfig> read = ReadConfigFile(path);
    if (!read.ok()) return read.status();
    config = *std::move(read);
  }
  if (!absl::GetFlag(FLAGS_id).empty()) {
    config.set_node_id(absl::GetFlag(FLAGS_id));
  }
  if (!absl::GetFlag(FLAGS_listen).empty()) {
    config.set_listen(absl::GetFlag(FLAGS_listen));
  }
  // A timing flag set (not 0) overrides the config's value.
  auto timing = [&](absl::string_view flag, absl::Duration value,
                    absl::Duration max,
                    void (cascade::v1::RelayTimings::*set)(uint32_t)) {
    if (value == absl::ZeroDuration()) return absl::OkStatus();
    if (value < absl::Milliseconds(10) || value > max) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": must be between 10ms and ",
                       absl::FormatDuration(max)));
    }
    (config.mutable_timings()->*set)(
        static_cast<uint32_t>(absl::ToInt64Milliseconds(value)));
    return absl::OkStatus();
  };
  if (absl::Status s = timing(
          "parent_timeout", absl::GetFlag(FLAGS_parent_timeout),
          absl::Minutes(1), &cascade::v1::RelayTimings::set_parent_timeout_ms);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          timing("parent_timeout_max", absl::GetFlag(FLAGS_parent_timeout_max),
                 absl::Minutes(1),
                 &cascade::v1::RelayTimings::set_parent_timeout_max_ms);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          timing("keepalive", absl::GetFlag(FLAGS_keepalive), absl::Seconds(10),
                 &cascade::v1::RelayTimings::set_parent_keepalive_ms);
      !s.ok()) {
    return s;
  }
  if (!absl::GetFlag(FLAGS_source).empty()) {
    if (absl::StatusOr<media::Endpoint> e =
            media::Endpoint::Parse(absl::GetFlag(FLAGS_source));
        !e.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--source: ", e.status().message()));
    }
    cascade::v1::RelayParent* source = config.add_parents();
    source->set_id("source");
    source->set_address(absl::GetFlag(FLAGS_source));
  }
  return config;
}

struct RelaySpec {
  std::string id;
  std::string listen;
};

// --relays: ID@IP:PORT,... with distinct ids.
absl::StatusOr<std::vector<RelaySpec>> ParseRelays(absl::string_view list) {
  std::vector<RelaySpec> relays;
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    const size_t at = item.find('@');
    if (at == absl::string_view::npos || at == 0 ||
        std::any_of(item.begin(), item.end(), absl::ascii_isspace)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", item, "\" is not ID@IP:PORT"));
    }
    RelaySpec spec{std::string(item.substr(0, at)),
                   std::string(item.substr(at + 1))};
    if (absl::Status id = control::ValidateNodeId(spec.id); !id.ok()) {
      return id;
    }
    if (absl::StatusOr<media::Endpoint> e = media::Endpoint::Parse(spec.listen);
        !e.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(spec.id, ": ", e.status().message()));
    }
    for (const RelaySpec& other : relays) {
      if (other.id == spec.id) {
        return absl::InvalidArgumentError(
            absl::StrCat("relay ", spec.id, " given twice"));
      }
    }
    relays.push_back(std::move(spec));
  }
  return relays;
}

// The --edge flags, when --edge is given.
absl::StatusOr<std::optional<EdgeOptions>> EdgeOptionsFromFlags() {
  const std::string listen = absl::GetFlag(FLAGS_edge);
  if (listen.empty()) {
    if (!absl::GetFlag(FLAGS_edge_tls_cert).empty() ||
        !absl::GetFlag(FLAGS_edge_tls_key).empty() ||
        !absl::GetFlag(FLAGS_edge_candidates).empty()) {
      return absl::InvalidArgumentError(
          "--edge_tls_cert, --edge_tls_key and --edge_candidates need --edge");
    }
    return std::nullopt;
  }
  EdgeOptions edge;
  absl::StatusOr<media::Endpoint> http = media::Endpoint::Parse(listen);
  if (!http.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--edge: ", http.status().message()));
  }
  edge.http = *http;
  edge.tls_cert_file = absl::GetFlag(FLAGS_edge_tls_cert);
  edge.tls_key_file = absl::GetFlag(FLAGS_edge_tls_key);
  if (edge.tls_cert_file.empty() != edge.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--edge_tls_cert and --edge_tls_key go together");
  }
  const bool loopback = (edge.http.ip >> 24) == 127;
  if (edge.tls_cert_file.empty() && !loopback &&
      !absl::GetFlag(FLAGS_edge_plaintext)) {
    return absl::InvalidArgumentError(
        "--edge: refusing plain HTTP on a non-loopback address (tokens would "
        "travel in clear): give --edge_tls_cert/--edge_tls_key, or "
        "--edge_plaintext for a lab");
  }
  for (absl::string_view c : absl::StrSplit(
           absl::GetFlag(FLAGS_edge_candidates), ',', absl::SkipEmpty())) {
    absl::StatusOr<media::Endpoint> e = media::Endpoint::Parse(c);
    if (!e.ok() || e->ip == 0 || e->port == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--edge_candidates: \"", c, "\" is not a concrete IP:PORT"));
    }
    edge.candidates.push_back(e->ToString());
  }
  const int max_viewers = absl::GetFlag(FLAGS_edge_max_viewers);
  if (max_viewers < 1 || max_viewers > 100000) {
    return absl::InvalidArgumentError(
        "--edge_max_viewers: must be between 1 and 100000");
  }
  edge.max_viewers = static_cast<size_t>(max_viewers);
  edge.posts_per_second_per_address =
      absl::GetFlag(FLAGS_edge_posts_per_second);
  if (!(edge.posts_per_second_per_address > 0 &&
        edge.posts_per_second_per_address <= 1e6)) {
    return absl::InvalidArgumentError(
        "--edge_posts_per_second: must be above 0 and at most 1000000");
  }
  const int burst = absl::GetFlag(FLAGS_edge_post_burst);
  if (burst < 1 || burst > 1000000) {
    return absl::InvalidArgumentError(
        "--edge_post_burst: must be between 1 and 1000000");
  }
  edge.post_burst_per_address = burst;
  return edge;
}

absl::StatusOr<RelayOptions> OptionsOf(const cascade::v1::RelayConfig& config) {
  absl::StatusOr<RelayOptions> options = ToOptions(config);
  const std::string path = absl::GetFlag(FLAGS_config);
  if (!options.ok() && !path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", options.status().message()));
  }
  return options;
}

absl::StatusOr<RelayOptions> LoadOptions() {
  absl::StatusOr<cascade::v1::RelayConfig> config = LoadLocalConfig();
  if (!config.ok()) return config.status();
  return OptionsOf(*config);
}

int Main() {
  const std::string controller = absl::GetFlag(FLAGS_controller);
  std::vector<RelaySpec> several;
  if (!absl::GetFlag(FLAGS_relays).empty()) {
    if (controller.empty()) Fail("--relays needs --controller");
    if (!absl::GetFlag(FLAGS_config).empty() ||
        !absl::GetFlag(FLAGS_id).empty() ||
        !absl::GetFlag(FLAGS_listen).empty()) {
      Fail("--relays replaces --config, --id and --listen");
    }
    absl::StatusOr<std::vector<RelaySpec>> relays =
        ParseRelays(absl::GetFlag(FLAGS_relays));
    if (!relays.ok())
      Fail(absl::StrCat("--relays: ", relays.status().message()));
    several = *std::move(relays);
  } else if (absl::GetFlag(FLAGS_config).empty()) {
    if (controller.empty()) Fail("--config or --controller is required");
    if (absl::GetFlag(FLAGS_id).empty()) {
      Fail("--id is required with --controller and no --config");
    }
    if (absl::GetFlag(FLAGS_listen).empty()) {
      Fail("--listen is required with --controller and no --config");
    }
  }
  if (!controller.empty()) {
    absl::StatusOr<std::vector<std::string>> controllers =
        control::ParseControllerList(controller);
    if (!controllers.ok()) {
      Fail(absl::StrCat("--controller: ", controllers.status().message()));
    }
  }
  const control::TlsClientFiles tls = {absl::GetFlag(FLAGS_tls_ca),
                                       absl::GetFlag(FLAGS_tls_cert),
                                       absl::GetFlag(FLAGS_tls_key)};
  if (!tls.ca.empty() && controller.empty()) {
    Fail("--tls-ca needs --controller");
  }
  // Plaintext hands anyone on the path this relay's link keys.
  const bool insecure = absl::GetFlag(FLAGS_insecure);
  if (!controller.empty() && tls.ca.empty() && !insecure) {
    Fail(
        "refusing to talk to topologyd in plaintext: give --tls-ca (and "
        "--tls-cert/--tls-key for mutual TLS), or --insecure for a test bed");
  }
  if (insecure && !tls.ca.empty()) {
    Fail("--insecure talks plaintext: it does not go with --tls-ca");
  }
  absl::StatusOr<cascade::v1::RelayConfig> base = LoadLocalConfig();
  if (!base.ok()) Fail(base.status().message());
  // What each relay's assignments are laid over.
  std::vector<cascade::v1::RelayConfig> locals;
  if (several.empty()) {
    locals.push_back(*std::move(base));
  } else {
    for (const RelaySpec& spec : several) {
      cascade::v1::RelayConfig& local = locals.emplace_back(*base);
      local.set_node_id(spec.id);
      local.set_listen(spec.listen);
    }
  }

  // Read now, before anything binds. Relays that present the same
  // certificate share one credentials object, so gRPC gives them one
  // connection: with TLS, a connection per relay cost topologyd and the
  // relays noticeably more (docs/security.md).
  std::vector<std::shared_ptr<grpc::ChannelCredentials>> credentials;
  std::map<std::pair<std::string, std::string>,
           std::shared_ptr<grpc::ChannelCredentials>>
      by_files;
  for (const cascade::v1::RelayConfig& local : locals) {
    const std::string& id = local.node_id();
    const control::TlsClientFiles files = {
        tls.ca, control::ForNode(tls.cert, id), control::ForNode(tls.key, id)};
    auto [it, added] = by_files.try_emplace({files.cert, files.key});
    if (added) {
      absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> made =
          control::ClientCredentials(files);
      if (!made.ok()) Fail(made.status().message());
      it->second = *std::move(made);
    }
    credentials.push_back(it->second);
  }

  ServerOptions server;
  server.pages_per_relay = !several.empty();
  const int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 0 || threads > 256) Fail("--threads: between 0 and 256");
  if (threads > 1 && !several.empty()) {
    Fail("--threads: a process of --relays runs them on one loop");
  }
  if (absl::GetFlag(FLAGS_threads_min_children) < 1) {
    Fail("--threads_min_children: at least 1");
  }
  server.fanout.loops = !several.empty() ? 1
                        : threads > 0    ? threads
                                         : AvailableCores();
  server.fanout.min_children_per_loop =
      static_cast<size_t>(absl::GetFlag(FLAGS_threads_min_children));
  const std::string send_path = absl::GetFlag(FLAGS_send_path);
  if (send_path == "io_uring") {
    server.fanout.send_path = SendPath::kIoUring;
  } else if (send_path != "sendmmsg") {
    Fail("--send_path: sendmmsg or io_uring");
  }
  for (const cascade::v1::RelayConfig& local : locals) {
    absl::StatusOr<RelayOptions> options = OptionsOf(local);
    if (!options.ok()) Fail(options.status().message());
    server.relays.push_back(*std::move(options));
  }
  if (!absl::GetFlag(FLAGS_metrics).empty()) {
    absl::StatusOr<media::Endpoint> metrics =
        media::Endpoint::Parse(absl::GetFlag(FLAGS_metrics));
    if (!metrics.ok()) {
      Fail(absl::StrCat("--metrics: ", metrics.status().message()));
    }
    server.metrics = *metrics;
  }
  absl::StatusOr<std::optional<EdgeOptions>> edge = EdgeOptionsFromFlags();
  if (!edge.ok()) Fail(edge.status().message());
  if (edge->has_value() && !several.empty()) {
    Fail("--edge serves one relay: not with --relays");
  }
  server.edge = *std::move(edge);
  server.port_file = absl::GetFlag(FLAGS_port_file);
  // With a controller, its assignment is the configuration: a reload of
  // the file would undo it.
  if (controller.empty()) server.reload = LoadOptions;
  // Under systemd (Type=notify): ready once serving what it was given, the
  // controller's assignments included; the loop feeds the watchdog.
  SystemdNotifier notifier;
  server.notifier = &notifier;
  server.ready_after_assignment = !controller.empty();
  if (insecure && !controller.empty()) {
    server.warning =
        "--insecure: the controller link is unauthenticated and unencrypted: "
        "anyone on the path can read this relay's link keys and hand it "
        "parents and children; give --tls-ca/--tls-cert/--tls-key outside a "
        "test bed (docs/security.md)";
  }

  absl::StatusOr<std::unique_ptr<RelayServer>> relay =
      RelayServer::Create(std::move(server));
  if (!relay.ok()) {
    LOG(ERROR) << relay.status();
    return 1;
  }
  std::vector<std::unique_ptr<ControllerLink>> links;
  if (!controller.empty()) {
    for (size_t i = 0; i < locals.size(); ++i) {
      RelayInstance* instance = (*relay)->relays()[i].get();
      ControllerLinkOptions link_options;
      link_options.client.controller = controller;
      link_options.client.node_id = instance->id();
      link_options.client.media_address = instance->local().ToString();
      link_options.client.credentials = credentials[i];
      // Silent children reach the controller within a keepalive.
      link_options.client.report_interval =
          instance->core().options().parent_keepalive;
      link_options.local = std::move(locals[i]);
      links.push_back(std::make_unique<ControllerLink>(std::move(link_options),
                                                       relay->get(), instance));
      links.back()->Start();
    }
  }
  (*relay)->Run();
  // Together: each may wait out a call's deadline to an unreachable
  // controller.
  std::vector<std::thread> stopping;
  for (const std::unique_ptr<ControllerLink>& link : links) {
    stopping.emplace_back([&link] { link->Stop(); });
  }
  for (std::thread& t : stopping) t.join();
  return 0;
}

}  // namespace
}  // namespace cascade::relay

int main(int argc, char** argv) {
  const std::vector<char*> positional = cascade::ParseFlags(
      argc, argv,
      "Cascade relay daemon: forwards RTP/RTCP down a tree of relays with NACK "
      "repair, keyframe cache and authenticated children.\n"
      "  relayd --config=relay.textproto [--listen=IP:PORT] "
      "[--metrics=IP:PORT]\n"
      "  relayd --controller=HOST:PORT[,HOST:PORT...] --id=NODE "
      "--listen=IP:PORT "
      "[--source=IP:PORT] [--metrics=IP:PORT]\n"
      "  relayd --controller=HOST:PORT[,HOST:PORT...] "
      "--relays=ID@IP:PORT,ID@IP:PORT,... "
      "[--metrics=IP:PORT]\n"
      "With --controller: --tls-ca=CA.pem [--tls-cert=ID.pem "
      "--tls-key=ID.key] (docs/security.md), or --insecure for a test "
      "bed's plaintext controller. Browsers: --edge=IP:PORT "
      "[--edge_tls_cert=PEM --edge_tls_key=PEM] (docs/webrtc.md).");
  if (positional.size() > 1) {
    std::fprintf(stderr, "relayd: unexpected argument \"%s\" (see --help)\n",
                 positional[1]);
    return 2;
  }
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  // The metrics thread writes to sockets that clients may have closed.
  signal(SIGPIPE, SIG_IGN);
  return cascade::relay::Main();
}
