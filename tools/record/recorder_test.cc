#include "tools/record/recorder.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tools/media/codec.h"

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/log.h>
}

namespace cascade {
namespace record {
namespace {

constexpr int kFps = 25;
constexpr uint32_t kStep = 90000 / kFps;

// What libavformat reads back from a segment.
struct ReadBack {
  bool h264 = false;
  int width = 0;
  int packets = 0;
  bool first_is_key = false;
  double duration = 0;  // seconds
  std::string creation_time;
};

ReadBack Read(const std::string& path) {
  ReadBack r;
  AVFormatContext* format = nullptr;
  if (avformat_open_input(&format, path.c_str(), nullptr, nullptr) < 0) {
    ADD_FAILURE() << "cannot open " << path;
    return r;
  }
  EXPECT_GE(avformat_find_stream_info(format, nullptr), 0);
  EXPECT_EQ(format->nb_streams, 1u);
  r.h264 = format->streams[0]->codecpar->codec_id == AV_CODEC_ID_H264;
  r.width = format->streams[0]->codecpar->width;
  r.duration = format->duration / static_cast<double>(AV_TIME_BASE);
  if (const AVDictionaryEntry* e =
          av_dict_get(format->metadata, "creation_time", nullptr, 0)) {
    r.creation_time = e->value;
  }
  AVPacket* packet = av_packet_alloc();
  while (av_read_frame(format, packet) >= 0) {
    if (r.packets++ == 0) r.first_is_key = packet->flags & AV_PKT_FLAG_KEY;
    av_packet_unref(packet);
  }
  av_packet_free(&packet);
  avformat_close_input(&format);
  return r;
}

class RecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    av_log_set_level(AV_LOG_ERROR);
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(
        tmp != nullptr ? tmp : "/tmp", "/",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    media::VideoEncoderOptions options;
    options.width = 160;
    options.height = 96;
    options.frame_rate = kFps;
    options.bitrate_kbps = 200;
    options.gop = kFps;  // a keyframe a second
    auto encoder = media::VideoEncoder::Create(options);
    ASSERT_TRUE(encoder.ok()) << encoder.status();
    for (int i = 0; i < 6 * kFps; ++i) {
      auto frame = (*encoder)->NewFrame();
      ASSERT_TRUE(frame.ok());
      ASSERT_TRUE((*encoder)->Encode(frame->get(), i, false, &frames_).ok());
    }
    ASSERT_EQ(frames_.size(), 6u * kFps);
  }

  // Frame `i` of the stream as a site hands it over.
  probe::VideoAccessUnit Unit(int i, uint32_t ssrc = 7,
                              uint32_t rtp_base = 0xfffff000u) const {
    probe::VideoAccessUnit unit;
    unit.ssrc = ssrc;
    unit.rtp_timestamp = rtp_base + static_cast<uint32_t>(i) * kStep;
    unit.completed =
        absl::FromUnixSeconds(1800000000) + absl::Milliseconds(1000 / kFps) * i;
    unit.keyframe = frames_[i].keyframe;
    unit.annexb = frames_[i].data;
    return unit;
  }

  std::string dir_;
  std::vector<media::EncodedFrame> frames_;
};

TEST_F(RecorderTest, SegmentsStartAtKeyframesAndKeepRtpTimeAcrossAGap) {
  std::ostringstream log;
  RecorderOptions options;
  options.directory = dir_;
  options.segment = absl::Seconds(2);
  auto recorder = Recorder::Create(options, &log);
  ASSERT_TRUE(recorder.ok()) << recorder.status();
  // Joins mid-GOP: frames 5..24 wait for the keyframe at 25. Frames 60..89
  // never come (1.2 s without a frame).
  for (int i = 5; i < 6 * kFps; ++i) {
    if (i >= 60 && i < 90) continue;
    ASSERT_TRUE((*recorder)->Write(Unit(i)).ok()) << i;
  }
  ASSERT_TRUE((*recorder)->Close().ok());
  EXPECT_TRUE(absl::StrContains(log.str(),
                                "gap: 1240 ms without a frame; 1200 ms of "
                                "media missing"))
      << log.str();
  EXPECT_EQ((*recorder)->gaps(), 1);

  // From the keyframe at 25: [25, 100) by RTP time, the hole inside; the
  // keyframe at 125 is less than 2 s into the next, so [100, 150).
  const std::vector<Segment>& segments = (*recorder)->segments();
  ASSERT_EQ(segments.size(), 2u) << log.str();
  const int expected_packets[] = {45, 50};
  const double expected_seconds[] = {3, 2};
  for (size_t s = 0; s < segments.size(); ++s) {
    const ReadBack r = Read(segments[s].path);
    EXPECT_TRUE(r.h264);
    EXPECT_EQ(r.width, 160);
    EXPECT_TRUE(r.first_is_key) << s;
    EXPECT_EQ(r.packets, expected_packets[s]) << s;
    EXPECT_EQ(segments[s].frames, expected_packets[s]) << s;
    EXPECT_NEAR(r.duration, expected_seconds[s], 0.05) << s;
    EXPECT_FALSE(r.creation_time.empty());
  }
  EXPECT_EQ(Read(segments[0].path).creation_time,
            "2027-01-15T08:00:01.000000Z");
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_FALSE(absl::EndsWith(entry.path().string(), ".part"));
  }
}

TEST_F(RecorderTest, ANewSsrcStartsANewSegmentAtItsKeyframe) {
  std::ostringstream log;
  RecorderOptions options;
  options.directory = dir_;
  options.container = Container::kMp4;
  auto recorder = Recorder::Create(options, &log);
  ASSERT_TRUE(recorder.ok());
  for (int i = 0; i < 60; ++i) ASSERT_TRUE((*recorder)->Write(Unit(i)).ok());
  // A restarted source: another SSRC and RTP base, mid-GOP at first.
  for (int i = 60; i < 100; ++i) {
    ASSERT_TRUE((*recorder)->Write(Unit(i, 8, 12345)).ok());
  }
  ASSERT_TRUE((*recorder)->Close().ok());
  ASSERT_EQ((*recorder)->segments().size(), 2u) << log.str();
  EXPECT_TRUE(absl::StrContains(log.str(), "SSRC changed to 8")) << log.str();
  EXPECT_EQ(Read((*recorder)->segments()[0].path).packets, 60);
  const ReadBack second = Read((*recorder)->segments()[1].path);
  EXPECT_TRUE(absl::EndsWith((*recorder)->segments()[1].path, ".mp4"));
  EXPECT_EQ(second.packets, 25);  // from the keyframe at 75
  EXPECT_TRUE(second.first_is_key);
}

TEST(RecorderCreateTest, RefusesABadDirectory) {
  std::ostringstream log;
  RecorderOptions options;
  options.directory = "/nonexistent/recordings";
  EXPECT_FALSE(Recorder::Create(options, &log).ok());
  options.directory = "/proc/self/status";
  auto refused = Recorder::Create(options, &log);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "not a directory"));
}

}  // namespace
}  // namespace record
}  // namespace cascade
