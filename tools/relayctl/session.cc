#include "tools/relayctl/session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tools/relayctl/json_line.h"

namespace cascade::relayctl {
namespace {

using cascade::v1::Admin;

// How long connecting to one controller may take before the next is tried.
constexpr absl::Duration kConnectTimeout = absl::Seconds(3);
// events over a group: feeds in a row that may end with nothing delivered
// before relayctl gives up.
constexpr int kMaxEmptyFeeds = 5;
// Pauses between passes over a controller list that all failed.
constexpr absl::Duration kFirstPause = absl::Milliseconds(50);
constexpr absl::Duration kLongestPause = absl::Seconds(1);

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

}  // namespace

Session::Session(const Options& options, std::vector<std::string> controllers,
                 const std::string& command, std::ostream& out,
                 std::ostream& err)
    : options_(options),
      single_(controllers.size() == 1),
      targets_(std::move(controllers)),
      command_(command),
      out_(out),
      err_(err) {}

std::unique_ptr<grpc::ClientContext> Session::Context(absl::Time deadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (deadline != absl::InfiniteFuture()) {
    context->set_deadline(absl::ToChronoTime(deadline));
  }
  if (!options_.admin_token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options_.admin_token);
  }
  return context;
}

Session::Connection* Session::ControllerAt(const std::string& controller) {
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

grpc::Status Session::Read(const Rpc& rpc) {
  return Call(rpc, /*repeatable=*/true);
}

grpc::Status Session::Change(const Rpc& rpc) {
  return Call(rpc, /*repeatable=*/false);
}

int Session::ChangeAndPrint(const ChangeRpc& rpc, const std::string& what) {
  cascade::v1::ChangeResponse response;
  grpc::Status status =
      Change([&](Admin::Stub* stub, grpc::ClientContext* context) {
        return rpc(stub, context, &response);
      });
  if (!status.ok()) return Fail(status);
  return PrintChange(response, what);
}
grpc::Status Session::Call(const Rpc& rpc, bool repeatable) {
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

grpc::Status Session::FollowEvents(
    const std::function<void(const cascade::v1::Event&)>& on_event) {
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
    if (!found.ok()) return found;
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
      on_event(event);
    }
    if (options_.count > 0 && seen == options_.count) {
      context->TryCancel();
      return grpc::Status::OK;
    }
    grpc::Status status = reader->Finish();
    if (status.ok()) return status;
    empty_feeds = seen > seen_before ? 0 : empty_feeds + 1;
    if (single_ || empty_feeds > kMaxEmptyFeeds) return status;
    // A group: the leader went away; the feed goes on from the next one.
    err_ << "relayctl: events: " << controller << ": " << status.error_message()
         << "; following the new leader (events in between may be "
            "missing)\n";
    targets_.Failed(control::RedirectOf(*context).leader);
  }
}

bool Session::GetTopology(const std::string& root,
                          cascade::v1::GetTopologyResponse* response,
                          int* code) {
  cascade::v1::GetTopologyRequest request;
  request.set_root(root);
  grpc::Status status =
      Read([&](Admin::Stub* stub, grpc::ClientContext* context) {
        return stub->GetTopology(context, request, response);
      });
  if (!status.ok()) *code = Fail(status);
  return status.ok();
}

bool Session::GetNode(const std::string& id, cascade::v1::NodeView* view,
                      int* code) {
  cascade::v1::GetNodeRequest request;
  request.set_id(id);
  grpc::Status status =
      Read([&](Admin::Stub* stub, grpc::ClientContext* context) {
        return stub->GetNode(context, request, view);
      });
  if (!status.ok()) *code = Fail(status);
  return status.ok();
}

int Session::Fail(int code, const std::string& message) {
  err_ << "relayctl: " << command_ << ": " << message << "\n";
  return code;
}

int Session::Fail(const grpc::Status& status) {
  std::string message = status.error_message();
  if (single_ && (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
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

void Session::PrintJson(const google::protobuf::Message& message) {
  PrintJsonLine(message, out_);
}

int Session::PrintChange(const cascade::v1::ChangeResponse& response,
                         const std::string& what) {
  if (options_.json) {
    PrintJson(response);
  } else {
    out_ << what << ": done (state sequence " << response.state_sequence()
         << ", " << response.assignments_changed() << " assignments changed)\n";
  }
  return kExitDone;
}

}  // namespace cascade::relayctl
