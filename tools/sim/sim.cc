#include "tools/sim/sim.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/files.h"
#include "google/protobuf/text_format.h"
#include "tools/sim/admin_calls.h"
#include "tools/sim/control_plane.h"
#include "tools/sim/files.h"
#include "tools/sim/metrics.h"
#include "tools/sim/private_network.h"
#include "tools/sim/process_layout.h"
#include "tools/sim/relay_processes.h"
#include "tools/sim/scenario_steps.h"
#include "tools/sim/sim_pki.h"
#include "tools/sim/supervisor.h"

namespace cascade::sim {
namespace {

constexpr absl::Duration kPoll = absl::Milliseconds(50);
// A watch URL's token outlives the media by this: the warm-up before it
// and the end after it.
constexpr absl::Duration kWatchUrlMargin = absl::Minutes(5);
// relay-source's name among the stream key holders (SimPki).
constexpr char kSourceHolder[] = "relay-source";

// The run, from the first process to the report's raw figures: the
// processes of the layout, the warm-up, the scenario's steps on the media's
// clock, and what every process said at the end.
class Simulation {
 public:
  Simulation(const NetworkPlan& plan, const SimOptions& options)
      : plan_(plan),
        options_(options),
        control_plane_(
            ControlPlaneOptions{
                options.topologyd, options.etcd, options.out_dir,
                Out("topology.textproto"), options.leader_ttl,
                // Four reports per lease: one or two late
                // on a loaded machine cost nothing.
                std::max(absl::Seconds(3), 4 * options.keepalive),
                options.interrupted, options.tcp_delay, options.store_delay,
                [&plan](const std::string& id) {
                  return plan.relay(id) != nullptr;
                },
                SimPki(Out("pki"))},
            &supervisor_, &run_.control_plane, &run_.problems),
        relays_(plan, &layout_,
                RelayProcessOptions{
                    options.relayd, options.out_dir,
                    options.controller ? control_plane_.Addresses() : "",
                    options.parent_timeout, options.keepalive,
                    options.startup_timeout, options.interrupted,
                    SimPki(Out("pki"))},
                &supervisor_),
        admin_(&control_plane_, options.controller, &run_.control_plane,
               [this](absl::Time until) { return SleepUntil(until); }),
        steps_(plan, layout_,
               ScenarioStepsOptions{options.controller, options.leader_ttl,
                                    options.srtp && options.controller},
               &supervisor_, &relays_, &control_plane_, &admin_) {
    run_.topology_name = options.topology_name;
    run_.mode = options.controller ? "controller" : "standalone";
    run_.scenario = options.scenario;
    run_.probe_interval_s = options.probe_interval_s;
    run_.parent_timeout = options.parent_timeout;
    run_.keepalive = options.keepalive;
  }

  absl::StatusOr<SimRun> Run() {
    started_ = absl::Now();
    if (absl::Status s = Prepare(); !s.ok()) return s;
    if (absl::Status s = control_plane_.Start(); !s.ok()) return s;
    relays_started_ = absl::Now();
    if (absl::Status s = relays_.StartAll(); !s.ok()) return s;
    if (options_.controller) {
      if (absl::Status s = TakeAssignments(); !s.ok()) return s;
    }
    if (absl::Status s = StartProbes(); !s.ok()) return s;
    if (absl::Status s = WarmUp(); !s.ok()) return s;
    if (absl::Status s = MintWatchUrls(); !s.ok()) return s;
    if (absl::Status s = StartWhepSites(); !s.ok()) return s;
    if (absl::Status s = StartSource(); !s.ok()) return s;
    if (absl::Status s = PlayScenario(); !s.ok()) return s;
    if (absl::Status s = Finish(); !s.ok()) return s;
    return std::move(run_);
  }

 private:
  std::string Out(absl::string_view relative) const {
    return absl::StrCat(options_.out_dir, "/", relative);
  }

  bool Interrupted() const {
    return options_.interrupted != nullptr && options_.interrupted->load();
  }

  // Notes processes that ended on their own (the control plane restarts
  // controllers) and runs the control plane's restarts and polls.
  void Tick() {
    for (const Ended& ended : supervisor_.ReapExited()) {
      if (control_plane_.OnExit(ended)) continue;
      // The source ends by itself after --duration.
      if (ended.kind == "relay-source" && ended.code == 0) continue;
      run_.problems.push_back(absl::StrCat(
          ended.description, " (unexpected; see ", options_.out_dir, "/logs)"));
    }
    control_plane_.Tick();
  }

  absl::Status SleepUntil(absl::Time until) {
    while (absl::Now() < until) {
      if (Interrupted()) return absl::CancelledError("interrupted");
      Tick();
      absl::SleepFor(std::min(kPoll, until - absl::Now()));
    }
    return absl::OkStatus();
  }

  // The output directories, the layout of the processes, and the topology
  // topologyd starts with.
  absl::Status Prepare() {
    if (absl::Status s = MakeDir(Out("")); !s.ok()) return s;
    // In an OUT relay-sim wrote before (its topology.textproto there),
    // topologyd would resume from the old state and the logs, appended to,
    // would mix both runs: its subdirectories are emptied first.
    const bool used = std::filesystem::exists(Out("topology.textproto"));
    for (const char* dir : {"logs", "config", "ports", "probes", "metrics",
                            "controller", "pki"}) {
      std::error_code ignored;
      if (used) std::filesystem::remove_all(Out(dir), ignored);
      if (absl::Status s = MakeDir(Out(dir)); !s.ok()) return s;
    }
    std::error_code ignored;
    std::filesystem::remove(Out("watch-urls.txt"), ignored);
    absl::StatusOr<ProcessLayout> layout = LayOutProcesses(
        plan_, options_.scenario,
        LayoutOptions{options_.controller, options_.sites_per_probe,
                      options_.relays_per_process, options_.browser_edges,
                      KeysFromController()});
    if (!layout.ok()) return layout.status();
    layout_ = *std::move(layout);
    // Mutual TLS between every process that speaks gRPC: a certificate per
    // relayd process, naming its relays.
    std::vector<std::pair<std::string, std::vector<std::string>>> groups;
    for (const RelayProcessGroup& group : layout_.relay_groups) {
      std::vector<std::string> ids;
      for (const PlanRelay* relay : group.relays) ids.push_back(relay->id);
      groups.emplace_back(group.name, std::move(ids));
    }
    // The stream keys' holders: relay-source as the command center, each
    // relay-probe process for its sites.
    SimPki::Holders holders;
    if (KeysFromController()) {
      holders.emplace_back(kSourceHolder,
                           std::vector<std::string>{layout_.stream_source});
      for (const ProbeGroupRun& group : layout_.probe_groups) {
        holders.emplace_back(group.name, layout_.members[group.name]);
      }
    }
    if (absl::Status s =
            SimPki(Out("pki")).Make(control_plane_.Hosts(), groups, holders);
        !s.ok()) {
      return s;
    }
    if (options_.srtp && !KeysFromController()) {
      if (absl::Status s = SimPki(Out("pki")).MakeStreamKey(); !s.ok()) {
        return s;
      }
    }
    run_.groups = layout_.probe_groups;
    run_.relay_processes = static_cast<int>(layout_.relay_groups.size());
    std::string text;
    google::protobuf::TextFormat::PrintToString(layout_.topology, &text);
    return WriteFile(Out("topology.textproto"), text);
  }

  // Controller mode: every relay is up and acked its assignment, then each
  // site joins the parents topologyd gave it (its view's effective
  // parents), with the link keys derived from its node key.
  absl::Status TakeAssignments() {
    const absl::Time start = absl::Now();
    // Up and acked: a relay slow to register may have been counted down
    // and its children placed elsewhere until it showed up.
    absl::StatusOr<int> acked =
        admin_.WaitForAcks({}, start + options_.startup_timeout,
                           /*all_up=*/true);
    if (!acked.ok()) {
      return absl::DeadlineExceededError(
          absl::StrCat("relays did not ack their first assignment: ",
                       acked.status().message()));
    }
    run_.control_plane.set_first_assignment_ms(
        absl::ToDoubleMilliseconds(absl::Now() - relays_started_));
    absl::StatusOr<cascade::v1::GetTopologyResponse> topology =
        admin_.GetTopology();
    if (!topology.ok()) return topology.status();
    int moved = 0;
    for (const cascade::v1::NodeView& node : topology->nodes()) {
      // Tier probes stay on their one relay: latency at that tier.
      auto site = layout_.site_parents.find(node.id());
      if (site == layout_.site_parents.end() ||
          layout_.tier_probe_keys.contains(node.id())) {
        continue;
      }
      std::vector<std::string> parents;
      for (const std::string& parent : node.parents()) {
        if (plan_.relay(parent) != nullptr) parents.push_back(parent);
      }
      if (parents.empty()) {
        run_.problems.push_back(absl::StrCat("topologyd gave site ", node.id(),
                                             " no parent; it joins ",
                                             site->second[0]));
        continue;
      }
      if (parents != site->second) ++moved;
      site->second = std::move(parents);
    }
    if (moved > 0) {
      run_.problems.push_back(absl::StrCat(
          moved,
          " sites got other parents from topologyd than the topology "
          "names (capacity); they join topologyd's"));
    }
    return absl::OkStatus();
  }

  absl::Status StartProbes() {
    const absl::Time start = absl::Now();
    for (const ProbeGroupRun& group : run_.groups) {
      const std::string sites_file = Out("probes/" + group.name + ".sites");
      std::string lines;
      const std::vector<std::string>& members = layout_.members[group.name];
      for (size_t i = 0; i < members.size(); ++i) {
        absl::StrAppend(
            &lines,
            ProbeSitesLine(plan_, layout_, members[i], group.addresses[i]),
            "\n");
      }
      if (absl::Status s = WriteFile(sites_file, lines); !s.ok()) return s;
      const std::string port_file = Out("ports/" + group.name + ".ports");
      std::remove(port_file.c_str());
      if (absl::Status s = supervisor_.Start(
              "probe " + group.name, "relay-probe",
              WithStreamKeys(
                  group.name,
                  {options_.probe, "--sites_file=" + sites_file, "--json",
                   "--duration=0",
                   absl::StrCat("--interval=", options_.probe_interval_s),
                   "--decode_sites=1", "--port_file=" + port_file,
                   "--parent_timeout=" +
                       absl::FormatDuration(options_.parent_timeout),
                   "--keepalive=" + absl::FormatDuration(options_.keepalive)}),
              Out("logs/" + group.name + ".log"));
          !s.ok()) {
        return s;
      }
    }
    const absl::Time deadline = start + options_.startup_timeout;
    for (ProbeGroupRun& group : run_.groups) {
      absl::StatusOr<std::string> ports =
          WaitForFile(Out("ports/" + group.name + ".ports"), deadline,
                      options_.interrupted);
      if (!ports.ok()) {
        return absl::DeadlineExceededError(
            absl::StrCat("relay-probe ", group.name, " did not bind (see ",
                         Out("logs/" + group.name + ".log"), ")"));
      }
      probes_started_[group.name] = absl::Now();
    }
    return absl::OkStatus();
  }

  // Waits until every relay serves every child that names it first: the
  // tree is joined before the first packet.
  absl::Status WarmUp() {
    absl::flat_hash_map<std::string, int> expected;
    for (const PlanRelay& relay : plan_.relays) {
      if (!relay.parents.empty()) ++expected[relay.parents[0]];
    }
    // Sites and tier probes.
    for (const auto& [id, parents] : layout_.site_parents) {
      ++expected[parents[0]];
    }
    const absl::Time deadline = absl::Now() + options_.startup_timeout;
    std::vector<std::string> pending;
    for (const auto& [id, count] : expected) pending.push_back(id);
    while (!pending.empty() && absl::Now() < deadline) {
      if (Interrupted()) return absl::CancelledError("interrupted");
      std::vector<std::string> still;
      for (const std::string& id : pending) {
        absl::StatusOr<std::string> text =
            relays_.Metrics(id, absl::Seconds(1));
        if (!text.ok() || MetricSum(*text, "relay_children") < expected[id]) {
          still.push_back(id);
        }
      }
      pending = std::move(still);
      if (!pending.empty()) absl::SleepFor(absl::Milliseconds(200));
    }
    run_.warmup_s = absl::ToDoubleSeconds(absl::Now() - started_);
    if (!pending.empty()) {
      run_.problems.push_back(absl::StrCat(
          pending.size(), " relays still missing children after warm-up, e.g. ",
          pending[0]));
    }
    return absl::OkStatus();
  }

  // --browser_edge: a watch URL for the first site under each edge
  // district (its active parent now, as topologyd mints for it: a relay
  // slow to register may have lost its sites for a while at the start),
  // for a person to open while the run goes on. The first mint makes
  // topologyd's first edge key, which every relay's assignment then
  // carries: the call waits for the acks, so the URL works once printed.
  // Minted before the media, so no step's window has the push in it.
  absl::Status MintWatchUrls() {
    if (options_.browser_edges.empty()) return absl::OkStatus();
    absl::StatusOr<cascade::v1::GetTopologyResponse> view =
        admin_.GetTopology();
    if (!view.ok()) return view.status();
    absl::flat_hash_map<std::string, std::string> active_parent;
    for (const cascade::v1::NodeView& node : view->nodes()) {
      if (node.tier() == cascade::v1::TIER_SITE && node.parents_size() > 0) {
        active_parent[node.id()] = node.parents(0);
      }
    }
    std::string lines;
    for (const BrowserEdge& edge : options_.browser_edges) {
      std::string site;
      for (const PlanSite& candidate : plan_.sites) {
        if (active_parent[candidate.id] == edge.relay) {
          site = candidate.id;
          break;
        }
      }
      if (site.empty()) {
        run_.problems.push_back(
            absl::StrCat("browser edge ", edge.relay,
                         ": no site has it as its active parent, no URL"));
        continue;
      }
      cascade::v1::MintEdgeTokenRequest request;
      request.set_node(site);
      request.set_ttl_ms(absl::ToInt64Milliseconds(
          absl::Seconds(options_.scenario.duration_s()) + kWatchUrlMargin));
      cascade::v1::MintEdgeTokenResponse minted;
      std::string detail;
      const bool accepted =
          admin_
              .Change(
                  "browser edge: watch URL for " + site + " at " + edge.relay,
                  "MintEdgeToken",
                  [&](cascade::v1::Admin::Stub* admin,
                      grpc::ClientContext* context) {
                    return admin->MintEdgeToken(context, request, &minted);
                  },
                  &detail)
              .accepted;
      const absl::StatusOr<std::string> url =
          accepted ? PlainHttpUrl(minted) : absl::UnavailableError(detail);
      if (!url.ok()) {
        run_.problems.push_back(absl::StrCat("browser edge ", edge.relay, ": ",
                                             url.status().message()));
        continue;
      }
      mint_calls_[edge.relay] = run_.control_plane.admin_calls_size() - 1;
      minted_[edge.relay] = minted;
      cascade::v1::SimAdminCall* call =
          run_.control_plane.mutable_admin_calls(mint_calls_[edge.relay]);
      call->set_detail(absl::StrCat(call->detail(), "; ", *url));
      absl::StrAppend(&lines, edge.relay, " ", site, " ", *url, "\n");
      if (options_.console != nullptr) {
        *options_.console << "relay-sim: watch " << site << " at " << edge.relay
                          << " in a browser on this machine while the sim "
                             "runs: "
                          << *url << std::endl;
      }
    }
    // Whole or not at all: a script may be waiting for it.
    return WriteFileAtomically(Out("watch-urls.txt"), lines);
  }

  // --whep_sites: a relay-probe --whep per edge, its viewers on the watch
  // URL's token at the edge's own address in here, each a site of the run.
  // The relay's answers name the bridge's end outside (for browsers): what
  // the viewers send there goes to the relay's socket. Connected before the
  // media, as the other sites are.
  absl::Status StartWhepSites() {
    const absl::Time deadline = absl::Now() + options_.startup_timeout;
    for (const WhepSiteGroup& group : options_.whep_sites) {
      auto edge = layout_.browser_edges.find(group.edge);
      auto minted = minted_.find(group.edge);
      if (edge == layout_.browser_edges.end() || minted == minted_.end()) {
        run_.problems.push_back(absl::StrCat("WHEP sites ", group.name,
                                             ": no token for ", group.edge,
                                             ", not started"));
        continue;
      }
      absl::StatusOr<std::string> url =
          InsideWatchUrl(minted->second, edge->second.listen);
      if (!url.ok()) return url.status();
      if (absl::Status s =
              RedirectUdp(group.listen.substr(0, group.listen.rfind(':')),
                          edge->second.media, plan_.relay(group.edge)->address);
          !s.ok()) {
        return s;
      }
      const std::string port_file = Out("ports/" + group.name + ".ports");
      const std::string log = Out("logs/" + group.name + ".log");
      std::remove(port_file.c_str());
      if (absl::Status s = supervisor_.Start(
              "probe " + group.name, "relay-probe",
              {options_.probe, "--whep=" + *url,
               absl::StrCat("--whep_viewers=", group.site_ids.size()),
               "--listen=" + group.listen, "--json", "--duration=0",
               absl::StrCat("--interval=", options_.probe_interval_s),
               "--port_file=" + port_file},
              log);
          !s.ok()) {
        return s;
      }
      // Every viewer has its answer once the ports are written; a refused
      // offer ends the probe at once.
      while (ReadFile(port_file).empty()) {
        if (!supervisor_.Running("probe " + group.name) ||
            absl::Now() >= deadline) {
          return absl::UnavailableError(absl::StrCat(
              "relay-probe ", group.name, " did not open its WHEP sessions (",
              log, ": ", ReadFile(log).substr(0, 300), ")"));
        }
        if (absl::Status s = SleepUntil(absl::Now() + absl::Milliseconds(20));
            !s.ok()) {
          return s;
        }
      }
      probes_started_[group.name] = absl::Now();
      ProbeGroupRun& run = run_.groups.emplace_back();
      run.name = group.name;
      run.tier = "site";
      run.site_ids = group.site_ids;
      run.addresses = group.addresses;
    }
    return absl::OkStatus();
  }

  // The program is encrypted under keys topologyd makes (controller mode),
  // or else under a key file's.
  bool KeysFromController() const {
    return options_.srtp && options_.controller;
  }
  // `argv` with what gives stream key holder `holder` (kSourceHolder, a
  // probe group) its keys; as it is for plain RTP.
  std::vector<std::string> WithStreamKeys(const std::string& holder,
                                          std::vector<std::string> argv) const {
    const SimPki pki(Out("pki"));
    if (!options_.srtp) return argv;
    if (!KeysFromController()) {
      argv.push_back("--srtp_key_file=" + pki.stream_key());
      return argv;
    }
    argv.insert(argv.end(), {"--controller=" + control_plane_.Addresses(),
                             "--tls_ca=" + pki.ca(),
                             "--tls_cert=" + pki.holder_cert(holder),
                             "--tls_key=" + pki.holder_key(holder)});
    if (holder == kSourceHolder) {
      argv.push_back("--node=" + layout_.stream_source);
    }
    return argv;
  }

  absl::Status StartSource() {
    uint32_t video_ssrc = 0;
    uint32_t audio_ssrc = 0;
    for (const cascade::v1::Stream& stream : plan_.topology.streams()) {
      if (stream.direction() != cascade::v1::DIRECTION_DOWNSTREAM) continue;
      for (const cascade::v1::Track& track : stream.tracks()) {
        (track.media() == "audio" ? audio_ssrc : video_ssrc) = track.ssrc();
      }
    }
    const cascade::v1::SimScenario& scenario = options_.scenario;
    std::vector<std::string> standby_roots;
    for (size_t i = 1; i < plan_.roots.size(); ++i) {
      standby_roots.push_back(plan_.relay(plan_.roots[i])->address);
    }
    absl::Status started = supervisor_.Start(
        "relay-source", "relay-source",
        WithStreamKeys(
            kSourceHolder,
            {options_.source, "--json", "--bind=" + plan_.source_address,
             "--dest=" + plan_.relay(plan_.roots[0])->address,
             "--standby_dest=" + absl::StrJoin(standby_roots, ","),
             absl::StrCat("--ssrc=", video_ssrc),
             absl::StrCat("--audio_ssrc=", audio_ssrc),
             absl::StrCat("--bitrate=", scenario.video_kbps()),
             absl::StrCat("--fps=", scenario.frame_rate()),
             absl::StrCat("--gop=", 2 * scenario.frame_rate()),
             absl::StrCat("--audio=", scenario.audio() ? "true" : "false"),
             absl::StrCat("--duration=", scenario.duration_s())}),
        Out("logs/relay-source.log"));
    media_start_ = absl::Now();
    for (ProbeGroupRun& group : run_.groups) {
      group.offset_s =
          absl::ToDoubleSeconds(probes_started_[group.name] - media_start_);
    }
    return started;
  }

  absl::Status PlayScenario() {
    std::vector<cascade::v1::SimStep> steps(options_.scenario.steps().begin(),
                                            options_.scenario.steps().end());
    std::stable_sort(
        steps.begin(), steps.end(),
        [](const auto& a, const auto& b) { return a.at_s() < b.at_s(); });
    for (const cascade::v1::SimStep& step : steps) {
      if (absl::Status s =
              SleepUntil(media_start_ + absl::Seconds(step.at_s()));
          !s.ok()) {
        return s;
      }
      // Which relays change parent in each step's window: read at its start.
      run_.relay_parent_changes.push_back(relays_.ParentChanges());
      // When it began: a step may wait (for acks, for a new leader).
      const double at_s = absl::ToDoubleSeconds(absl::Now() - media_start_);
      cascade::v1::SimStepResult result =
          steps_.Execute(step, run_.steps.size(), media_start_, &run_.upstream);
      result.set_at_s(at_s);
      result.set_label(step.label());
      run_.steps.push_back(std::move(result));
      // Steps wait (acks, a new leader, each step's metrics): one pushed
      // past the media acts on an idle tree, which no figure measures.
      if (at_s > options_.scenario.duration_s()) {
        run_.problems.push_back(absl::StrFormat(
            "step \"%s\" began at %.1f s, after the media ended (%g s): "
            "its effect on the stream is not measured",
            step.label(), at_s, options_.scenario.duration_s()));
      }
    }
    // Until the source is done, bounded.
    const absl::Time deadline = media_start_ +
                                absl::Seconds(options_.scenario.duration_s()) +
                                absl::Seconds(30);
    while (supervisor_.Running("relay-source")) {
      if (absl::Now() >= deadline) {
        run_.problems.push_back("relay-source overran its duration; stopped");
        break;
      }
      if (absl::Status s = SleepUntil(absl::Now() + kPoll); !s.ok()) return s;
    }
    // A controller a late step killed starts again before the final
    // counters are read, as the step says: the relays are not left
    // reconnecting to nothing while they are measured.
    if (std::optional<absl::Time> restart = control_plane_.NextRestart()) {
      if (absl::Status s = SleepUntil(*restart + kPoll); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status Finish() {
    const std::string source_log = ReadFile(Out("logs/relay-source.log"));
    for (absl::string_view line : absl::StrSplit(source_log, '\n')) {
      if (!absl::StartsWith(line, "{")) continue;
      absl::StatusOr<cascade::v1::SourceCounters> counters =
          ParseSourceLine(std::string(line));
      if (counters.ok()) run_.source = *counters;
    }
    // Repairs of the last packets are still in flight: let them land.
    if (absl::Status s = SleepUntil(absl::Now() + absl::Seconds(1.5));
        !s.ok()) {
      return s;
    }
    relays_.CollectFinalMetrics(&run_.relay_metrics,
                                &run_.relay_parent_changes.emplace_back(),
                                &run_.problems);
    for (const ProbeGroupRun& group : run_.groups) {
      supervisor_.Signal("probe " + group.name, SIGTERM).IgnoreError();
    }
    for (const ProbeGroupRun& group : run_.groups) {
      supervisor_.Stop("probe " + group.name, absl::Seconds(10)).IgnoreError();
    }
    run_.usage = supervisor_.UsageByKind();
    run_.wall_s = absl::ToDoubleSeconds(absl::Now() - started_);
    control_plane_.Stop();
    supervisor_.StopAll(absl::Seconds(3));
    control_plane_.RecordLeaderChanges(media_start_);
    for (ProbeGroupRun& group : run_.groups) {
      const std::string log = ReadFile(Out("logs/" + group.name + ".log"));
      for (absl::string_view line : absl::StrSplit(log, '\n')) {
        if (!absl::StartsWith(line, "{\"type\":")) continue;
        absl::StatusOr<cascade::v1::ProbeLine> parsed =
            ParseProbeLine(std::string(line));
        if (!parsed.ok()) {
          run_.problems.push_back(std::string(parsed.status().message()));
          continue;
        }
        if (parsed->type() == "final") {
          group.final = *std::move(parsed);
        } else {
          group.intervals.push_back(*std::move(parsed));
        }
      }
    }
    SummarizeWhepSites();
    run_.control_plane.set_assignments_pushed(options_.controller);
    run_.control_plane.set_note(absl::StrCat(
        options_.controller
            ? "relays ran with --controller: parents, children, keys and "
              "streams from topologyd's assignments; assignment_push_ms is "
              "each admin change until every relay it reached acked"
            : "relays ran on standalone configs generated from the topology "
              "(--mode=standalone), so no assignment was pushed; admin calls "
              "and controller start times are measured",
        control_plane_.on_etcd()
            ? absl::StrCat(
                  "; three topologyd on one etcd over mutual TLS "
                  "(--leader-ttl=",
                  absl::FormatDuration(options_.leader_ttl),
                  options_.store_delay > absl::ZeroDuration()
                      ? absl::StrCat(", every request to etcd held ",
                                     absl::FormatDuration(options_.store_delay),
                                     " by tcp-delay: store_delay_ms")
                      : "",
                  "), relays and relay-sim given all three; "
                  "leader_changes lists each new leader and how long "
                  "the takeover took")
            : ""));
    return absl::OkStatus();
  }

  // Each WHEP group's sessions (connected, first pictures) in the detail of
  // the call that minted their token, and on the console.
  void SummarizeWhepSites() {
    for (const WhepSiteGroup& group : options_.whep_sites) {
      double offset_s = 0;
      for (const ProbeGroupRun& run : run_.groups) {
        if (run.name == group.name) offset_s = run.offset_s;
      }
      const std::string summary =
          WhepSummary(group, ReadFile(Out("logs/" + group.name + ".log")),
                      offset_s, &run_.problems);
      auto call = mint_calls_.find(group.edge);
      if (summary.empty() || call == mint_calls_.end()) continue;
      cascade::v1::SimAdminCall* mint =
          run_.control_plane.mutable_admin_calls(call->second);
      mint->set_detail(absl::StrCat(mint->detail(), "; ", summary));
      if (options_.console != nullptr) {
        *options_.console << "relay-sim: " << summary << std::endl;
      }
    }
  }

  const NetworkPlan& plan_;
  const SimOptions& options_;
  Supervisor supervisor_;
  SimRun run_;
  ProcessLayout layout_;
  ControlPlane control_plane_;
  RelayProcesses relays_;
  AdminCalls admin_;
  ScenarioSteps steps_;
  absl::Time started_;
  absl::Time media_start_;
  absl::Time relays_started_;
  absl::flat_hash_map<std::string, absl::Time> probes_started_;
  // By edge relay: the watch URL's token, and its MintEdgeToken call's index
  // in the report's admin calls.
  absl::flat_hash_map<std::string, cascade::v1::MintEdgeTokenResponse> minted_;
  absl::flat_hash_map<std::string, int> mint_calls_;
};

}  // namespace

absl::StatusOr<SimRun> RunSimulation(const NetworkPlan& plan,
                                     const SimOptions& options) {
  Simulation simulation(plan, options);
  return simulation.Run();
}

}  // namespace cascade::sim
