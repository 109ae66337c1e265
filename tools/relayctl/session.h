// One relayctl run's calls to the controllers' Admin API: finding the leader
// of a group and following its redirects within --timeout, repeating only
// what is safe to repeat, and reporting failures with relayctl's exit codes.
// The commands (read_commands.h, change_commands.h, key_commands.h,
// drain_wait.h) use it.
#ifndef CASCADE_TOOLS_RELAYCTL_SESSION_H_
#define CASCADE_TOOLS_RELAYCTL_SESSION_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "control/controllers.h"
#include "google/protobuf/message.h"
#include "proto/controller.grpc.pb.h"
#include "tools/relayctl/relayctl.h"

namespace cascade::relayctl {

class Session {
 public:
  using Rpc = std::function<grpc::Status(cascade::v1::Admin::Stub*,
                                         grpc::ClientContext*)>;
  // A change answered with a ChangeResponse, which it fills.
  using ChangeRpc = std::function<grpc::Status(cascade::v1::Admin::Stub*,
                                               grpc::ClientContext*,
                                               cascade::v1::ChangeResponse*)>;

  // `controllers` is options.controller parsed (not empty); `command` names
  // the command in error lines.
  Session(const Options& options, std::vector<std::string> controllers,
          const std::string& command, std::ostream& out, std::ostream& err);

  const Options& options() const { return options_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

  // A read: safe to repeat on another controller after any failure to
  // reach one.
  grpc::Status Read(const Rpc& rpc);
  // A change: sent elsewhere only when it surely was not applied (the
  // controller could not be reached, or refused because it does not lead).
  // A connection lost during the call leaves its outcome unknown: reported,
  // never repeated, so no change is applied twice.
  grpc::Status Change(const Rpc& rpc);
  // Change, then its outcome printed as `what` (or the failure reported);
  // returns the exit code.
  int ChangeAndPrint(const ChangeRpc& rpc, const std::string& what);

  // The Events feed from the leader, each event to `on_event`, until
  // options().count events (0: until the feed ends); a group's feed goes on
  // from the next leader when one goes away.
  grpc::Status FollowEvents(
      const std::function<void(const cascade::v1::Event&)>& on_event);

  // Reads that report their own failure: false with the exit code in *code.
  bool GetTopology(const std::string& root,
                   cascade::v1::GetTopologyResponse* response, int* code);
  bool GetNode(const std::string& id, cascade::v1::NodeView* view, int* code);

  // One error line on err(); returns `code`.
  int Fail(int code, const std::string& message);
  int Fail(const grpc::Status& status);

  void PrintJson(const google::protobuf::Message& message);
  int PrintChange(const cascade::v1::ChangeResponse& response,
                  const std::string& what);

 private:
  struct Connection {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<cascade::v1::Admin::Stub> stub;
  };

  std::unique_ptr<grpc::ClientContext> Context(
      absl::Time deadline = absl::InfiniteFuture());
  Connection* ControllerAt(const std::string& controller);
  // Calls the leader among the controllers, following redirects, within
  // --timeout in all.
  grpc::Status Call(const Rpc& rpc, bool repeatable);

  const Options& options_;
  const bool single_;
  control::ControllerTargets targets_;
  const std::string command_;
  std::ostream& out_;
  std::ostream& err_;
  std::map<std::string, Connection> connections_;
};

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_SESSION_H_
