#include "tools/media/codec.h"

#include <gtest/gtest.h>

#include <vector>

#include "tools/media/h264_packetizer.h"
#include "tools/media/test_pattern.h"

extern "C" {
#include <libavutil/frame.h>
}

namespace cascade {
namespace media {
namespace {

const absl::Time kSendTime = absl::FromUnixMillis(1790000123456);

TEST(CodecTest, PatternNumbersSurviveEncodeAndDecode) {
  VideoEncoderOptions options;
  options.width = 320;
  options.height = 240;
  options.gop = 10;
  options.bitrate_kbps = 600;
  auto encoder = VideoEncoder::Create(options);
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  auto decoder = VideoDecoder::Create();
  ASSERT_TRUE(decoder.ok()) << decoder.status();
  auto frame = (*encoder)->NewFrame();
  ASSERT_TRUE(frame.ok());

  int keyframes = 0;
  for (int n = 0; n < 25; ++n) {
    DrawTestPattern(frame->get(), 1000 + n, kSendTime + absl::Milliseconds(n));
    auto drawn = ReadPatternNumbers(frame->get());
    ASSERT_TRUE(drawn.has_value());
    EXPECT_EQ(drawn->frame_number, 1000 + n);
    std::vector<EncodedFrame> encoded;
    ASSERT_TRUE((*encoder)->Encode(frame->get(), n, false, &encoded).ok());
    // zerolatency: every input frame comes out at once.
    ASSERT_EQ(encoded.size(), 1u) << n;
    const bool key = encoded[0].keyframe;
    keyframes += key;
    EXPECT_EQ(key, n % 10 == 0) << n;

    DecodeResult result = (*decoder)->Decode(encoded[0].data);
    EXPECT_FALSE(result.error);
    ASSERT_EQ(result.frames, 1);
    auto numbers = ReadPatternNumbers((*decoder)->last_frame());
    ASSERT_TRUE(numbers.has_value()) << n;
    EXPECT_EQ(numbers->frame_number, 1000 + n);
    EXPECT_EQ(numbers->send_time_ms,
              (absl::ToUnixMillis(kSendTime) + n) % 1000000000);
  }
  EXPECT_EQ(keyframes, 3);
}

TEST(CodecTest, ForcedKeyframeIsAnIdrWithParameterSets) {
  VideoEncoderOptions options;
  options.width = 160;
  options.height = 96;
  options.gop = 1000;
  auto encoder = VideoEncoder::Create(options);
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  auto frame = (*encoder)->NewFrame();
  ASSERT_TRUE(frame.ok());
  for (int n = 0; n < 5; ++n) {
    DrawTestPattern(frame->get(), n, kSendTime);
    std::vector<EncodedFrame> encoded;
    ASSERT_TRUE((*encoder)->Encode(frame->get(), n, n == 3, &encoded).ok());
    ASSERT_EQ(encoded.size(), 1u);
    bool idr = false, sps = false, pps = false;
    for (auto nal : SplitAnnexB(encoded[0].data)) {
      idr |= NalType(nal[0]) == kNalIdr;
      sps |= NalType(nal[0]) == kNalSps;
      pps |= NalType(nal[0]) == kNalPps;
    }
    const bool expect_key = n == 0 || n == 3;
    EXPECT_EQ(idr, expect_key) << n;
    EXPECT_EQ(sps && pps, expect_key) << n;
  }
}

TEST(CodecTest, DecoderFlagsGarbageWithoutCrashing) {
  auto decoder = VideoDecoder::Create();
  ASSERT_TRUE(decoder.ok());
  // A P slice with no parameter sets before it cannot be decoded.
  const std::vector<uint8_t> garbage = {0,    0,    0,    1,    0x41, 0x9a,
                                        0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};
  DecodeResult result = (*decoder)->Decode(garbage);
  EXPECT_TRUE(result.error || result.frames == 0);
  EXPECT_EQ((*decoder)->last_frame(), nullptr);
}

TEST(CodecTest, BadOptionsAreRejected) {
  VideoEncoderOptions options;
  options.width = 321;
  EXPECT_FALSE(VideoEncoder::Create(options).ok());
  options.width = 320;
  options.gop = 0;
  EXPECT_FALSE(VideoEncoder::Create(options).ok());
}

TEST(CodecTest, OpusEncodesTwentyMillisecondFrames) {
  auto encoder = AudioEncoder::Create(32);
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  ToneGenerator tone(440, AudioEncoder::kSampleRate);
  std::vector<int16_t> samples(AudioEncoder::kFrameSamples);
  std::vector<std::vector<uint8_t>> packets;
  for (int n = 0; n < 10; ++n) {
    tone.Fill(absl::MakeSpan(samples));
    ASSERT_TRUE((*encoder)
                    ->Encode(samples, int64_t{n} * AudioEncoder::kFrameSamples,
                             &packets)
                    .ok());
  }
  // The encoder may hold back its lookahead, never more than a frame or two.
  EXPECT_GE(packets.size(), 8u);
  for (const auto& packet : packets) {
    EXPECT_GT(packet.size(), 2u);
    EXPECT_LT(packet.size(), 400u);
  }
  std::vector<int16_t> wrong(100);
  EXPECT_FALSE((*encoder)->Encode(wrong, 0, &packets).ok());
}

TEST(ToneGeneratorTest, SineWithinAmplitude) {
  ToneGenerator tone(1000, 48000, 0.5);
  std::vector<int16_t> samples(480);
  tone.Fill(absl::MakeSpan(samples));
  int16_t peak = 0;
  int zero_crossings = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    peak = std::max<int16_t>(peak, samples[i]);
    if (i > 0 && (samples[i - 1] < 0) != (samples[i] < 0)) ++zero_crossings;
  }
  EXPECT_NEAR(peak, 16383, 100);
  EXPECT_NEAR(zero_crossings, 20, 1);  // 10 ms of 1 kHz
}

}  // namespace
}  // namespace media
}  // namespace cascade
