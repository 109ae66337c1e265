// The stream keys of some nodes (a stream's source, or sites), polled from
// topologyd's RelayControl.GetStreamKeys on a thread of their own: the keys
// a node may hold, their send_from on this machine's clock, handed to a
// listener whenever they change (docs/security.md). Given several
// controllers, it follows a follower's redirect and moves on through the
// list when the one it uses fails (controllers.h).
#ifndef CASCADE_CONTROL_STREAM_KEYS_CLIENT_H_
#define CASCADE_CONTROL_STREAM_KEYS_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "control/tls.h"
#include "proto/controller.grpc.pb.h"

namespace cascade::control {

// proto/topology.proto StreamKey: the 16-byte AES key, then the 12-byte salt.
inline constexpr size_t kStreamKeyMaterialSize = 28;

struct ReceivedStreamKey {
  std::string stream;
  uint32_t id = 0;
  // The id as SRTP carries it (the MKI): 4 bytes, big-endian.
  std::vector<uint8_t> key_id;
  std::array<uint8_t, kStreamKeyMaterialSize> material{};
  // When the source may start using it, on this machine's clock (the
  // controller's send_from, moved by the difference of the two clocks).
  absl::Time send_from;
  // The stream's, as the controller names it (GetStreamKeysResponse.streams;
  // DIRECTION_UNSPECIFIED and no SSRC from a controller that does not):
  // a node tells the stream it sends from those it receives.
  cascade::v1::Direction direction = cascade::v1::DIRECTION_UNSPECIFIED;
  std::string source_node;
  std::vector<uint32_t> ssrcs;
};

class StreamKeysListener {
 public:
  virtual ~StreamKeysListener() = default;
  // Every key the nodes may hold, each stream's newest first, as the
  // controller gave them. Called on the client's thread (post into your
  // own loop), only when the keys differ from the last call's.
  virtual void OnStreamKeys(const std::vector<ReceivedStreamKey>& keys) = 0;
};

struct StreamKeysClientOptions {
  // HOST:PORT[,HOST:PORT...]; must parse (ParseControllerList).
  std::string controller;
  // Each a site or a stream's source_node that the client's certificate
  // names; 1..security::kMaxNodesPerCertificate (callers check).
  std::vector<std::string> nodes;
  // Null means plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Between failed passes over the controller list: doubling from min to
  // max, jittered. A refusal (PERMISSION_DENIED, UNAUTHENTICATED) waits the
  // max: asking again changes nothing until an operator does.
  absl::Duration min_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
  absl::Duration call_timeout = absl::Seconds(5);
};

// The options of a tool's --controller, --tls-ca, --tls-cert, --tls-key and
// --insecure (relay-source, relay-probe), checked as relayd checks them:
// plaintext only with `insecure`, which does not go with a CA.
// InvalidArgument naming the flag.
absl::StatusOr<StreamKeysClientOptions> StreamKeysOptionsFromFlags(
    const std::string& controller, const TlsClientFiles& tls, bool insecure,
    std::vector<std::string> nodes);

// The response's keys for a listener: send_from on the local clock
// (`local_now` when the response arrived). InvalidArgument for a key whose
// material is not kStreamKeyMaterialSize bytes.
absl::StatusOr<std::vector<ReceivedStreamKey>> ToLocalKeys(
    const cascade::v1::GetStreamKeysResponse& response, absl::Time local_now);

// The wait before the next poll: the controller's poll_interval_ms within
// [1 s, 60 s] (1 s when it gives none).
absl::Duration PollInterval(const cascade::v1::GetStreamKeysResponse& response);

class StreamKeysClient {
 public:
  StreamKeysClient(StreamKeysClientOptions options,
                   StreamKeysListener* listener);
  ~StreamKeysClient();
  StreamKeysClient(const StreamKeysClient&) = delete;
  StreamKeysClient& operator=(const StreamKeysClient&) = delete;

  void Start();
  // Cancels a call in flight, ends any wait, and joins the thread.
  void Stop();
  // Polls answered so far.
  int polls() const;
  // The last call's error (OK after an answer).
  absl::Status last_error() const;

 private:
  void Run();
  // One GetStreamKeys on `controller`; `*leader` gets a follower's redirect.
  absl::StatusOr<cascade::v1::GetStreamKeysResponse> Poll(
      const std::string& controller, std::string* leader);
  // Waits `wait` or until Stop; false when stopping.
  bool Wait(absl::Duration wait);

  const StreamKeysClientOptions options_;
  StreamKeysListener* const listener_;
  std::thread thread_;
  // Only the client's thread touches these.
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  std::mt19937 jitter_{std::random_device{}()};
  // The keys last handed to the listener, serialised (change detection).
  std::string delivered_;
  bool delivered_any_ = false;
  // Refusal messages already logged (each once).
  absl::flat_hash_set<std::string> refusals_logged_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* call_ ABSL_GUARDED_BY(mu_) = nullptr;
  int polls_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cascade::control

#endif  // CASCADE_CONTROL_STREAM_KEYS_CLIENT_H_
