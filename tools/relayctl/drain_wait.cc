#include "tools/relayctl/drain_wait.h"

#include <cstdint>
#include <ostream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "proto/controller.grpc.pb.h"

namespace cascade::relayctl {
namespace {

using cascade::v1::Admin;

// One child the drain moved, as the wait last saw it.
struct MovedChild {
  std::string id;
  std::string parent;  // its new active parent; empty if orphaned
  std::string receiving_from;
  bool confirmed = false;
  std::string note;
};

}  // namespace

int DrainAndWait(Session& session, const std::string& id) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + session.options().timeout;
  cascade::v1::NodeView before;
  int code = kExitDone;
  if (!session.GetNode(id, &before, &code)) return code;
  cascade::v1::DrainNodeRequest request;
  request.set_id(id);
  cascade::v1::ChangeResponse response;
  grpc::Status status =
      session.Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
        return stub->DrainNode(context, request, &response);
      });
  if (!status.ok()) return session.Fail(status);
  const absl::Time drained = absl::Now();

  std::vector<MovedChild> children;
  for (const std::string& child : before.active_children()) {
    children.emplace_back().id = child;
  }
  cascade::v1::NodeView node;
  bool empty = false;
  bool node_fresh = false;
  while (true) {
    if (!session.GetNode(id, &node, &code)) return code;
    // Only a report sent after the drain counts.
    node_fresh =
        node.last_report_ms_ago() >= 0 &&
        absl::Milliseconds(node.last_report_ms_ago()) <= absl::Now() - drained;
    empty = node_fresh && node.stats().active_children() == 0;
    for (MovedChild& child : children) {
      cascade::v1::NodeView view;
      if (!session.GetNode(child.id, &view, &code)) return code;
      child.parent = view.parents().empty() ? "" : view.parents(0);
      child.receiving_from = view.stats().receiving_from();
      child.note.clear();
      if (view.plain_endpoint()) {
        child.note = "plain endpoint: cannot report";
      } else if (view.status() == cascade::v1::STATUS_DOWN ||
                 view.status() == cascade::v1::STATUS_UNKNOWN) {
        child.note = "not reporting";
      } else if (child.parent.empty()) {
        child.note = "no usable parent (orphan)";
      }
      child.confirmed =
          !child.parent.empty() && child.receiving_from == child.parent;
      const bool blocks =
          !child.confirmed && (child.note.empty() || child.parent.empty());
      empty &= !blocks;
    }
    if (empty || absl::Now() + session.options().poll_interval > deadline)
      break;
    absl::SleepFor(session.options().poll_interval);
  }

  const int64_t waited_ms = absl::ToInt64Milliseconds(absl::Now() - start);
  if (session.options().json) {
    google::protobuf::Struct result;
    auto& fields = *result.mutable_fields();
    fields["node"].set_string_value(id);
    fields["empty"].set_bool_value(empty);
    fields["waited_ms"].set_number_value(waited_ms);
    fields["state_sequence"].set_number_value(response.state_sequence());
    fields["assignments_changed"].set_number_value(
        response.assignments_changed());
    fields["active_children"].set_number_value(
        node_fresh ? node.stats().active_children() : -1);
    auto* list = fields["children"].mutable_list_value();
    for (const MovedChild& child : children) {
      auto& c = *list->add_values()->mutable_struct_value()->mutable_fields();
      c["id"].set_string_value(child.id);
      c["parent"].set_string_value(child.parent);
      c["receiving_from"].set_string_value(child.receiving_from);
      c["confirmed"].set_bool_value(child.confirmed);
      c["note"].set_string_value(child.note);
    }
    session.PrintJson(result);
  } else {
    for (const MovedChild& child : children) {
      session.out() << "  " << child.id << " -> "
                    << (child.parent.empty() ? "-" : child.parent)
                    << (child.confirmed ? " (receiving)" : "")
                    << (child.note.empty() ? "" : " (" + child.note + ")")
                    << "\n";
    }
    if (empty) session.out() << id << " is empty\n";
  }
  if (empty) return kExitDone;
  std::vector<std::string> pending;
  if (!node_fresh) {
    pending.push_back(id + " has not reported since the drain");
  } else if (node.stats().active_children() > 0) {
    pending.push_back(absl::StrCat(
        id, " still serves ", node.stats().active_children(), " children"));
  }
  for (const MovedChild& child : children) {
    if (child.confirmed || (!child.note.empty() && !child.parent.empty())) {
      continue;
    }
    pending.push_back(child.parent.empty()
                          ? child.id + " has no usable parent"
                          : absl::StrCat(child.id, " receives from ",
                                         child.receiving_from.empty()
                                             ? "nothing"
                                             : child.receiving_from,
                                         ", not ", child.parent));
  }
  return session.Fail(
      kExitTimeout,
      absl::StrCat(id, " not empty after ",
                   absl::FormatDuration(session.options().timeout), ": ",
                   absl::StrJoin(pending, "; ")));
}

}  // namespace cascade::relayctl
