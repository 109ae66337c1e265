#include "tools/media/test_pattern.h"

#include <algorithm>
#include <cmath>

extern "C" {
#include <libavutil/frame.h>
}

namespace cascade {
namespace media {
namespace {

// 3x5 digits, one row per byte, bit 2 = left column.
constexpr uint8_t kFont[10][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7},
    {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1},
    {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
};
constexpr int kGlyphWidth = 3;
constexpr int kGlyphHeight = 5;
constexpr int kCellWidth = kGlyphWidth + 1;  // one column gap
constexpr int kRowCells = kGlyphHeight + 2;  // gap above and below
constexpr int64_t kModulus = 1000000000;     // 10^kPatternDigits

// Font pixels are `scale` picture pixels square; numbers sit in a black box
// at the top left, one per row.
int Scale(const AVFrame* frame) {
  return std::max(2, std::min(frame->width / (kPatternDigits * kCellWidth + 2),
                              frame->height / (2 * kRowCells + 2)) /
                         2);
}

void FillLuma(AVFrame* frame, int x, int y, int w, int h, uint8_t value) {
  for (int row = y; row < y + h && row < frame->height; ++row) {
    uint8_t* line = frame->data[0] + row * frame->linesize[0];
    std::fill(line + x, line + std::min(x + w, frame->width), value);
  }
}

void FillChroma(AVFrame* frame, int x, int y, int w, int h, uint8_t u,
                uint8_t v) {
  for (int row = y / 2; row < (y + h) / 2 && row < frame->height / 2; ++row) {
    uint8_t* cb = frame->data[1] + row * frame->linesize[1];
    uint8_t* cr = frame->data[2] + row * frame->linesize[2];
    const int end = std::min((x + w) / 2, frame->width / 2);
    std::fill(cb + x / 2, cb + end, u);
    std::fill(cr + x / 2, cr + end, v);
  }
}

void DrawNumber(AVFrame* frame, int row, int64_t value, int scale) {
  value %= kModulus;
  if (value < 0) value += kModulus;
  const int top = scale * (1 + row * kRowCells + 1);
  for (int d = kPatternDigits - 1; d >= 0; --d) {
    const int digit = static_cast<int>(value % 10);
    value /= 10;
    const int left = scale * (1 + d * kCellWidth);
    for (int gy = 0; gy < kGlyphHeight; ++gy) {
      for (int gx = 0; gx < kGlyphWidth; ++gx) {
        if (kFont[digit][gy] & (4 >> gx)) {
          FillLuma(frame, left + gx * scale, top + gy * scale, scale, scale,
                   235);
        }
      }
    }
  }
}

std::optional<int64_t> ReadNumber(const AVFrame* frame, int row, int scale) {
  const int top = scale * (1 + row * kRowCells + 1);
  int64_t value = 0;
  for (int d = 0; d < kPatternDigits; ++d) {
    const int left = scale * (1 + d * kCellWidth);
    uint8_t rows[kGlyphHeight] = {};
    for (int gy = 0; gy < kGlyphHeight; ++gy) {
      for (int gx = 0; gx < kGlyphWidth; ++gx) {
        const int x = left + gx * scale + scale / 2;
        const int y = top + gy * scale + scale / 2;
        if (x >= frame->width || y >= frame->height) return std::nullopt;
        if (frame->data[0][y * frame->linesize[0] + x] > 128) {
          rows[gy] |= 4 >> gx;
        }
      }
    }
    int match = -1;
    for (int digit = 0; digit < 10; ++digit) {
      if (std::equal(rows, rows + kGlyphHeight, kFont[digit])) match = digit;
    }
    if (match < 0) return std::nullopt;
    value = value * 10 + match;
  }
  return value;
}

}  // namespace

void DrawTestPattern(AVFrame* frame, int64_t frame_number,
                     absl::Time send_time) {
  // Eight colour bars (Y, U, V) sliding left by 4 pixels a frame.
  constexpr uint8_t kBars[8][3] = {
      {235, 128, 128}, {210, 16, 146}, {170, 166, 16}, {145, 54, 34},
      {106, 202, 222}, {81, 90, 240},  {41, 240, 110}, {16, 128, 128},
  };
  const int bar_width = std::max(2, frame->width / 8) & ~1;
  const int shift = static_cast<int>((frame_number * 4) % (8 * bar_width));
  for (int x = 0; x < frame->width; x += 2) {
    const int bar = ((x + shift) / bar_width) % 8;
    FillLuma(frame, x, 0, 2, frame->height, kBars[bar][0]);
    FillChroma(frame, x, 0, 2, frame->height, kBars[bar][1], kBars[bar][2]);
  }
  // A grey square bouncing along the bottom shows motion at a glance.
  const int box = std::max(2, frame->height / 8) & ~1;
  const int travel = std::max(1, frame->width - box);
  const int phase = static_cast<int>((frame_number * 6) % (2 * travel));
  const int box_x = (phase < travel ? phase : 2 * travel - phase) & ~1;
  FillLuma(frame, box_x, frame->height - box, box, box, 128);
  FillChroma(frame, box_x, frame->height - box, box, box, 128, 128);

  const int scale = Scale(frame);
  const int box_w = scale * (kPatternDigits * kCellWidth + 1);
  const int box_h = scale * (2 * kRowCells + 1);
  FillLuma(frame, 0, 0, box_w + (box_w & 1), box_h + (box_h & 1), 16);
  FillChroma(frame, 0, 0, box_w + (box_w & 1), box_h + (box_h & 1), 128, 128);
  DrawNumber(frame, 0, frame_number, scale);
  DrawNumber(frame, 1, absl::ToUnixMillis(send_time), scale);
}

std::optional<PatternNumbers> ReadPatternNumbers(const AVFrame* frame) {
  if (frame == nullptr || frame->data[0] == nullptr) return std::nullopt;
  const int scale = Scale(frame);
  std::optional<int64_t> number = ReadNumber(frame, 0, scale);
  std::optional<int64_t> time = ReadNumber(frame, 1, scale);
  if (!number.has_value() || !time.has_value()) return std::nullopt;
  return PatternNumbers{*number, *time};
}

ToneGenerator::ToneGenerator(double frequency_hz, int sample_rate,
                             double amplitude)
    : phase_step_(2 * M_PI * frequency_hz / sample_rate),
      amplitude_(amplitude) {}

void ToneGenerator::Fill(absl::Span<int16_t> samples) {
  for (int16_t& sample : samples) {
    sample = static_cast<int16_t>(32767 * amplitude_ * std::sin(phase_));
    phase_ += phase_step_;
    if (phase_ > 2 * M_PI) phase_ -= 2 * M_PI;
  }
}

}  // namespace media
}  // namespace cascade
