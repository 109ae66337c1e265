#include "tools/sim/relay_processes.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/text_format.h"
#include "tools/sim/files.h"
#include "tools/sim/metrics.h"
#include "tools/sim/standalone_config.h"

namespace cascade::sim {
namespace {

// relayd processes started before waiting for their ports (see StartAll).
constexpr size_t kRelayProcessWave = 64;
// How long reading a relay's metrics page may take.
constexpr absl::Duration kPageTimeout = absl::Seconds(2);
// How long a revived relay may take to bind.
constexpr absl::Duration kReviveTimeout = absl::Seconds(10);
// Relay counters summed into the report.
constexpr const char* kRelayMetrics[] = {
    "relay_stream_packets_in_total",
    "relay_stream_packets_out_total",
    "relay_nacks_received_total",
    "relay_nacks_answered_total",
    "relay_nacks_sent_total",
    "relay_nack_repaired_total",
    "relay_nack_gave_up_total",
    "relay_keyframe_requests_received_total",
    "relay_keyframe_requests_sent_total",
    "relay_keyframe_cache_packets_sent_total",
    "relay_activations_total",
    "relay_child_timeouts_total",
    "relay_drops_total",
    "relay_udp_send_errors_total"};

// The value after "key=" in a relayd port file, or 0.
int PortFileValue(const std::string& text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    int port = 0;
    if (absl::ConsumePrefix(&line, key) && absl::ConsumePrefix(&line, "=") &&
        absl::SimpleAtoi(line, &port)) {
      return port;
    }
  }
  return 0;
}

// Failovers and planned moves to another parent, from a relay's metrics.
int64_t ParentChangesIn(absl::string_view metrics) {
  return static_cast<int64_t>(
      MetricSum(metrics, "relay_parent_failovers_total") +
      MetricSum(metrics, "relay_parent_switches_total"));
}

std::string Host(const std::string& address) {
  return std::string(address.substr(0, address.rfind(':')));
}

}  // namespace

RelayProcesses::RelayProcesses(const NetworkPlan& plan, ProcessLayout* layout,
                               const RelayProcessOptions& options,
                               Supervisor* supervisor)
    : plan_(plan),
      layout_(layout),
      options_(options),
      supervisor_(supervisor) {}

std::string RelayProcesses::Out(const std::string& relative) const {
  return absl::StrCat(options_.out_dir, "/", relative);
}

std::string RelayProcesses::ProcessOf(const std::string& relay_id) const {
  const RelayProcessGroup& group =
      layout_->relay_groups[layout_->group_of_relay.at(relay_id)];
  return group.generation == 0
             ? "relayd " + group.name
             : absl::StrCat("relayd ", group.name, "#", group.generation);
}

absl::Status RelayProcesses::Start(const RelayProcessGroup& group) {
  const PlanRelay& first = *group.relays.front();
  const std::string port_file = Out("ports/" + group.name + ".ports");
  std::remove(port_file.c_str());
  std::vector<std::string> args = {
      options_.relayd, "--metrics=" + Host(first.address) + ":0",
      "--port_file=" + port_file,
      "--parent_timeout=" + absl::FormatDuration(options_.parent_timeout),
      "--keepalive=" + absl::FormatDuration(options_.keepalive)};
  const std::string log = Out("logs/" + group.name + ".log");
  if (!options_.controllers.empty()) {
    // Parents, children, keys and streams come from topologyd; the root
    // takes the stream from the source.
    args.insert(args.end(),
                {"--controller=" + options_.controllers,
                 "--tls_ca=" + options_.pki.ca(),
                 "--tls_cert=" + options_.pki.group_cert(group.name),
                 "--tls_key=" + options_.pki.group_key(group.name)});
    if (group.relays.size() == 1) {
      args.insert(args.end(),
                  {"--id=" + first.id, "--listen=" + first.address});
    } else {
      std::vector<std::string> specs;
      for (const PlanRelay* relay : group.relays) {
        specs.push_back(relay->id + "@" + relay->address);
      }
      args.push_back("--relays=" + absl::StrJoin(specs, ","));
    }
    if (first.parents.empty()) {
      args.push_back("--source=" + plan_.source_address);
    }
    // Plain HTTP (relayd allows it on loopback addresses): browsers come
    // through the bridge on the machine's 127.0.0.1, and their WebRTC media
    // to the bridge's UDP end, which the answers name.
    if (auto edge = layout_->browser_edges.find(first.id);
        edge != layout_->browser_edges.end()) {
      args.insert(args.end(), {"--edge=" + edge->second.listen,
                               "--edge_candidates=" + edge->second.media});
    }
    return supervisor_->Start(ProcessOf(first.id), "relayd", args, log);
  }
  const std::string config = Out("config/" + first.id + ".textproto");
  std::string text;
  auto extra = layout_->extra_children.find(first.id);
  google::protobuf::TextFormat::PrintToString(
      StandaloneConfig(plan_, first,
                       extra == layout_->extra_children.end()
                           ? std::vector<ExtraChild>{}
                           : extra->second),
      &text);
  if (absl::Status s = WriteFile(config, text); !s.ok()) return s;
  args.push_back("--config=" + config);
  return supervisor_->Start(ProcessOf(first.id), "relayd", args, log);
}

absl::Status RelayProcesses::WaitBound(const RelayProcessGroup& group,
                                       absl::Time deadline) {
  absl::StatusOr<std::string> ports = WaitForFile(
      Out("ports/" + group.name + ".ports"), deadline, options_.interrupted);
  if (!ports.ok()) {
    return absl::DeadlineExceededError(
        absl::StrCat("relayd ", group.name, " did not bind (see ",
                     Out("logs/" + group.name + ".log"), ")"));
  }
  const std::string address =
      absl::StrCat(Host(group.relays.front()->address), ":",
                   PortFileValue(*ports, "metrics"));
  for (const PlanRelay* relay : group.relays) {
    metrics_[relay->id] = {address, group.relays.size() == 1
                                        ? "/metrics"
                                        : "/metrics/" + relay->id};
  }
  return absl::OkStatus();
}

// In waves of processes: with a process per relay, 828 of them loading
// gRPC at once starved the machine (load average 650 at national scale);
// a bound wave keeps every start short. A wave of grouped processes
// registers up to a thousand relays at once, which topologyd takes in
// about 3 s.
absl::Status RelayProcesses::StartAll() {
  std::vector<RelayProcessGroup>& groups = layout_->relay_groups;
  for (size_t wave = 0; wave < groups.size(); wave += kRelayProcessWave) {
    const size_t end = std::min(groups.size(), wave + kRelayProcessWave);
    for (size_t i = wave; i < end; ++i) {
      if (absl::Status s = Start(groups[i]); !s.ok()) return s;
    }
    const absl::Time deadline = absl::Now() + options_.startup_timeout;
    for (size_t i = wave; i < end; ++i) {
      if (absl::Status s = WaitBound(groups[i], deadline); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status RelayProcesses::Revive(const std::string& relay_id) {
  RelayProcessGroup& group =
      layout_->relay_groups[layout_->group_of_relay.at(relay_id)];
  ++group.generation;
  if (absl::Status s = Start(group); !s.ok()) return s;
  return WaitBound(group, absl::Now() + kReviveTimeout);
}

absl::StatusOr<std::string> RelayProcesses::Metrics(const std::string& relay_id,
                                                    absl::Duration timeout) {
  auto page = metrics_.find(relay_id);
  if (page == metrics_.end()) {
    return absl::NotFoundError(absl::StrCat(relay_id, " serves no metrics"));
  }
  return HttpGet(page->second.address, page->second.path, timeout);
}

absl::flat_hash_map<std::string, int64_t> RelayProcesses::ParentChanges() {
  absl::flat_hash_map<std::string, int64_t> changes;
  for (const PlanRelay& relay : plan_.relays) {
    if (!supervisor_->Running(ProcessOf(relay.id))) continue;
    absl::StatusOr<std::string> text = Metrics(relay.id, kPageTimeout);
    if (text.ok()) changes[relay.id] = ParentChangesIn(*text);
  }
  return changes;
}

void RelayProcesses::CollectFinalMetrics(
    std::map<std::string, double>* sums,
    absl::flat_hash_map<std::string, int64_t>* parent_changes,
    std::vector<std::string>* problems) {
  for (const PlanRelay& relay : plan_.relays) {
    if (!supervisor_->Running(ProcessOf(relay.id))) continue;
    absl::StatusOr<std::string> text = Metrics(relay.id, kPageTimeout);
    if (!text.ok()) {
      problems->push_back(
          absl::StrCat("metrics of ", relay.id, ": ", text.status().message()));
      continue;
    }
    WriteFile(Out("metrics/" + relay.id + ".prom"), *text).IgnoreError();
    for (const char* name : kRelayMetrics) {
      (*sums)[name] += MetricSum(*text, name);
    }
    (*parent_changes)[relay.id] = ParentChangesIn(*text);
  }
}

}  // namespace cascade::sim
