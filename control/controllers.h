// Several controllers in one group (topologyd on etcd: one leads, the others
// redirect): parsing the list, reading a follower's redirect, and choosing
// which controller to call next.
#ifndef CASCADE_CONTROL_CONTROLLERS_H_
#define CASCADE_CONTROL_CONTROLLERS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cascade::control {

// Trailing metadata a controller that does not lead puts on every refusal:
// the leader's HOST:PORT, or empty while no leader is known.
inline constexpr char kLeaderMetadata[] = "cascade-leader";
// Trailing metadata on a call refused for its caller's rate
// (RESOURCE_EXHAUSTED): milliseconds until the caller may call again.
// Nothing was done, so the same call may be sent then.
inline constexpr char kRetryAfterMetadata[] = "cascade-retry-after-ms";

// "A,B,C" (HOST:PORT each) into its entries; InvalidArgument naming the
// problem for an empty list or entry.
absl::StatusOr<std::vector<std::string>> ParseControllerList(
    absl::string_view list);

// What a finished call says about leadership.
struct Redirect {
  // The controller refused because it does not lead: the call was not
  // applied there, so it is safe to send elsewhere.
  bool not_leader = false;
  // The leader it named; empty when it knows none.
  std::string leader;
};
Redirect RedirectOf(const grpc::ClientContext& context);
// The wait a rate-limited refusal asks for; zero when it names none.
absl::Duration RetryAfterOf(const grpc::ClientContext& context);

// While a call is open, a client pings its controller after this long
// without hearing from it, and gives the connection up when the answer
// takes longer than the timeout: a controller host cut off the network
// (no RST) is left within 20 s, not when TCP gives up (~15 min). topologyd
// takes pings this often (--min-ping-interval, below it).
inline constexpr absl::Duration kControllerKeepalive = absl::Seconds(15);
inline constexpr absl::Duration kControllerKeepaliveTimeout = absl::Seconds(5);

// A channel to `controller` for a client's life (gRPC reconnects it by
// itself), whose reconnect backoff runs from `min_backoff` to `max_backoff`
// (gRPC's own grows to two minutes; a restarted controller must see its
// clients back sooner), with the keepalive above. Null `credentials`:
// plaintext.
std::shared_ptr<grpc::Channel> ControllerChannel(
    const std::string& controller,
    std::shared_ptr<grpc::ChannelCredentials> credentials,
    absl::Duration min_backoff, absl::Duration max_backoff);

// A failed call's status as an absl::Status: its code, and "WHAT: message".
absl::Status FromGrpc(const grpc::Status& status, absl::string_view what);

// Which controller to call: the first of the list at the start; a redirect
// moves to the leader it names (once per list position, so two stale
// redirects cannot bounce a client between two dead controllers); any other
// failure moves to the next in the list. Sticks to a controller that
// answers. Not thread-safe.
class ControllerTargets {
 public:
  // `controllers` must not be empty.
  explicit ControllerTargets(std::vector<std::string> controllers);

  const std::string& current() const;
  // The call on current() failed; `leader` is the leader it named (empty:
  // none). Returns true when every controller of the list has failed since
  // the last success: the caller should back off before the next attempt.
  bool Failed(const std::string& leader);
  void Succeeded();

 private:
  const std::vector<std::string> controllers_;
  size_t position_ = 0;
  // A redirect target followed from this position; empty when none.
  std::string redirect_;
  bool redirected_ = false;
  size_t failures_ = 0;
};

}  // namespace cascade::control

#endif  // CASCADE_CONTROL_CONTROLLERS_H_
