#include "tools/relayctl/change_commands.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "proto/controller.grpc.pb.h"
#include "topology/topology_file.h"

namespace cascade::relayctl {

using cascade::v1::Admin;
using cascade::v1::ChangeResponse;

int Apply(Session& session, const std::string& path) {
  absl::StatusOr<topology::TopologyText> parsed =
      topology::ReadTopologyFile(path);
  if (!parsed.ok()) {
    return session.Fail(parsed.status().code() == absl::StatusCode::kNotFound
                            ? kExitFailed
                            : kExitRefused,
                        std::string(parsed.status().message()));
  }
  // Checked here too, where the file's lines are known.
  absl::Status valid =
      topology::ValidateTopology(parsed->topology, path, parsed->node_lines);
  if (!valid.ok()) {
    return session.Fail(kExitRefused, std::string(valid.message()));
  }
  cascade::v1::ApplyTopologyRequest request;
  *request.mutable_topology() = std::move(parsed->topology);
  request.set_source(path);
  return session.ChangeAndPrint(
      [&](Admin::Stub* stub, grpc::ClientContext* context,
          ChangeResponse* response) {
        return stub->ApplyTopology(context, request, response);
      },
      "apply " + path);
}

int Add(Session& session, const std::string& text) {
  cascade::v1::AddNodeRequest request;
  if (!google::protobuf::TextFormat::ParseFromString(text,
                                                     request.mutable_node())) {
    return session.Fail(kExitUsage, "not a text cascade.v1.Node: " + text);
  }
  return session.ChangeAndPrint(
      [&](Admin::Stub* stub, grpc::ClientContext* context,
          ChangeResponse* response) {
        return stub->AddNode(context, request, response);
      },
      "add " + request.node().id());
}

int ChangeNode(Session& session, const std::string& command,
               const std::string& id) {
  const Options& options = session.options();
  if (command == "move" && options.parent.empty()) {
    return session.Fail(kExitUsage, "--parent is required");
  }
  Session::ChangeRpc rpc;
  if (command == "remove") {
    cascade::v1::RemoveNodeRequest request;
    request.set_id(id);
    rpc = [request](Admin::Stub* stub, grpc::ClientContext* context,
                    ChangeResponse* response) {
      return stub->RemoveNode(context, request, response);
    };
  } else if (command == "move") {
    cascade::v1::MoveNodeRequest request;
    request.set_id(id);
    request.set_new_parent(options.parent);
    rpc = [request](Admin::Stub* stub, grpc::ClientContext* context,
                    ChangeResponse* response) {
      return stub->MoveNode(context, request, response);
    };
  } else if (command == "drain") {
    cascade::v1::DrainNodeRequest request;
    request.set_id(id);
    rpc = [request](Admin::Stub* stub, grpc::ClientContext* context,
                    ChangeResponse* response) {
      return stub->DrainNode(context, request, response);
    };
  } else if (command == "failover") {
    cascade::v1::FailoverRequest request;
    request.set_id(id);
    rpc = [request](Admin::Stub* stub, grpc::ClientContext* context,
                    ChangeResponse* response) {
      return stub->Failover(context, request, response);
    };
  } else if (command == "restore") {
    cascade::v1::RestoreRequest request;
    request.set_id(id);
    if (options.policy == "revertive") {
      request.set_policy(cascade::v1::RESTORE_REVERTIVE);
    } else if (options.policy == "non-revertive") {
      request.set_policy(cascade::v1::RESTORE_NON_REVERTIVE);
    } else if (!options.policy.empty()) {
      return session.Fail(kExitUsage,
                          "--policy must be revertive or non-revertive");
    }
    rpc = [request](Admin::Stub* stub, grpc::ClientContext* context,
                    ChangeResponse* response) {
      return stub->Restore(context, request, response);
    };
  } else if (command == "select" || command == "release") {
    cascade::v1::UpstreamRequest request;
    request.set_site(id);
    const bool select = command == "select";
    rpc = [request, select](Admin::Stub* stub, grpc::ClientContext* context,
                            ChangeResponse* response) {
      return select ? stub->SelectUpstream(context, request, response)
                    : stub->ReleaseUpstream(context, request, response);
    };
  }
  // A command in the table (commands.cc) that nothing here handles.
  if (!rpc) return session.Fail(kExitFailed, "not a node change");
  return session.ChangeAndPrint(rpc, absl::StrCat(command, " ", id));
}

}  // namespace cascade::relayctl
