#include "tools/source/upstream_counter.h"

#include <glog/logging.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "media/rtp/rtp.h"
#include "tools/media/sdp.h"
#include "tools/media/send_time.h"
#include "tools/media/udp.h"

namespace cascade {
namespace source {
namespace {

// The keys `keys` gives `ssrc`; null when none.
const std::vector<srtp::StreamKey>* KeysIn(const UpstreamKeys& keys,
                                           uint32_t ssrc) {
  if (auto it = keys.by_ssrc.find(ssrc); it != keys.by_ssrc.end()) {
    return &it->second;
  }
  return keys.any.empty() ? nullptr : &keys.any;
}

bool SameKeys(absl::Span<const srtp::StreamKey> a,
              absl::Span<const srtp::StreamKey> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const srtp::StreamKey& x, const srtp::StreamKey& y) {
                      return x.id == y.id && x.material == y.material;
                    });
}

}  // namespace

UpstreamCounter::UpstreamCounter(bool encrypted) : encrypted_(encrypted) {
  if (encrypted_) plain_.resize(media::Receiver::kMaxDatagram);
}

UpstreamCounter::~UpstreamCounter() = default;

void UpstreamCounter::SetKeys(UpstreamKeys keys) {
  if (!encrypted_) return;
  for (auto it = keys.by_ssrc.begin(); it != keys.by_ssrc.end();) {
    if (absl::Status valid = srtp::CheckKeys(it->second); !valid.ok()) {
      LOG(WARNING) << "upstream SSRC " << it->first
                   << " gets no keys: " << valid.message();
      keys.by_ssrc.erase(it++);
    } else {
      ++it;
    }
  }
  if (absl::Status valid = srtp::CheckKeys(keys.any);
      !keys.any.empty() && !valid.ok()) {
    LOG(WARNING) << "upstream keys for any SSRC left out: " << valid.message();
    keys.any.clear();
  }
  // Each receiver follows its SSRC's keys when they change (SetKeys
  // forgets the packets it took); one whose keys went away goes.
  for (auto it = receivers_.begin(); it != receivers_.end();) {
    const std::vector<srtp::StreamKey>* held = KeysIn(keys_, it->first);
    const std::vector<srtp::StreamKey>* next = KeysIn(keys, it->first);
    if (next == nullptr ||
        (!SameKeys(*held, *next) && !it->second->SetKeys(*next).ok())) {
      receivers_.erase(it++);
    } else {
      ++it;
    }
  }
  keys_ = std::move(keys);
}

std::optional<absl::Span<const uint8_t>> UpstreamCounter::Decrypt(
    uint32_t ssrc, absl::Span<const uint8_t> data) {
  const std::vector<srtp::StreamKey>* keys = KeysIn(keys_, ssrc);
  if (keys == nullptr) return std::nullopt;
  auto it = receivers_.find(ssrc);
  if (it == receivers_.end()) {
    if (streams_.count(ssrc) == 0 && streams_.size() >= kMaxStreams) {
      return std::nullopt;
    }
    auto created = srtp::SrtpReceiver::Create(ssrc, *keys);
    if (!created.ok()) return std::nullopt;
    it = receivers_.emplace(ssrc, *std::move(created)).first;
  }
  size_t size = 0;
  if (it->second->Unprotect(data, absl::MakeSpan(plain_), &size) !=
      srtp::SrtpError::kOk) {
    // Junk under an SSRC never seen keeps no receiver.
    if (streams_.count(ssrc) == 0) receivers_.erase(it);
    return std::nullopt;
  }
  return absl::MakeConstSpan(plain_.data(), size);
}

UpstreamCounter::Result UpstreamCounter::OnRtp(absl::Span<const uint8_t> data,
                                               absl::Time arrival) {
  rtp::RtpView view;
  if (rtp::ParseRtp(data, &view) != rtp::RtpError::kOk) {
    return Result::kMalformed;
  }
  if (encrypted_) {
    std::optional<absl::Span<const uint8_t>> plain = Decrypt(view.ssrc, data);
    if (!plain.has_value() ||
        rtp::ParseRtp(*plain, &view) != rtp::RtpError::kOk) {
      ++bad_packets_;
      return Result::kNotAuthenticated;
    }
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
