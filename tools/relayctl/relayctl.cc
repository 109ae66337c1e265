#include "tools/relayctl/relayctl.h"

#include <functional>
#include <map>
#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/files.h"
#include "control/controllers.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/text_format.h"
#include "proto/controller.grpc.pb.h"
#include "tools/relayctl/commands.h"
#include "tools/relayctl/json_line.h"
#include "tools/relayctl/prometheus.h"
#include "tools/relayctl/sdp.h"
#include "topology/topology_file.h"

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

int ExitCodeFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return kExitDone;
    case grpc::StatusCode::NOT_FOUND:
      return kExitNotFound;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
      return kExitRefused;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return kExitDenied;
    default:
      return kExitFailed;
  }
}

// How long connecting to one controller may take before the next is tried.
constexpr absl::Duration kConnectTimeout = absl::Seconds(3);
// events over a group: feeds in a row that may end with nothing delivered
// before relayctl gives up.
constexpr int kMaxEmptyFeeds = 5;
// Pauses between passes over a controller list that all failed.
constexpr absl::Duration kFirstPause = absl::Milliseconds(50);
constexpr absl::Duration kLongestPause = absl::Seconds(1);

// Connects (bounded by `deadline`); false when the controller refuses the
// connection or does not answer in time.
bool Connect(grpc::Channel* channel, absl::Time deadline) {
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE ||
        state == GRPC_CHANNEL_SHUTDOWN ||
        !channel->WaitForStateChange(state, absl::ToChronoTime(deadline))) {
      return false;
    }
    state = channel->GetState(/*try_to_connect=*/true);
  }
  return true;
}

class Session {
 public:
  // `controllers` is options.controller parsed (not empty).
  Session(const Options& options, std::vector<std::string> controllers,
          std::ostream& out, std::ostream& err)
      : options_(options),
        single_(controllers.size() == 1),
        targets_(std::move(controllers)),
        out_(out),
        err_(err) {}

  int Run(const std::string& name, const std::vector<std::string>& operands) {
    command_ = name;
    if (name == "tree") return Tree(operands.empty() ? "" : operands[0]);
    if (name == "nodes") return Nodes();
    if (name == "show") return Show(operands[0]);
    if (name == "apply") return Apply(operands[0]);
    if (name == "add") return Add(operands[0]);
    if (name == "stats") return Stats();
    if (name == "events") return Events();
    if (name == "sdp") return Sdp(operands[0]);
    if (name == "token revoke") return RevokeToken(operands);
    if (name == "url") return Url(operands);
    if (name == "prometheus") {
      cascade::v1::GetTopologyResponse topology;
      int code = kExitDone;
      return GetTopology("", &topology, &code)
                 ? WritePrometheus(options_, topology, out_, err_)
                 : code;
    }
    if (name == "rotate-edge-key") return RotateEdgeKey();
    if (name == "rotate-keys") {
      return RotateLinkKeys(operands.empty() ? "" : operands[0]);
    }
    if (name == "stream-key rotate") {
      return RotateStreamKey(operands.empty() ? "" : operands[0]);
    }
    if (name == "drain" && options_.wait) return DrainAndWait(operands[0]);
    if (name == "move" && options_.parent.empty()) {
      return Fail(kExitUsage, "--parent is required");
    }
    cascade::v1::ChangeResponse response;
    grpc::Status status;
    const std::string& id = operands[0];
    if (name == "remove") {
      cascade::v1::RemoveNodeRequest request;
      request.set_id(id);
      status = Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
        return stub->RemoveNode(context, request, &response);
      });
    } else if (name == "move") {
      cascade::v1::MoveNodeRequest request;
      request.set_id(id);
      request.set_new_parent(options_.parent);
      status = Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
        return stub->MoveNode(context, request, &response);
      });
    } else if (name == "drain") {
      cascade::v1::DrainNodeRequest request;
      request.set_id(id);
      status = Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
        return stub->DrainNode(context, request, &response);
      });
    } else if (name == "failover") {
      cascade::v1::FailoverRequest request;
      request.set_id(id);
      status = Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
        return stub->Failover(context, request, &response);
      });
    } else if (name == "restore") {
      cascade::v1::RestoreRequest request;
      request.set_id(id);
      if (options_.policy == "revertive") {
        request.set_policy(cascade::v1::RESTORE_REVERTIVE);
      } else if (options_.policy == "non-revertive") {
        request.set_policy(cascade::v1::RESTORE_NON_REVERTIVE);
      } else if (!options_.policy.empty()) {
        return Fail(kExitUsage, "--policy must be revertive or non-revertive");
      }
      status = Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
        return stub->Restore(context, request, &response);
      });
    } else if (name == "select" || name == "release") {
      cascade::v1::UpstreamRequest request;
      request.set_site(id);
      status = Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
        return name == "select"
                   ? stub->SelectUpstream(context, request, &response)
                   : stub->ReleaseUpstream(context, request, &response);
      });
    }
    if (!status.ok()) return Fail(status);
    return PrintChange(response, absl::StrCat(name, " ", id));
  }

 private:
  using Rpc = std::function<grpc::Status(Admin::Stub*, grpc::ClientContext*)>;

  std::unique_ptr<grpc::ClientContext> Context(
      absl::Time deadline = absl::InfiniteFuture()) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (deadline != absl::InfiniteFuture()) {
      context->set_deadline(absl::ToChronoTime(deadline));
    }
    if (!options_.admin_token.empty()) {
      context->AddMetadata("authorization", "Bearer " + options_.admin_token);
    }
    return context;
  }

  struct Connection {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<Admin::Stub> stub;
  };

  Connection* ControllerAt(const std::string& controller) {
    Connection& connection = connections_[controller];
    if (connection.channel == nullptr) {
      // Whole trees exceed gRPC's 4 MB default (topologyd's kMaxSendBytes);
      // what topologyd takes is its --max-receive-size.
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(64 << 20);
      args.SetMaxSendMessageSize(64 << 20);
      connection.channel = grpc::CreateCustomChannel(
          controller,
          options_.credentials != nullptr ? options_.credentials
                                          : grpc::InsecureChannelCredentials(),
          args);
      connection.stub = Admin::NewStub(connection.channel);
    }
    return &connection;
  }

  // A read: safe to repeat on another controller after any failure to
  // reach one.
  grpc::Status Read(const Rpc& rpc) { return Call(rpc, /*repeatable=*/true); }
  // A change: sent elsewhere only when it surely was not applied (the
  // controller could not be reached, or refused because it does not lead).
  // A connection lost during the call leaves its outcome unknown: reported,
  // never repeated, so no change is applied twice.
  grpc::Status Change(const Rpc& rpc) {
    return Call(rpc, /*repeatable=*/false);
  }

  // Calls the leader among the controllers, following redirects, within
  // --timeout in all.
  grpc::Status Call(const Rpc& rpc, bool repeatable) {
    const absl::Time deadline = absl::Now() + options_.timeout;
    absl::Duration pause = kFirstPause;
    grpc::Status status;
    while (true) {
      const std::string controller = targets_.current();
      Connection* connection = ControllerAt(controller);
      std::string leader;
      // One controller: the call itself says why it cannot connect.
      if (!single_ &&
          !Connect(connection->channel.get(),
                   std::min(deadline, absl::Now() + kConnectTimeout))) {
        status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "cannot connect to " + controller);
      } else {
        auto context = Context(deadline);
        status = rpc(connection->stub.get(), context.get());
        if (status.ok()) {
          targets_.Succeeded();
          return status;
        }
        // Refused for this caller's rate, nothing done: again once it may.
        const absl::Duration retry_after = control::RetryAfterOf(*context);
        if (retry_after > absl::ZeroDuration() &&
            absl::Now() + retry_after < deadline) {
          absl::SleepFor(retry_after);
          continue;
        }
        const control::Redirect redirect = control::RedirectOf(*context);
        const bool elsewhere =
            redirect.not_leader ||
            (!single_ && repeatable &&
             (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
              status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED));
        if (!elsewhere) {
          if (!single_ && !repeatable &&
              status.error_code() == grpc::StatusCode::UNAVAILABLE) {
            return grpc::Status(
                status.error_code(),
                absl::StrCat("connection to ", controller,
                             " lost during the call; the change may or may "
                             "not have been applied: ",
                             status.error_message()));
          }
          return status;
        }
        leader = redirect.leader;
      }
      if (targets_.Failed(leader)) {
        // One controller: no other to wait for, fail at once as ever.
        if (single_) break;
        const absl::Duration left = deadline - absl::Now();
        if (left <= absl::ZeroDuration()) break;
        absl::SleepFor(std::min(pause, left));
        pause = std::min(pause * 2, kLongestPause);
      }
      if (absl::Now() >= deadline) break;
    }
    if (single_) return status;
    return grpc::Status(status.error_code() == grpc::StatusCode::OK
                            ? grpc::StatusCode::UNAVAILABLE
                            : status.error_code(),
                        absl::StrCat("controller ", options_.controller,
                                     " unreachable or without a leader for ",
                                     absl::FormatDuration(options_.timeout),
                                     " (last: ", status.error_message(), ")"));
  }

  int Fail(int code, const std::string& message) {
    err_ << "relayctl: " << command_ << ": " << message << "\n";
    return code;
  }
  int Fail(const grpc::Status& status) {
    std::string message = status.error_message();
    if (single_ &&
        (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
      message = absl::StrCat("controller ", options_.controller,
                             " unreachable: ", message);
    }
    if (absl::StrContains(message, "Socket closed") &&
        !options_.handshake_hint.empty()) {
      absl::StrAppend(&message, " (", options_.handshake_hint, ")");
    }
    return Fail(ExitCodeFor(status.error_code()), message);
  }

  void PrintJson(const google::protobuf::Message& message) {
    PrintJsonLine(message, out_);
  }

  int PrintChange(const cascade::v1::ChangeResponse& response,
                  const std::string& what) {
    if (options_.json) {
      PrintJson(response);
    } else {
      out_ << what << ": done (state sequence " << response.state_sequence()
           << ", " << response.assignments_changed()
           << " assignments changed)\n";
    }
    return kExitDone;
  }

  bool GetTopology(const std::string& root,
                   cascade::v1::GetTopologyResponse* response, int* code) {
    cascade::v1::GetTopologyRequest request;
    request.set_root(root);
    grpc::Status status =
        Read([&](Admin::Stub* stub, grpc::ClientContext* context) {
          return stub->GetTopology(context, request, response);
        });
    if (!status.ok()) *code = Fail(status);
    return status.ok();
  }

  static std::string Parents(const cascade::v1::NodeView& node) {
    return node.parents().empty() ? "-" : absl::StrJoin(node.parents(), ",");
  }

  int Tree(const std::string& root) {
    cascade::v1::GetTopologyResponse topology;
    int code = kExitDone;
    if (!GetTopology(root, &topology, &code)) return code;
    if (options_.json) {
      PrintJson(topology);
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
          out_ << std::string(2 * depth, ' ') << node->id() << " ["
               << TierName(node->tier()) << ", " << StatusName(node->status())
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
      out_ << "orphans (no usable parent):\n";
      for (const auto* orphan : orphans) print(orphan, 1);
    }
    return kExitDone;
  }

  int Nodes() {
    cascade::v1::GetTopologyResponse topology;
    int code = kExitDone;
    if (!GetTopology("", &topology, &code)) return code;
    if (options_.json) {
      // Only the node list: {"nodes": [...]}.
      topology.clear_streams();
      topology.clear_state_sequence();
      PrintJson(topology);
      return kExitDone;
    }
    out_ << absl::StrFormat("%-28s %-10s %-9s %s\n", "ID", "TIER", "STATUS",
                            "PARENTS");
    for (const auto& node : topology.nodes()) {
      out_ << absl::StrFormat("%-28s %-10s %-9s %s\n", node.id(),
                              TierName(node.tier()), StatusName(node.status()),
                              Parents(node));
    }
    return kExitDone;
  }

  int Show(const std::string& id) {
    cascade::v1::GetNodeRequest request;
    request.set_id(id);
    cascade::v1::NodeView node;
    grpc::Status status =
        Read([&](Admin::Stub* stub, grpc::ClientContext* context) {
          return stub->GetNode(context, request, &node);
        });
    if (!status.ok()) return Fail(status);
    if (options_.json) {
      PrintJson(node);
      return kExitDone;
    }
    out_ << "id:               " << node.id() << "\n"
         << "tier:             " << TierName(node.tier()) << "\n"
         << "role:             "
         << ShortName(cascade::v1::Role_Name(node.role())) << "\n"
         << "status:           " << StatusName(node.status())
         << (node.orphan() ? " (orphan)" : "")
         << (node.status() == cascade::v1::STATUS_HOLD_DOWN
                 ? absl::StrCat(" (children again in ",
                                node.hold_down_ms_left(), " ms)")
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
         << (node.desired_parent().empty() ? "-" : node.desired_parent())
         << "\n"
         << "active children:  " << node.active_children_size() << "\n"
         << "standby children: " << node.standby_children_size() << "\n"
         << "capacity:         " << node.capacity().max_children()
         << " children, " << node.capacity().uplink_kbps() << " kbps\n"
         << "assignment:       version " << node.assignment_version()
         << ", acked " << node.acked_version()
         << (node.ack_error().empty() ? ""
                                      : " (error: " + node.ack_error() + ")")
         << "\n"
         << "last report:      "
         << (node.last_report_ms_ago() < 0
                 ? std::string("never")
                 : absl::StrCat(node.last_report_ms_ago(), " ms ago"))
         << "\n";
    if (node.upstream_selected()) out_ << "upstream:         selected\n";
    return kExitDone;
  }

  int Apply(const std::string& path) {
    absl::StatusOr<topology::TopologyText> parsed =
        topology::ReadTopologyFile(path);
    if (!parsed.ok()) {
      return Fail(parsed.status().code() == absl::StatusCode::kNotFound
                      ? kExitFailed
                      : kExitRefused,
                  std::string(parsed.status().message()));
    }
    // Checked here too, where the file's lines are known.
    absl::Status valid =
        topology::ValidateTopology(parsed->topology, path, parsed->node_lines);
    if (!valid.ok()) return Fail(kExitRefused, std::string(valid.message()));
    cascade::v1::ApplyTopologyRequest request;
    *request.mutable_topology() = std::move(parsed->topology);
    request.set_source(path);
    cascade::v1::ChangeResponse response;
    grpc::Status status =
        Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
          return stub->ApplyTopology(context, request, &response);
        });
    if (!status.ok()) return Fail(status);
    return PrintChange(response, "apply " + path);
  }

  int Add(const std::string& text) {
    cascade::v1::AddNodeRequest request;
    if (!google::protobuf::TextFormat::ParseFromString(
            text, request.mutable_node())) {
      return Fail(kExitUsage, "not a text cascade.v1.Node: " + text);
    }
    cascade::v1::ChangeResponse response;
    grpc::Status status =
        Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
          return stub->AddNode(context, request, &response);
        });
    if (!status.ok()) return Fail(status);
    return PrintChange(response, "add " + request.node().id());
  }

  bool GetNode(const std::string& id, cascade::v1::NodeView* view, int* code) {
    cascade::v1::GetNodeRequest request;
    request.set_id(id);
    grpc::Status status =
        Read([&](Admin::Stub* stub, grpc::ClientContext* context) {
          return stub->GetNode(context, request, view);
        });
    if (!status.ok()) *code = Fail(status);
    return status.ok();
  }

  // One child the drain moved, as the wait last saw it.
  struct MovedChild {
    std::string id;
    std::string parent;  // its new active parent; empty if orphaned
    std::string receiving_from;
    bool confirmed = false;
    std::string note;
  };

  int DrainAndWait(const std::string& id) {
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + options_.timeout;
    cascade::v1::NodeView before;
    int code = kExitDone;
    if (!GetNode(id, &before, &code)) return code;
    cascade::v1::DrainNodeRequest request;
    request.set_id(id);
    cascade::v1::ChangeResponse response;
    grpc::Status status =
        Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
          return stub->DrainNode(context, request, &response);
        });
    if (!status.ok()) return Fail(status);
    const absl::Time drained = absl::Now();

    std::vector<MovedChild> children;
    for (const std::string& child : before.active_children()) {
      children.emplace_back().id = child;
    }
    cascade::v1::NodeView node;
    bool empty = false;
    bool node_fresh = false;
    while (true) {
      if (!GetNode(id, &node, &code)) return code;
      // Only a report sent after the drain counts.
      node_fresh = node.last_report_ms_ago() >= 0 &&
                   absl::Milliseconds(node.last_report_ms_ago()) <=
                       absl::Now() - drained;
      empty = node_fresh && node.stats().active_children() == 0;
      for (MovedChild& child : children) {
        cascade::v1::NodeView view;
        if (!GetNode(child.id, &view, &code)) return code;
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
      if (empty || absl::Now() + options_.poll_interval > deadline) break;
      absl::SleepFor(options_.poll_interval);
    }

    const int64_t waited_ms = absl::ToInt64Milliseconds(absl::Now() - start);
    if (options_.json) {
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
      PrintJson(result);
    } else {
      for (const MovedChild& child : children) {
        out_ << "  " << child.id << " -> "
             << (child.parent.empty() ? "-" : child.parent)
             << (child.confirmed ? " (receiving)" : "")
             << (child.note.empty() ? "" : " (" + child.note + ")") << "\n";
      }
      if (empty) out_ << id << " is empty\n";
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
    return Fail(kExitTimeout,
                absl::StrCat(id, " not empty after ",
                             absl::FormatDuration(options_.timeout), ": ",
                             absl::StrJoin(pending, "; ")));
  }

  int RevokeToken(const std::vector<std::string>& operands) {
    cascade::v1::RevokeTokenRequest request;
    if (!operands.empty()) request.set_token_id(operands[0]);
    request.set_operator_(options_.operator_name);
    if (request.token_id().empty() == request.operator_().empty()) {
      return Fail(kExitUsage,
                  "give a token ID or --operator=NAME (one of the two)");
    }
    cascade::v1::ChangeResponse response;
    grpc::Status status =
        Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
          return stub->RevokeToken(context, request, &response);
        });
    if (!status.ok()) return Fail(status);
    return PrintChange(response,
                       request.operator_().empty()
                           ? "token revoke " + request.token_id()
                           : "token revoke --operator=" + request.operator_());
  }

  int Url(const std::vector<std::string>& operands) {
    cascade::v1::MintEdgeTokenRequest request;
    if (!operands.empty()) request.set_node(operands[0]);
    request.set_center(options_.center);
    request.set_publish(options_.publish);
    if (!options_.center && operands.empty()) {
      return Fail(kExitUsage, "give a SITE, or --center");
    }
    if (options_.ttl < absl::ZeroDuration()) {
      return Fail(kExitUsage, "--ttl must not be negative");
    }
    request.set_ttl_ms(absl::ToInt64Milliseconds(options_.ttl));
    cascade::v1::MintEdgeTokenResponse response;
    // Each mint is an audit record: never sent twice.
    grpc::Status status =
        Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
          return stub->MintEdgeToken(context, request, &response);
        });
    if (!status.ok()) return Fail(status);
    if (options_.json) {
      PrintJson(response);
      return kExitDone;
    }
    if (!response.note().empty()) {
      err_ << "relayctl: url: " << response.note() << "\n";
    }
    out_ << response.url() << "\n";
    return kExitDone;
  }

  int RotateEdgeKey() {
    cascade::v1::ChangeResponse response;
    grpc::Status status =
        Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
          return stub->RotateEdgeKey(
              context, cascade::v1::RotateEdgeKeyRequest(), &response);
        });
    if (!status.ok()) return Fail(status);
    return PrintChange(response, "rotate-edge-key");
  }

  int RotateLinkKeys(const std::string& node) {
    cascade::v1::RotateLinkKeysRequest request;
    request.set_node(node);
    cascade::v1::ChangeResponse response;
    grpc::Status status =
        Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
          return stub->RotateLinkKeys(context, request, &response);
        });
    if (!status.ok()) return Fail(status);
    return PrintChange(response,
                       node.empty() ? "rotate-keys" : "rotate-keys " + node);
  }

  int RotateStreamKey(const std::string& stream) {
    cascade::v1::RotateStreamKeyRequest request;
    request.set_stream(stream);
    cascade::v1::ChangeResponse response;
    grpc::Status status =
        Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
          return stub->RotateStreamKey(context, request, &response);
        });
    if (!status.ok()) return Fail(status);
    return PrintChange(response, stream.empty()
                                     ? "stream-key rotate"
                                     : "stream-key rotate " + stream);
  }

  int Stats() {
    cascade::v1::StatsResponse stats;
    grpc::Status status =
        Read([&](Admin::Stub* stub, grpc::ClientContext* context) {
          return stub->GetStats(context, cascade::v1::StatsRequest(), &stats);
        });
    if (!status.ok()) return Fail(status);
    if (options_.json) {
      PrintJson(stats);
      return kExitDone;
    }
    out_ << "nodes:             " << stats.nodes() << " (" << stats.nodes_up()
         << " up, " << stats.nodes_down() << " down/drained/failed, "
         << stats.nodes_unknown() << " never seen)\n"
         << "orphans:           " << stats.orphans() << "\n"
         << "watchers:          " << stats.watchers() << "\n"
         << "upstream selected: " << stats.upstream_selected() << "\n"
         << "state sequence:    " << stats.state_sequence() << "\n"
         << "assignments pushed:"
         << " " << stats.assignments_pushed() << "\n"
         << "journal records:   " << stats.journal_records()
         << " since the last snapshot\n";
    if (stats.journal_discarded_bytes() > 0) {
      out_ << "journal recovery:  " << stats.journal_recovery_note() << "\n";
    }
    return kExitDone;
  }

  int Events() {
    int seen = 0;
    // Feeds that ended before delivering anything, in a row: a bound on
    // controllers that answer calls but end the feed at once.
    int empty_feeds = 0;
    while (true) {
      // A first call finds the leader; the feed then comes from it.
      cascade::v1::StatsResponse stats;
      grpc::Status found =
          Read([&](Admin::Stub* stub, grpc::ClientContext* context) {
            return stub->GetStats(context, cascade::v1::StatsRequest(), &stats);
          });
      if (!found.ok()) return Fail(found);
      const std::string controller = targets_.current();
      auto context = Context();
      cascade::v1::EventsRequest request;
      // The history once: a feed that goes on from a new leader does not
      // repeat it.
      if (seen == 0) request.set_history(options_.history);
      auto reader =
          ControllerAt(controller)->stub->Events(context.get(), request);
      cascade::v1::Event event;
      const int seen_before = seen;
      while ((options_.count == 0 || seen < options_.count) &&
             reader->Read(&event)) {
        ++seen;
        PrintEvent(event);
      }
      if (options_.count > 0 && seen == options_.count) {
        context->TryCancel();
        return kExitDone;
      }
      grpc::Status status = reader->Finish();
      if (status.ok()) return kExitDone;
      empty_feeds = seen > seen_before ? 0 : empty_feeds + 1;
      if (single_ || empty_feeds > kMaxEmptyFeeds) return Fail(status);
      // A group: the leader went away; the feed goes on from the next one.
      err_ << "relayctl: events: " << controller << ": "
           << status.error_message()
           << "; following the new leader (events in between may be "
              "missing)\n";
      targets_.Failed(control::RedirectOf(*context).leader);
    }
  }

  void PrintEvent(const cascade::v1::Event& event) {
    if (options_.json) {
      PrintJson(event);
    } else {
      out_ << absl::FormatTime("%H:%M:%E3S",
                               absl::FromUnixMillis(event.unix_ms()),
                               absl::UTCTimeZone())
           << " " << ShortName(cascade::v1::Event::Kind_Name(event.kind()))
           << (event.node_id().empty() ? "" : " " + event.node_id()) << " "
           << event.detail() << "\n";
    }
    out_.flush();
  }

  int Sdp(const std::string& site) {
    cascade::v1::GetTopologyResponse topology;
    int code = kExitDone;
    if (!GetTopology(site, &topology, &code)) return code;
    absl::StatusOr<std::string> sdp =
        SiteSdp(topology.nodes(0), topology.streams());
    if (!sdp.ok()) {
      return Fail(kExitRefused, std::string(sdp.status().message()));
    }
    if (!options_.out.empty()) {
      // A player started meanwhile never reads half a file.
      absl::Status written = WriteFileAtomically(options_.out, *sdp);
      if (!written.ok()) {
        return Fail(kExitFailed, std::string(written.message()));
      }
    }
    if (options_.json) {
      google::protobuf::Struct result;
      (*result.mutable_fields())["site"].set_string_value(site);
      (*result.mutable_fields())["sdp"].set_string_value(*sdp);
      PrintJson(result);
    } else if (options_.out.empty()) {
      out_ << *sdp;
    }
    return kExitDone;
  }

  const Options& options_;
  const bool single_;
  control::ControllerTargets targets_;
  std::ostream& out_;
  std::ostream& err_;
  std::map<std::string, Connection> connections_;
  std::string command_;
};

}  // namespace

int Run(const Options& options, const std::vector<std::string>& given,
        std::ostream& out, std::ostream& err) {
  if (given.empty()) {
    err << "relayctl: no command (relayctl --help lists them)\n";
    return kExitUsage;
  }
  std::vector<std::string> args = given;
  // A two-word command ("token revoke") is one name.
  if (args.size() >= 2 && Commands().count(args[0] + " " + args[1]) > 0) {
    args[1] = args[0] + " " + args[1];
    args.erase(args.begin());
  }
  auto it = Commands().find(args[0]);
  if (it == Commands().end()) {
    err << "relayctl: unknown command \"" << args[0]
        << "\" (relayctl --help lists them)\n";
    return kExitUsage;
  }
  int operands = static_cast<int>(args.size()) - 1;
  if (operands < it->second.min_args || operands > it->second.max_args) {
    err << "relayctl: " << args[0] << ": usage: relayctl " << args[0] << " "
        << it->second.usage << "\n";
    return kExitUsage;
  }
  absl::StatusOr<std::vector<std::string>> controllers =
      control::ParseControllerList(options.controller);
  if (!controllers.ok()) {
    err << "relayctl: --controller: " << controllers.status().message() << "\n";
    return kExitUsage;
  }
  Session session(options, *std::move(controllers), out, err);
  return session.Run(args[0],
                     std::vector<std::string>(args.begin() + 1, args.end()));
}

}  // namespace cascade::relayctl
