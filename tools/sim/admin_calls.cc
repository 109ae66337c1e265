#include "tools/sim/admin_calls.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "control/controllers.h"

namespace cascade::sim {
namespace {

constexpr absl::Duration kAdminDeadline = absl::Seconds(3);
// The longest wait for relays to ack a change's assignments, or to report
// to a new leader.
constexpr absl::Duration kPushTimeout = absl::Seconds(10);
// How often the controller is asked about the relays' acks and reports:
// the resolution of assignment_push_ms.
constexpr absl::Duration kAckPoll = absl::Milliseconds(100);
constexpr absl::Duration kLeaderPoll = absl::Milliseconds(50);
// Beyond the leader's lease: etcd expiring it, a campaign, the new leader
// recovering the state from etcd.
constexpr absl::Duration kTakeoverMargin = absl::Seconds(15);

// What registers and reports: neither the sites nor a plain endpoint (the
// command center that relay-source plays).
bool IsRelay(const cascade::v1::NodeView& node) {
  return node.tier() != cascade::v1::TIER_SITE && !node.plain_endpoint();
}

AssignmentVersions RelayVersions(
    const cascade::v1::GetTopologyResponse& topology) {
  AssignmentVersions versions;
  for (const cascade::v1::NodeView& node : topology.nodes()) {
    if (IsRelay(node)) {
      versions[node.id()] = node.assignment_version();
    }
  }
  return versions;
}

}  // namespace

AdminCalls::AdminCalls(ControlPlane* control_plane, bool assignments_pushed,
                       cascade::v1::SimControlPlane* record,
                       SleepUntil sleep_until)
    : control_plane_(control_plane),
      assignments_pushed_(assignments_pushed),
      record_(record),
      sleep_until_(std::move(sleep_until)) {}

grpc::Status AdminCalls::CallLeader(const Rpc& rpc) {
  grpc::Status status;
  for (int attempt = 0; attempt < 2; ++attempt) {
    cascade::v1::Admin::Stub* leader = control_plane_->Leader();
    if (leader == nullptr) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          control_plane_->on_etcd()
                              ? "no topologyd leads"
                              : "topologyd is not running");
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         absl::ToChronoMilliseconds(kAdminDeadline));
    status = rpc(leader, &context);
    if (status.ok() || !control::RedirectOf(context).not_leader) break;
    control_plane_->ForgetLeader();
  }
  return status;
}

absl::StatusOr<cascade::v1::GetTopologyResponse> AdminCalls::GetTopology() {
  cascade::v1::GetTopologyResponse response;
  grpc::Status status = CallLeader(
      [&](cascade::v1::Admin::Stub* admin, grpc::ClientContext* context) {
        return admin->GetTopology(context, cascade::v1::GetTopologyRequest(),
                                  &response);
      });
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("GetTopology: ", status.error_message()));
  }
  return response;
}

absl::StatusOr<int> AdminCalls::WaitForAcks(const AssignmentVersions& before,
                                            absl::Time deadline, bool all_up) {
  while (true) {
    absl::StatusOr<cascade::v1::GetTopologyResponse> topology = GetTopology();
    int changed = 0;
    int pending = 0;
    int orphans = 0;
    if (topology.ok()) {
      for (const cascade::v1::NodeView& node : topology->nodes()) {
        // A relay that came up late leaves its sites without a parent
        // until topologyd's next recompute, acked or not.
        if (all_up && node.orphan()) ++orphans;
        if (!IsRelay(node)) continue;
        if (all_up && node.status() != cascade::v1::STATUS_UP) ++pending;
        auto was = before.find(node.id());
        if (was != before.end() && was->second == node.assignment_version()) {
          continue;
        }
        ++changed;
        if (node.acked_version() != node.assignment_version() ||
            node.assignment_version() == 0) {
          ++pending;
        }
      }
      if (pending == 0 && orphans == 0) return changed;
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          topology.ok() ? absl::StrCat(pending, " of ", changed,
                                       " relays had not acked; ", orphans,
                                       " nodes had no parent")
                        : std::string(topology.status().message()));
    }
    // Sleeping with the run: a controller may need its restart meanwhile.
    if (absl::Status s = sleep_until_(absl::Now() + kAckPoll); !s.ok()) {
      return s;
    }
  }
}

AdminCalls::ChangeResult AdminCalls::Change(const std::string& label,
                                            const std::string& call,
                                            const Rpc& rpc, std::string* detail,
                                            absl::Time* called) {
  ChangeResult result;
  cascade::v1::SimAdminCall* record = record_->add_admin_calls();
  record->set_label(label);
  record->set_call(call);
  // Under a controller the change is pushed to the relays: the versions
  // before it tell which relays it reached.
  absl::StatusOr<cascade::v1::GetTopologyResponse> before =
      assignments_pushed_ ? GetTopology()
                          : absl::StatusOr<cascade::v1::GetTopologyResponse>(
                                absl::UnimplementedError("standalone"));
  const absl::Time start = absl::Now();
  if (called != nullptr) *called = start;
  grpc::Status status = CallLeader(rpc);
  record->set_ms(absl::ToDoubleMilliseconds(absl::Now() - start));
  record->set_ok(status.ok());
  result.accepted = status.ok();
  *detail = status.ok() ? "accepted by topologyd"
                        : absl::StrCat("topologyd: ", status.error_message());
  if (status.ok() && before.ok()) {
    absl::StatusOr<int> acked =
        WaitForAcks(RelayVersions(*before), absl::Now() + kPushTimeout);
    const double push_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
    if (acked.ok()) result.relays_changed = *acked;
    if (acked.ok() && *acked == 0) {
      absl::StrAppend(detail, "; no relay's assignment changed");
    } else if (acked.ok()) {
      record_->add_assignment_push_ms(push_ms);
      absl::StrAppendFormat(detail,
                            "; %d relays applied and acked their new "
                            "assignments %.0f ms after the call",
                            *acked, push_ms);
    } else {
      absl::StrAppend(detail, "; not every relay acked within ",
                      absl::FormatDuration(kPushTimeout), ": ",
                      acked.status().message());
    }
  }
  record->set_detail(*detail);
  return result;
}

bool AdminCalls::AwaitTakeover(absl::Duration leader_ttl, int relays,
                               std::string* detail) {
  const absl::Time deadline = absl::Now() + leader_ttl + kTakeoverMargin;
  while (control_plane_->TakeoverPending() && absl::Now() < deadline) {
    if (!sleep_until_(absl::Now() + kLeaderPoll).ok()) break;
  }
  if (control_plane_->TakeoverPending()) {
    absl::StrAppend(detail, "; no other controller led within ",
                    absl::FormatDuration(leader_ttl + kTakeoverMargin));
    return false;
  }
  const LeaderChange& change = control_plane_->leader_changes().back();
  absl::StrAppendFormat(detail,
                        "; %s took over %.0f ms after it (state "
                        "sequence %d)",
                        change.to, absl::ToDoubleMilliseconds(change.takeover),
                        change.state_sequence);
  // The relays move to the new leader by themselves (their controller
  // lists) and report to it.
  const absl::Time fault = change.at - change.takeover;
  const absl::Time reports_due = absl::Now() + kPushTimeout;
  int silent = relays;
  while (silent > 0 && absl::Now() < reports_due) {
    absl::StatusOr<cascade::v1::GetTopologyResponse> topology = GetTopology();
    if (topology.ok()) {
      silent = 0;
      for (const cascade::v1::NodeView& node : topology->nodes()) {
        if (IsRelay(node) && node.last_report_ms_ago() < 0) {
          ++silent;
        }
      }
    }
    // Sleeping with the run: the stalled controller continues meanwhile.
    if (silent > 0 && !sleep_until_(absl::Now() + kAckPoll).ok()) break;
  }
  if (silent > 0) {
    absl::StrAppendFormat(detail, "; %d relays had not reported to it %s later",
                          silent, absl::FormatDuration(kPushTimeout));
    return false;
  }
  control_plane_->NoteRelaysBack(absl::Now() - fault);
  absl::StrAppendFormat(detail,
                        "; every relay reported to it %.0f ms after the fault",
                        absl::ToDoubleMilliseconds(absl::Now() - fault));
  return true;
}

}  // namespace cascade::sim
