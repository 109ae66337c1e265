#ifndef CASCADE_TOOLS_SOURCE_SOURCE_H_
#define CASCADE_TOOLS_SOURCE_SOURCE_H_

// relay-source's engine: encodes pictures (test pattern or a file) with
// libx264 and a tone with Opus, packetises them (RFC 6184, RFC 7587) with
// each frame's send time in a header extension and the video's frame marking
// (RFC 9626) in another, encrypts them (SRTP, media/srtp) when given a key,
// paces the video, answers NACK from a ring of recent packets and PLI/FIR
// with a keyframe, and sends an SR per stream every second. Sites' upstream
// streams coming back on its socket are counted per SSRC (UpstreamCounter).

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "media/endpoint.h"
#include "media/rtp/frame_marking.h"
#include "media/srtp/srtp.h"
#include "tools/media/codec.h"
#include "tools/media/picture_source.h"
#include "tools/media/test_pattern.h"
#include "tools/media/udp.h"
#include "tools/source/key_schedule.h"
#include "tools/source/upstream_counter.h"

namespace cascade {
namespace source {

struct SourceOptions {
  media::Endpoint dest;
  std::optional<media::Endpoint> audio_dest;  // default: dest
  // Hot standbys (e.g. the national relay's standby): each gets every
  // packet and SR of both streams too, on its one port.
  std::vector<media::Endpoint> standby_dests;
  media::Endpoint bind;  // default 0.0.0.0:0
  media::VideoEncoderOptions video;
  bool audio = true;
  int audio_bitrate_kbps = 32;
  double tone_hz = 440;
  size_t max_packet_size = 1200;  // whole RTP packet, headers included
  absl::Duration duration = absl::Seconds(10);  // zero: until Stop()
  std::string sdp_path;                         // empty: no SDP file
  // Where the SDP says the receiver listens, when that is not `dest` (the
  // stream reaches the site through relays): video on this port, audio two
  // above it.
  std::optional<media::Endpoint> sdp_dest;
  // Pause between writing the SDP and the first packet.
  absl::Duration start_delay = absl::ZeroDuration();
  std::string input_path;  // empty: the test pattern
  // Video leaves at this multiple of its bitrate, in bursts of at most
  // pacing_burst: a keyframe spreads over a few frame intervals instead of
  // hitting the network at once.
  double pacing_factor = 2.5;
  absl::Duration pacing_burst = absl::Milliseconds(5);
  size_t ring_packets = 2048;  // answers NACKs for this many recent packets
  // A keyframe request this soon after the last keyframe is ignored, so a
  // burst of PLIs from many sites costs one keyframe.
  absl::Duration min_keyframe_interval = absl::Milliseconds(250);
  uint32_t video_ssrc = 0;  // 0: random
  uint32_t audio_ssrc = 0;
  // Non-empty: a stream key file (media/srtp/keys.h). Both streams are
  // encrypted under its last key; ReloadKeys() reads it again (a rotation).
  std::string srtp_key_file;
  // Instead of a file: both streams are encrypted under keys given by
  // SetStreamKeys (topologyd's), and nothing is sent before the first one.
  bool scheduled_keys = false;
  // Where those keys come from, for the log while waiting for the first.
  std::string keys_origin;
  // The sites' upstream streams are SRTP: under the keys of this file (any
  // SSRC), or, with scheduled_keys, under those SetUpstreamKeys gives (each
  // stream its own). A packet that does not authenticate is a bad packet.
  std::string upstream_key_file;
};

struct SourceStats {
  int64_t frames = 0;
  int64_t keyframes = 0;
  int64_t forced_keyframes = 0;
  int64_t video_packets = 0;
  int64_t audio_packets = 0;
  int64_t bytes = 0;
  int64_t retransmissions = 0;
  int64_t nack_misses = 0;        // asked for a packet no longer in the ring
  int64_t keyframe_requests = 0;  // PLI and FIR
  int64_t rtcp_received = 0;
  // Neither RTCP nor RTP, malformed, or RTP of one SSRC too many.
  int64_t bad_packets = 0;
  int64_t send_errors = 0;
  int64_t key_changes = 0;  // rotations to a new stream key
};

class Source {
 public:
  static absl::StatusOr<std::unique_ptr<Source>> Create(
      const SourceOptions& options);
  ~Source();

  // Sends until the duration is over or Stop() is called.
  absl::Status Run();
  // Safe from a signal handler or another thread.
  void Stop() { stop_.store(true); }
  // Safe from a signal handler or another thread: the key file is read
  // again and its last key used from the next packet on (a file that no
  // longer reads keeps the current key, with a warning).
  void ReloadKeys() { reload_keys_.store(true); }
  // With SourceOptions::scheduled_keys; safe from any thread. Every packet
  // is encrypted under the newest key whose send_from has passed (the first
  // listed wins a tie); a packet finds no such key only before the first
  // one, and then is not sent: the stream is never sent in the clear.
  void SetStreamKeys(std::vector<ScheduledKey> keys) {
    schedule_.Set(std::move(keys));
  }
  // With SourceOptions::scheduled_keys; safe from any thread: the upstream
  // streams are decrypted under exactly these keys from the next packet on.
  void SetUpstreamKeys(UpstreamKeys keys);

  const media::Endpoint& local() const { return socket_.local(); }
  uint32_t video_ssrc() const { return video_ssrc_; }
  uint32_t audio_ssrc() const { return audio_ssrc_; }
  // The id of the stream key in use, empty when not encrypting.
  std::vector<uint8_t> key_id() const;
  const SourceStats& stats() const { return stats_; }
  // Upstream streams received (after Run has returned, or from its thread).
  const UpstreamCounter& upstream() const { return upstream_; }

 private:
  struct Stream;  // RTP state of one stream
  struct RtcpHandler;

  Source(const SourceOptions& options, media::UdpFd socket,
         std::unique_ptr<media::VideoEncoder> video,
         std::unique_ptr<media::AudioEncoder> audio,
         std::unique_ptr<media::PictureSource> pictures,
         media::AvFramePtr frame);

  // `media_time`: the frame's place in the schedule since the start.
  absl::Status SendVideoFrame(absl::Time now, absl::Duration media_time);
  absl::Status SendAudioFrame(absl::Time now, absl::Duration media_time);
  bool encrypted() const {
    return !options_.srtp_key_file.empty() || options_.scheduled_keys;
  }
  // Creates the streams' SRTP senders under `key`.
  absl::Status StartEncryption(const srtp::StreamKey& key);
  // Waits (logging every few seconds) until SetStreamKeys gave a key whose
  // send_from passed, and starts encrypting under it; false when stopped.
  bool AwaitFirstKey();
  // The scheduled key for a packet sent `now`, when it is not the one in
  // use: both streams move to it. Cheap when nothing changed.
  void FollowSchedule(absl::Time now);
  // Moves both streams to `key`.
  absl::Status UseKey(const srtp::StreamKey& key);
  // Reads the key file again and moves both streams to its last key.
  absl::Status ChangeKey();
  // The bytes of headers and SRTP around every payload.
  size_t PacketOverhead() const;
  // Builds an RTP packet (encrypted when the stream is), stores it in the
  // stream's ring, returns it. `marking`: the video's frame marking.
  absl::StatusOr<std::vector<uint8_t>> BuildPacket(
      Stream& stream, uint32_t timestamp, bool marker, absl::Time send_time,
      absl::Span<const uint8_t> payload,
      std::optional<rtp::FrameMarking> marking);
  void SendNow(const media::Endpoint& to, absl::Span<const uint8_t> packet);
  // To the stream's destination and every standby.
  void SendToAll(const Stream& stream, absl::Span<const uint8_t> packet);
  // Sends queued video packets the pacer allows; returns when the next may go.
  absl::Time Pace(absl::Time now);
  // RTCP from receivers and relays, RTP of upstream streams.
  void Receive();
  void SendSenderReports(absl::Time now);
  absl::Status WriteSdp();

  SourceOptions options_;
  media::UdpFd socket_;
  media::Receiver receiver_;
  std::unique_ptr<media::VideoEncoder> video_;
  std::unique_ptr<media::AudioEncoder> audio_;
  std::unique_ptr<media::PictureSource> pictures_;
  media::AvFramePtr frame_;
  std::unique_ptr<media::ToneGenerator> tone_;
  uint32_t video_ssrc_;
  uint32_t audio_ssrc_;
  std::unique_ptr<Stream> video_stream_;
  std::unique_ptr<Stream> audio_stream_;
  std::deque<std::vector<uint8_t>> pace_queue_;
  double pace_tokens_ = 0;  // bytes the pacer may send now
  absl::Time pace_updated_;
  bool keyframe_requested_ = false;
  std::optional<absl::Time> last_keyframe_;
  int64_t frame_number_ = 0;
  int64_t audio_samples_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_keys_{false};
  KeySchedule schedule_;  // SetStreamKeys's
  absl::Mutex upstream_keys_mu_;
  // SetUpstreamKeys's, until the receiving thread takes them.
  std::optional<UpstreamKeys> upstream_keys_ ABSL_GUARDED_BY(upstream_keys_mu_);
  std::atomic<bool> upstream_keys_changed_{false};
  SourceStats stats_;
  UpstreamCounter upstream_;
};

}  // namespace source
}  // namespace cascade

#endif  // CASCADE_TOOLS_SOURCE_SOURCE_H_
