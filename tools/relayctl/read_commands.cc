#include "tools/relayctl/read_commands.h"

#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/files.h"
#include "google/protobuf/struct.pb.h"
#include "proto/controller.grpc.pb.h"
#include "tools/relayctl/prometheus.h"
#include "tools/relayctl/sdp.h"

namespace cascade::relayctl {
namespace {

using cascade::v1::Admin;

std::string ShortName(const std::string& enum_name) {
  size_t underscore = enum_name.find('_');
  return absl::AsciiStrToLower(underscore == std::string::npos
                                   ? enum_name
                                   : enum_name.substr(underscore + 1));
}

std::string TierName(cascade::v1::Tier tier) {
  return ShortName(cascade::v1::Tier_Name(tier));
}

std::string StatusName(cascade::v1::NodeStatus status) {
  return ShortName(cascade::v1::NodeStatus_Name(status));
}

std::string Parents(const cascade::v1::NodeView& node) {
  return node.parents().empty() ? "-" : absl::StrJoin(node.parents(), ",");
}

void PrintEvent(Session& session, const cascade::v1::Event& event) {
  if (session.options().json) {
    session.PrintJson(event);
  } else {
    session.out() << absl::FormatTime("%H:%M:%E3S",
                                      absl::FromUnixMillis(event.unix_ms()),
                                      absl::UTCTimeZone())
                  << " "
                  << ShortName(cascade::v1::Event::Kind_Name(event.kind()))
                  << (event.node_id().empty() ? "" : " " + event.node_id())
                  << " " << event.detail() << "\n";
  }
  session.out().flush();
}

}  // namespace

int Tree(Session& session, const std::string& root) {
  cascade::v1::GetTopologyResponse topology;
  int code = kExitDone;
  if (!session.GetTopology(root, &topology, &code)) return code;
  if (session.options().json) {
    session.PrintJson(topology);
    return kExitDone;
  }
  std::map<std::string, std::vector<const cascade::v1::NodeView*>> children;
  std::vector<const cascade::v1::NodeView*> tops, orphans;
  for (const auto& node : topology.nodes()) {
    if (node.id() == root || (root.empty() && node.parents().empty())) {
      (node.orphan() ? orphans : tops).push_back(&node);
    } else if (!node.parents().empty()) {
      children[node.parents(0)].push_back(&node);
    }
  }
  // Tiers bound the depth, so plain recursion is safe.
  std::function<void(const cascade::v1::NodeView*, int)> print =
      [&](const cascade::v1::NodeView* node, int depth) {
        session.out() << std::string(2 * depth, ' ') << node->id() << " ["
                      << TierName(node->tier()) << ", "
                      << StatusName(node->status())
                      << (node->parents_size() > 1
                              ? ", standby " +
                                    absl::StrJoin(node->parents().begin() + 1,
                                                  node->parents().end(), ",")
                              : "")
                      << "]\n";
        for (const auto* child : children[node->id()]) {
          print(child, depth + 1);
        }
      };
  for (const auto* top : tops) print(top, 0);
  if (!orphans.empty()) {
    session.out() << "orphans (no usable parent):\n";
    for (const auto* orphan : orphans) print(orphan, 1);
  }
  return kExitDone;
}

int Nodes(Session& session) {
  cascade::v1::GetTopologyResponse topology;
  int code = kExitDone;
  if (!session.GetTopology("", &topology, &code)) return code;
  if (session.options().json) {
    // Only the node list: {"nodes": [...]}.
    topology.clear_streams();
    topology.clear_state_sequence();
    session.PrintJson(topology);
    return kExitDone;
  }
  session.out() << absl::StrFormat("%-28s %-10s %-9s %s\n", "ID", "TIER",
                                   "STATUS", "PARENTS");
  for (const auto& node : topology.nodes()) {
    session.out() << absl::StrFormat("%-28s %-10s %-9s %s\n", node.id(),
                                     TierName(node.tier()),
                                     StatusName(node.status()), Parents(node));
  }
  return kExitDone;
}

int Show(Session& session, const std::string& id) {
  cascade::v1::NodeView node;
  int code = kExitDone;
  if (!session.GetNode(id, &node, &code)) return code;
  if (session.options().json) {
    session.PrintJson(node);
    return kExitDone;
  }
  session.out()
      << "id:               " << node.id() << "\n"
      << "tier:             " << TierName(node.tier()) << "\n"
      << "role:             " << ShortName(cascade::v1::Role_Name(node.role()))
      << "\n"
      << "status:           " << StatusName(node.status())
      << (node.orphan() ? " (orphan)" : "")
      << (node.status() == cascade::v1::STATUS_HOLD_DOWN
              ? absl::StrCat(" (children again in ", node.hold_down_ms_left(),
                             " ms)")
              : "")
      << (node.recent_expiries() > 0
              ? absl::StrCat(", ", node.recent_expiries(),
                             " recent lease expiries")
              : "")
      << "\n"
      << "media address:    " << node.media_address()
      << (node.plain_endpoint() ? " (plain endpoint)" : "")
      << (node.audio_address().empty()
              ? ""
              : absl::StrCat(", audio at ", node.audio_address()))
      << "\n"
      << (node.edge_address().empty()
              ? ""
              : "edge address:     " + node.edge_address() + "\n")
      << "parents:          " << Parents(node) << "\n"
      << "desired parent:   "
      << (node.desired_parent().empty() ? "-" : node.desired_parent()) << "\n"
      << "active children:  " << node.active_children_size() << "\n"
      << "standby children: " << node.standby_children_size() << "\n"
      << "capacity:         " << node.capacity().max_children() << " children, "
      << node.capacity().uplink_kbps() << " kbps\n"
      << "assignment:       version " << node.assignment_version() << ", acked "
      << node.acked_version()
      << (node.ack_error().empty() ? "" : " (error: " + node.ack_error() + ")")
      << "\n"
      << "last report:      "
      << (node.last_report_ms_ago() < 0
              ? std::string("never")
              : absl::StrCat(node.last_report_ms_ago(), " ms ago"))
      << "\n";
  if (node.upstream_selected()) session.out() << "upstream:         selected\n";
  return kExitDone;
}

int Stats(Session& session) {
  cascade::v1::StatsResponse stats;
  grpc::Status status =
      session.Read([&](Admin::Stub* stub, grpc::ClientContext* context) {
        return stub->GetStats(context, cascade::v1::StatsRequest(), &stats);
      });
  if (!status.ok()) return session.Fail(status);
  if (session.options().json) {
    session.PrintJson(stats);
    return kExitDone;
  }
  session.out() << "nodes:             " << stats.nodes() << " ("
                << stats.nodes_up() << " up, " << stats.nodes_down()
                << " down/drained/failed, " << stats.nodes_unknown()
                << " never seen)\n"
                << "orphans:           " << stats.orphans() << "\n"
                << "watchers:          " << stats.watchers() << "\n"
                << "upstream selected: " << stats.upstream_selected() << "\n"
                << "state sequence:    " << stats.state_sequence() << "\n"
                << "assignments pushed:"
                << " " << stats.assignments_pushed() << "\n"
                << "journal records:   " << stats.journal_records()
                << " since the last snapshot\n";
  if (stats.journal_discarded_bytes() > 0) {
    session.out() << "journal recovery:  " << stats.journal_recovery_note()
                  << "\n";
  }
  return kExitDone;
}

int Events(Session& session) {
  grpc::Status status = session.FollowEvents(
      [&](const cascade::v1::Event& event) { PrintEvent(session, event); });
  return status.ok() ? kExitDone : session.Fail(status);
}

int Sdp(Session& session, const std::string& site) {
  cascade::v1::GetTopologyResponse topology;
  int code = kExitDone;
  if (!session.GetTopology(site, &topology, &code)) return code;
  absl::StatusOr<std::string> sdp =
      SiteSdp(topology.nodes(0), topology.streams());
  if (!sdp.ok()) {
    return session.Fail(kExitRefused, std::string(sdp.status().message()));
  }
  if (!session.options().out.empty()) {
    // A player started meanwhile never reads half a file.
    absl::Status written = WriteFileAtomically(session.options().out, *sdp);
    if (!written.ok()) {
      return session.Fail(kExitFailed, std::string(written.message()));
    }
  }
  if (session.options().json) {
    google::protobuf::Struct result;
    (*result.mutable_fields())["site"].set_string_value(site);
    (*result.mutable_fields())["sdp"].set_string_value(*sdp);
    session.PrintJson(result);
  } else if (session.options().out.empty()) {
    session.out() << *sdp;
  }
  return kExitDone;
}

int Prometheus(Session& session) {
  cascade::v1::GetTopologyResponse topology;
  int code = kExitDone;
  return session.GetTopology("", &topology, &code)
             ? WritePrometheus(session.options(), topology, session.out(),
                               session.err())
             : code;
}

}  // namespace cascade::relayctl
