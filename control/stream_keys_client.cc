#include "control/stream_keys_client.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "control/controllers.h"

namespace cascade::control {
namespace {

constexpr absl::Duration kMinPollInterval = absl::Seconds(1);
constexpr absl::Duration kMaxPollInterval = absl::Seconds(60);

bool IsRefusal(absl::StatusCode code) {
  return code == absl::StatusCode::kPermissionDenied ||
         code == absl::StatusCode::kUnauthenticated;
}

// What a change is judged by: the keys as the controller gave them (not the
// local send_from, which moves with every poll's clock offset).
std::string KeysContent(const cascade::v1::GetStreamKeysResponse& response) {
  cascade::v1::GetStreamKeysResponse keys;
  *keys.mutable_keys() = response.keys();
  *keys.mutable_streams() = response.streams();
  std::string content;
  keys.SerializeToString(&content);
  return content;
}

}  // namespace

absl::StatusOr<StreamKeysClientOptions> StreamKeysOptionsFromFlags(
    const std::string& controller, const TlsClientFiles& tls, bool insecure,
    std::vector<std::string> nodes) {
  if (absl::StatusOr<std::vector<std::string>> list =
          ParseControllerList(controller);
      !list.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--controller: ", list.status().message()));
  }
  // Plaintext hands anyone on the path the stream's keys.
  if (tls.ca.empty() && !insecure) {
    return absl::InvalidArgumentError(
        "--controller: refusing to ask topologyd for stream keys in "
        "plaintext: give --tls-ca and --tls-cert/--tls-key (mutual TLS), or "
        "--insecure for a test bed");
  }
  if (insecure && !tls.ca.empty()) {
    return absl::InvalidArgumentError(
        "--insecure talks plaintext: it does not go with --tls-ca");
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ClientCredentials(tls);
  if (!credentials.ok()) return credentials.status();
  StreamKeysClientOptions options;
  options.controller = controller;
  options.nodes = std::move(nodes);
  options.credentials = *std::move(credentials);
  return options;
}

absl::StatusOr<std::vector<ReceivedStreamKey>> ToLocalKeys(
    const cascade::v1::GetStreamKeysResponse& response, absl::Time local_now) {
  // The controller's clock minus ours, as of the answer.
  const absl::Duration offset =
      absl::FromUnixMillis(response.unix_ms()) - local_now;
  absl::flat_hash_map<absl::string_view, const cascade::v1::Stream*> streams;
  for (const cascade::v1::Stream& stream : response.streams()) {
    streams[stream.id()] = &stream;
  }
  std::vector<ReceivedStreamKey> keys;
  for (const cascade::v1::StreamKey& key : response.keys()) {
    if (key.material().size() != kStreamKeyMaterialSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("stream \"", key.stream(), "\" key ", key.id(), " has ",
                       key.material().size(), " bytes of material, not ",
                       kStreamKeyMaterialSize));
    }
    ReceivedStreamKey received;
    received.stream = key.stream();
    received.id = key.id();
    received.key_id = {static_cast<uint8_t>(key.id() >> 24),
                       static_cast<uint8_t>(key.id() >> 16),
                       static_cast<uint8_t>(key.id() >> 8),
                       static_cast<uint8_t>(key.id())};
    std::copy(key.material().begin(), key.material().end(),
              received.material.begin());
    received.send_from = absl::FromUnixMillis(key.send_from_unix_ms()) - offset;
    if (auto it = streams.find(key.stream()); it != streams.end()) {
      received.direction = it->second->direction();
      received.source_node = it->second->source_node();
      for (const cascade::v1::Track& track : it->second->tracks()) {
        received.ssrcs.push_back(track.ssrc());
      }
    }
    keys.push_back(std::move(received));
  }
  return keys;
}

absl::Duration PollInterval(
    const cascade::v1::GetStreamKeysResponse& response) {
  return std::clamp(absl::Milliseconds(response.poll_interval_ms()),
                    kMinPollInterval, kMaxPollInterval);
}

StreamKeysClient::StreamKeysClient(StreamKeysClientOptions options,
                                   StreamKeysListener* listener)
    : options_(std::move(options)), listener_(listener) {}

StreamKeysClient::~StreamKeysClient() { Stop(); }

void StreamKeysClient::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void StreamKeysClient::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (call_ != nullptr) call_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

int StreamKeysClient::polls() const {
  absl::MutexLock lock(&mu_);
  return polls_;
}

absl::Status StreamKeysClient::last_error() const {
  absl::MutexLock lock(&mu_);
  return last_error_;
}

bool StreamKeysClient::Wait(absl::Duration wait) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait);
  return !stopping_;
}

absl::StatusOr<cascade::v1::GetStreamKeysResponse> StreamKeysClient::Poll(
    const std::string& controller, std::string* leader) {
  std::shared_ptr<grpc::Channel>& channel = channels_[controller];
  if (channel == nullptr) {
    channel = ControllerChannel(controller, options_.credentials,
                                options_.min_backoff, options_.max_backoff);
  }
  auto stub = cascade::v1::RelayControl::NewStub(channel);
  cascade::v1::GetStreamKeysRequest request;
  for (const std::string& node : options_.nodes) request.add_nodes(node);
  cascade::v1::GetStreamKeysResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    call_ = &context;
  }
  const grpc::Status status = stub->GetStreamKeys(&context, request, &response);
  {
    absl::MutexLock lock(&mu_);
    call_ = nullptr;
  }
  if (!status.ok()) {
    *leader = RedirectOf(context).leader;
    return FromGrpc(status, absl::StrCat("GetStreamKeys at ", controller));
  }
  return response;
}

void StreamKeysClient::Run() {
  absl::StatusOr<std::vector<std::string>> list =
      ParseControllerList(options_.controller);
  ControllerTargets targets(
      list.ok() ? *std::move(list)
                : std::vector<std::string>{options_.controller});
  // For the log: a probe asks for up to 256 sites.
  const std::string nodes =
      options_.nodes.size() <= 3
          ? absl::StrJoin(options_.nodes, ",")
          : absl::StrCat(options_.nodes.size(), " nodes (", options_.nodes[0],
                         ", ", options_.nodes[1], ", ...)");
  absl::Duration backoff = options_.min_backoff;
  while (true) {
    const std::string controller = targets.current();
    std::string leader;
    absl::StatusOr<cascade::v1::GetStreamKeysResponse> response =
        Poll(controller, &leader);
    const absl::Time arrived = absl::Now();
    absl::StatusOr<std::vector<ReceivedStreamKey>> keys =
        response.ok() ? ToLocalKeys(*response, arrived) : response.status();
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      last_error_ = keys.status();
      if (keys.ok()) ++polls_;
    }
    if (keys.ok()) {
      targets.Succeeded();
      backoff = options_.min_backoff;
      std::string content = KeysContent(*response);
      if (!delivered_any_ || content != delivered_) {
        LOG(INFO) << "stream keys for " << nodes << " from " << controller
                  << ": " << keys->size() << " key(s)";
        listener_->OnStreamKeys(*keys);
        delivered_ = std::move(content);
        delivered_any_ = true;
      }
      if (!Wait(PollInterval(*response))) return;
      continue;
    }
    const absl::Status& error = keys.status();
    if (IsRefusal(error.code())) {
      // The same refusal every poll would flood the log: once per message.
      if (refusals_logged_.insert(std::string(error.message())).second) {
        LOG(ERROR) << "topologyd refuses the stream keys of " << nodes
                   << " (the certificate must name each node, and each must "
                      "be a site or a stream's source_node): "
                   << error << "; asking again every " << options_.max_backoff;
      }
      targets.Failed(leader);
      if (!Wait(options_.max_backoff)) return;
      continue;
    }
    // Backing off only once the whole list failed: the next controller may
    // well be the leader.
    if (!targets.Failed(leader)) {
      LOG(WARNING) << error << "; trying " << targets.current();
      continue;
    }
    LOG(WARNING) << error << "; asking " << targets.current() << " in "
                 << backoff;
    if (!Wait(backoff *
              std::uniform_real_distribution<double>(0.5, 1.5)(jitter_))) {
      return;
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace cascade::control
