#include "topology/server_limits.h"

#include <climits>

#include "absl/strings/str_cat.h"

namespace cascade::topology {
namespace {

int Milliseconds(absl::Duration duration) {
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(duration), INT_MAX));
}

}  // namespace

absl::Status ValidateServerLimits(const ServerLimits& limits) {
  // A relay's messages are a few KB: below this nothing works.
  constexpr int kLeastReceiveBytes = 64 << 10;
  if (limits.max_receive_bytes < kLeastReceiveBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max receive size must be at least ", kLeastReceiveBytes, " bytes"));
  }
  if (limits.max_streams_per_connection < 2) {
    return absl::InvalidArgumentError(
        "streams per connection must be at least 2 (a relay's Watch and "
        "Report)");
  }
  for (const auto& [name, value] :
       {std::pair{"keepalive interval", limits.keepalive_interval},
        {"keepalive timeout", limits.keepalive_timeout},
        {"min ping interval", limits.min_ping_interval},
        {"max connection idle", limits.max_connection_idle},
        {"handshake timeout", limits.handshake_timeout}}) {
    if (value < absl::Milliseconds(1) || value > absl::Hours(24 * 24)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " must be between 1ms and 24 days, not ",
                       absl::FormatDuration(value)));
    }
  }
  return absl::OkStatus();
}

void ApplyServerLimits(const ServerLimits& limits,
                       grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(limits.max_receive_bytes);
  builder->SetMaxSendMessageSize(kMaxSendBytes);
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                              limits.max_streams_per_connection);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                              Milliseconds(limits.keepalive_interval));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                              Milliseconds(limits.keepalive_timeout));
  // GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA stays at gRPC's 2: keepalive
  // frees dead peers' connections, a relay's lease says whether it lives,
  // and unlimited would let the server's flow-control pings go unbounded
  // too.
  builder->AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      Milliseconds(limits.min_ping_interval));
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                              Milliseconds(limits.max_connection_idle));
  builder->AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                              Milliseconds(limits.handshake_timeout));
}

}  // namespace cascade::topology
