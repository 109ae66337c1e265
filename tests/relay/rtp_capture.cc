#include "tests/relay/rtp_capture.h"

#include <gtest/gtest.h>

#include <utility>

#include "absl/strings/str_split.h"
#include "base/files.h"
#include "base/subprocess.h"
#include "media/rtp/rtp.h"
#include "media/rtp/seq.h"
#include "tests/media/process.h"
#include "tools/media/h264_packetizer.h"

namespace cascade::relay::testing {

RtpCapture::RtpCapture(uint32_t ssrc,
                       std::optional<media::Endpoint> activate_at,
                       std::string key)
    : ssrc_(ssrc),
      activate_at_(std::move(activate_at)),
      key_(std::move(key)),
      thread_([this] { Loop(); }) {}

RtpCapture::~RtpCapture() { Stop(); }

std::vector<Bytes> RtpCapture::Stop() {
  if (thread_.joinable()) {
    stop_.store(true);
    thread_.join();
  }
  std::vector<Bytes> packets;
  for (auto& [seq, packet] : by_seq_) packets.push_back(packet);
  return packets;
}

void RtpCapture::Loop() {
  rtp::SeqUnwrapper unwrapper;
  absl::Time next_activation = absl::InfinitePast();
  uint64_t nonce = 1;
  while (!stop_.load()) {
    if (activate_at_.has_value() && absl::Now() >= next_activation) {
      peer_.SendTo(*activate_at_, MakeActivation("spy", key_, nonce++));
      next_activation = absl::Now() + absl::Milliseconds(200);
    }
    std::optional<Bytes> datagram = peer_.Receive(absl::Milliseconds(50));
    rtp::RtpView view;
    if (!datagram.has_value() || !IsRtp(*datagram) ||
        rtp::ParseRtp(*datagram, &view) != rtp::RtpError::kOk ||
        view.ssrc != ssrc_) {
      continue;
    }
    by_seq_[unwrapper.Unwrap(view.sequence_number)] = *datagram;
    count_.store(static_cast<int64_t>(by_seq_.size()));
  }
}

uint32_t KeyIdOf(const Bytes& packet) {
  const size_t n = packet.size();
  if (n < 4) return 0;
  return uint32_t{packet[n - 4]} << 24 | uint32_t{packet[n - 3]} << 16 |
         uint32_t{packet[n - 2]} << 8 | packet[n - 1];
}

int WriteAnnexB(const std::vector<Bytes>& packets, const std::string& path) {
  std::string annexb;
  int frames = 0;
  std::vector<absl::Span<const uint8_t>> payloads;
  auto flush = [&] {
    media::DepacketizedFrame frame;
    if (!payloads.empty() && media::DepacketizeH264(payloads, &frame) ==
                                 media::DepacketizeError::kNone) {
      ++frames;
      annexb.append(frame.annexb.begin(), frame.annexb.end());
    }
    payloads.clear();
  };
  std::optional<uint32_t> timestamp;
  for (const Bytes& packet : packets) {
    rtp::RtpView view;
    if (rtp::ParseRtp(packet, &view) != rtp::RtpError::kOk) continue;
    if (timestamp.has_value() && view.timestamp != *timestamp) flush();
    timestamp = view.timestamp;
    payloads.push_back(view.payload);
  }
  flush();
  EXPECT_TRUE(WriteFileAtomically(path, annexb).ok());
  return frames;
}

std::optional<FfmpegResult> FfmpegDecode(const std::string& path) {
  const std::string ffmpeg = FindOnPath("ffmpeg").value_or("");
  if (ffmpeg.empty()) return std::nullopt;
  const cascade::testing::CommandResult command =
      cascade::testing::RunToCompletion(
          {ffmpeg, "-hide_banner", "-loglevel", "error", "-xerror", "-f",
           "h264", "-i", path, "-f", "framemd5", "-"},
          path + ".ffmpeg");
  FfmpegResult result;
  result.exit_code = command.code;
  for (absl::string_view line : absl::StrSplit(command.out, '\n')) {
    if (!line.empty() && line[0] != '#') ++result.frames;
  }
  return result;
}

}  // namespace cascade::relay::testing
