#include "tools/source/upstream_counter.h"

#include <optional>

#include "media/rtp/rtp.h"
#include "tools/media/sdp.h"
#include "tools/media/send_time.h"

namespace cascade {
namespace source {

UpstreamCounter::Result UpstreamCounter::OnRtp(absl::Span<const uint8_t> data,
                                               absl::Time arrival) {
  rtp::RtpView view;
  if (rtp::ParseRtp(data, &view) != rtp::RtpError::kOk) {
    return Result::kMalformed;
  }
  auto it = streams_.find(view.ssrc);
  if (it == streams_.end()) {
    if (streams_.size() >= kMaxStreams) return Result::kTooManyStreams;
    it = streams_.emplace(view.ssrc, Stream()).first;
    it->second.first_arrival = arrival;
  }
  Stream& stream = it->second;
  ++stream.packets;
  stream.bytes += static_cast<int64_t>(data.size());
  absl::Span<const uint8_t> element;
  std::optional<absl::Time> send_time;
  if (rtp::FindExtension(view, media::kSendTimeExtensionId, &element)) {
    send_time = media::DecodeSendTime(element);
  }
  if (send_time.has_value()) {
    stream.latency.Add(arrival - *send_time);
  } else {
    ++stream.without_send_time;
  }
  return Result::kCounted;
}

}  // namespace source
}  // namespace cascade
