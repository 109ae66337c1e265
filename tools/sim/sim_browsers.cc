// The browser edges: watch URLs minted for a person's browser, the WHEP
// viewers (relay-probe --whep) on them, and what those viewers saw.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "tools/sim/browser_edge.h"
#include "tools/sim/files.h"
#include "tools/sim/private_network.h"
#include "tools/sim/simulation.h"
#include "tools/sim/whep_sites.h"

namespace cascade::sim {
namespace {

// A watch URL's token outlives the media by this: the warm-up before it
// and the end after it.
constexpr absl::Duration kWatchUrlMargin = absl::Minutes(5);

}  // namespace

absl::Status Simulation::MintWatchUrls() {
  if (options_.browser_edges.empty()) return absl::OkStatus();
  absl::StatusOr<cascade::v1::GetTopologyResponse> view = admin_.GetTopology();
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

absl::Status Simulation::StartWhepSites() {
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

void Simulation::SummarizeWhepSites() {
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

}  // namespace cascade::sim
