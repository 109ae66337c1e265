#include "relay/controller_link.h"

#include <glog/logging.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "relay/assignment.h"

namespace cascade::relay {
namespace {

// Long enough for a loaded loop; a report without stats still renews the
// lease.
constexpr absl::Duration kStatsTimeout = absl::Seconds(2);

}  // namespace

cascade::v1::RelayStats StatsOf(const RelayCore& core) {
  cascade::v1::RelayStats stats;
  const RelayOptions& options = core.options();
  for (const StreamOptions& s : options.streams) {
    const StreamCounters* c = core.stream_counters(s.ssrc);
    if (c == nullptr) continue;
    stats.set_packets_in(stats.packets_in() + c->packets_in);
    stats.set_packets_out(stats.packets_out() + c->packets_out);
    stats.set_bytes_in(stats.bytes_in() + c->bytes_in);
    stats.set_bytes_out(stats.bytes_out() + c->bytes_out);
    stats.set_nacks_sent(stats.nacks_sent() + c->nacks_sent);
    stats.set_retransmissions(stats.retransmissions() + c->nacks_answered);
  }
  stats.set_drops(core.total_drops());
  stats.set_active_children(
      static_cast<uint32_t>(core.ActiveChildren().size()));
  if (core.parent_index() < options.parents.size()) {
    stats.set_receiving_from(options.parents[core.parent_index()].id);
  }
  for (std::string& id : core.SilentChildren()) {
    stats.add_silent_children(std::move(id));
  }
  return stats;
}

ControllerLink::ControllerLink(ControllerLinkOptions options,
                               RelayServer* server, RelayInstance* relay)
    : local_(std::move(options.local)), server_(server), relay_(relay) {
  options.client.stats = [this] { return Stats(); };
  client_ =
      std::make_unique<control::RelayClient>(std::move(options.client), this);
}

ControllerLink::~ControllerLink() { Stop(); }

void ControllerLink::Start() { client_->Start(); }

void ControllerLink::Stop() { client_->Stop(); }

absl::Status ControllerLink::OnAssignment(
    const cascade::v1::Assignment& assignment) {
  absl::StatusOr<RelayOptions> options =
      AssignmentToOptions(assignment, local_);
  if (!options.ok()) {
    LOG(WARNING) << relay_->id() << ": refusing " << options.status().message()
                 << "; keeping the running settings";
    return options.status();
  }
  // No parent in the plan (an orphan, e.g. of a new leader still learning
  // which relays are up) and none configured here: keep the running ones.
  // The control plane must never cut a relay off from its media.
  const bool keep_parents = options->parents.empty();
  auto shared = std::make_shared<RelayOptions>(*std::move(options));
  RelayInstance* relay = relay_;
  // Acked only once applied, NACKed only if never applied: no timeout, so
  // a slow loop delays the ack instead of NACKing what it applies later.
  // False only when the relay is stopping and dropped the work unrun.
  RelayServer* server = server_;
  if (!server_->dispatcher().PostAndWait([server, relay, shared, keep_parents] {
        if (keep_parents) shared->parents = relay->core().options().parents;
        relay->Apply(*shared);
        server->AssignmentApplied(relay);
      })) {
    return absl::UnavailableError(absl::StrCat(
        "assignment version ", assignment.version(), ": relay stopping"));
  }
  LOG(INFO) << relay_->id() << ": applied assignment version "
            << assignment.version() << ": " << shared->parents.size()
            << " parents" << (keep_parents ? " (none assigned: kept)" : "")
            << ", " << shared->children.size() << " children, "
            << shared->streams.size() << " streams";
  return absl::OkStatus();
}

cascade::v1::RelayStats ControllerLink::Stats() {
  auto stats = std::make_shared<cascade::v1::RelayStats>();
  RelayInstance* relay = relay_;
  // Unanswered: an empty report still renews the lease.
  if (!server_->dispatcher().PostAndWait(
          [relay, stats] { *stats = StatsOf(relay->core()); }, kStatsTimeout)) {
    return {};
  }
  return *stats;
}

}  // namespace cascade::relay
