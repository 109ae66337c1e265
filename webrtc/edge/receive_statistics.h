// What a receiver reports of one RTP source in its receiver reports (RFC
// 3550 section 6.4.1, appendices A.3 and A.8): packets lost since the last
// report and in all, the highest sequence number, interarrival jitter, and
// the source's last sender report with the delay since it (its round-trip
// time). A browser that publishes with WHIP sizes its bitrate from these
// when nothing else (transport-cc, REMB) is negotiated.
//
// No allocation, no clock: the arrival time comes in with each packet.
#ifndef CASCADE_WEBRTC_EDGE_RECEIVE_STATISTICS_H_
#define CASCADE_WEBRTC_EDGE_RECEIVE_STATISTICS_H_

#include <cstdint>

#include "absl/time/time.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/seq.h"

namespace cascade::edge {

class ReceiveStatistics {
 public:
  // `clock_rate`: the source's RTP clock, for jitter.
  ReceiveStatistics(uint32_t ssrc, uint32_t clock_rate)
      : ssrc_(ssrc), clock_rate_(clock_rate) {}

  // One authenticated packet of the source.
  void OnPacket(uint16_t sequence_number, uint32_t timestamp,
                absl::Time arrival);
  // The source's sender report (its NTP time) arrived.
  void OnSenderReport(uint64_t ntp_timestamp, absl::Time arrival);

  // The report block at `now`; its fraction lost covers the time since the
  // previous call. Only once a packet arrived.
  rtp::ReportBlock Report(absl::Time now);

  uint32_t ssrc() const { return ssrc_; }
  bool started() const { return unwrapper_.started(); }

 private:
  const uint32_t ssrc_;
  const uint32_t clock_rate_;
  rtp::SeqUnwrapper unwrapper_;
  int64_t base_seq_ = 0;  // the first extended sequence number
  int64_t received_ = 0;
  // At the previous report, for the fraction lost in between.
  int64_t expected_prior_ = 0;
  int64_t received_prior_ = 0;
  // Jitter (A.8) in timestamp units; arrivals counted from the first one.
  absl::Time first_arrival_ = absl::InfinitePast();
  uint32_t last_transit_ = 0;
  double jitter_ = 0;
  uint32_t last_sr_ = 0;  // the middle 32 bits of its NTP time
  absl::Time last_sr_arrival_ = absl::InfinitePast();
};

}  // namespace cascade::edge

#endif  // CASCADE_WEBRTC_EDGE_RECEIVE_STATISTICS_H_
