#include "webrtc/edge/receive_statistics.h"

#include <algorithm>
#include <cmath>

namespace cascade::edge {

void ReceiveStatistics::OnPacket(uint16_t sequence_number, uint32_t timestamp,
                                 absl::Time arrival) {
  const bool first = !unwrapper_.started();
  const int64_t newest_before = unwrapper_.newest();
  const int64_t extended = unwrapper_.Unwrap(sequence_number);
  if (first) {
    base_seq_ = extended;
    first_arrival_ = arrival;
  }
  // A packet reordered before the first one is expected too.
  base_seq_ = std::min(base_seq_, extended);
  ++received_;

  // The arrival time in the source's timestamp units (A.8); only packets in
  // order count: a resent or reordered one says nothing of the path's
  // delay variation.
  const int64_t micros =
      std::max<int64_t>(0, absl::ToInt64Microseconds(arrival - first_arrival_));
  const uint32_t transit =
      static_cast<uint32_t>(micros * clock_rate_ / 1000000) - timestamp;
  if (first || extended > newest_before) {
    if (!first) {
      const int32_t d = static_cast<int32_t>(transit - last_transit_);
      jitter_ += (std::fabs(static_cast<double>(d)) - jitter_) / 16;
    }
    last_transit_ = transit;
  }
}

void ReceiveStatistics::OnSenderReport(uint64_t ntp_timestamp,
                                       absl::Time arrival) {
  last_sr_ = static_cast<uint32_t>(ntp_timestamp >> 16);
  last_sr_arrival_ = arrival;
}

rtp::ReportBlock ReceiveStatistics::Report(absl::Time now) {
  rtp::ReportBlock block;
  block.ssrc = ssrc_;
  const int64_t expected = unwrapper_.newest() - base_seq_ + 1;
  // 24 bits signed on the wire; duplicates may make it negative.
  block.cumulative_lost = static_cast<int32_t>(
      std::clamp<int64_t>(expected - received_, -0x800000, 0x7FFFFF));
  const int64_t expected_interval = expected - expected_prior_;
  const int64_t lost_interval =
      expected_interval - (received_ - received_prior_);
  if (expected_interval > 0 && lost_interval > 0) {
    block.fraction_lost = static_cast<uint8_t>(
        std::min<int64_t>(255, (lost_interval << 8) / expected_interval));
  }
  expected_prior_ = expected;
  received_prior_ = received_;
  // The cycles counted from the first number, in the top 16 bits.
  block.extended_highest_sequence = static_cast<uint32_t>(unwrapper_.newest());
  block.jitter = static_cast<uint32_t>(jitter_);
  if (last_sr_arrival_ != absl::InfinitePast()) {
    block.last_sr = last_sr_;
    block.delay_since_last_sr = static_cast<uint32_t>(
        std::max(0.0, absl::ToDoubleSeconds(now - last_sr_arrival_)) * 65536);
  }
  return block;
}

}  // namespace cascade::edge
