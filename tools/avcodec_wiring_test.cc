extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/opt.h>
}

#include <gtest/gtest.h>

namespace cascade {
namespace {

TEST(AvcodecWiringTest, H264EncodesAFrameTheDecoderReads) {
  const AVCodec* encoder = avcodec_find_encoder(AV_CODEC_ID_H264);
  ASSERT_NE(encoder, nullptr) << "libavcodec has no H.264 encoder";
  AVCodecContext* enc = avcodec_alloc_context3(encoder);
  ASSERT_NE(enc, nullptr);
  enc->width = 320;
  enc->height = 240;
  enc->pix_fmt = AV_PIX_FMT_YUV420P;
  enc->time_base = AVRational{1, 30};
  enc->framerate = AVRational{30, 1};
  enc->gop_size = 30;
  av_opt_set(enc->priv_data, "tune", "zerolatency", 0);
  av_opt_set(enc->priv_data, "preset", "ultrafast", 0);
  ASSERT_EQ(avcodec_open2(enc, encoder, nullptr), 0);

  AVFrame* frame = av_frame_alloc();
  frame->format = enc->pix_fmt;
  frame->width = enc->width;
  frame->height = enc->height;
  ASSERT_EQ(av_frame_get_buffer(frame, 0), 0);
  for (int plane = 0; plane < 3; ++plane) {
    int rows = plane == 0 ? enc->height : enc->height / 2;
    for (int y = 0; y < rows; ++y) {
      for (int x = 0; x < frame->linesize[plane]; ++x) {
        frame->data[plane][y * frame->linesize[plane] + x] =
            static_cast<uint8_t>(x + y);
      }
    }
  }
  frame->pts = 0;
  ASSERT_EQ(avcodec_send_frame(enc, frame), 0);
  ASSERT_EQ(avcodec_send_frame(enc, nullptr), 0);  // flush

  AVPacket* packet = av_packet_alloc();
  ASSERT_EQ(avcodec_receive_packet(enc, packet), 0);
  EXPECT_GT(packet->size, 0);
  EXPECT_TRUE(packet->flags & AV_PKT_FLAG_KEY);

  const AVCodec* decoder = avcodec_find_decoder(AV_CODEC_ID_H264);
  ASSERT_NE(decoder, nullptr);
  AVCodecContext* dec = avcodec_alloc_context3(decoder);
  ASSERT_EQ(avcodec_open2(dec, decoder, nullptr), 0);
  ASSERT_EQ(avcodec_send_packet(dec, packet), 0);
  ASSERT_EQ(avcodec_send_packet(dec, nullptr), 0);
  AVFrame* decoded = av_frame_alloc();
  ASSERT_EQ(avcodec_receive_frame(dec, decoded), 0);
  EXPECT_EQ(decoded->width, 320);
  EXPECT_EQ(decoded->height, 240);

  av_frame_free(&decoded);
  avcodec_free_context(&dec);
  av_packet_free(&packet);
  av_frame_free(&frame);
  avcodec_free_context(&enc);
}

}  // namespace
}  // namespace cascade
