// The media's processes: the relay-probe groups (the sites), the warm-up
// until the tree is joined, and relay-source, each with its stream keys.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/files.h"
#include "tools/sim/files.h"
#include "tools/sim/metrics.h"
#include "tools/sim/sim_pki.h"
#include "tools/sim/simulation.h"

namespace cascade::sim {

std::vector<std::string> Simulation::WithStreamKeys(
    const std::string& holder, std::vector<std::string> argv) const {
  const SimPki pki(Out("pki"));
  if (!options_.srtp) return argv;
  if (!KeysFromController()) {
    argv.push_back("--srtp_key_file=" + pki.stream_key());
    return argv;
  }
  argv.insert(argv.end(),
              {"--controller=" + control_plane_.Addresses(),
               "--tls_ca=" + pki.ca(), "--tls_cert=" + pki.holder_cert(holder),
               "--tls_key=" + pki.holder_key(holder)});
  if (holder == kSourceHolder) {
    argv.push_back("--node=" + layout_.stream_source);
  }
  return argv;
}

absl::Status Simulation::StartProbes() {
  const absl::Time start = absl::Now();
  for (const ProbeGroupRun& group : run_.groups) {
    const std::string sites_file = Out("probes/" + group.name + ".sites");
    std::string lines;
    const std::vector<std::string>& members = layout_.members[group.name];
    for (size_t i = 0; i < members.size(); ++i) {
      absl::StrAppend(
          &lines,
          ProbeSitesLine(plan_, layout_, members[i], group.addresses[i]), "\n");
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
    absl::StatusOr<std::string> ports = WaitForFile(
        Out("ports/" + group.name + ".ports"), deadline, options_.interrupted);
    if (!ports.ok()) {
      return absl::DeadlineExceededError(
          absl::StrCat("relay-probe ", group.name, " did not bind (see ",
                       Out("logs/" + group.name + ".log"), ")"));
    }
    probes_started_[group.name] = absl::Now();
  }
  return absl::OkStatus();
}

absl::Status Simulation::WarmUp() {
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
      absl::StatusOr<std::string> text = relays_.Metrics(id, absl::Seconds(1));
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

absl::Status Simulation::StartSource() {
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

}  // namespace cascade::sim
