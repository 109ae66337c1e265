#ifndef CASCADE_TOOLS_MEDIA_TEST_PATTERN_H_
#define CASCADE_TOOLS_MEDIA_TEST_PATTERN_H_

// The synthetic source picture and sound: moving colour bars with the frame
// number and send time drawn in large digits from a built-in 3x5 font (so a
// person, or ReadPatternNumbers after a lossy codec, can read them back), and
// a sine tone.

#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "absl/types/span.h"

extern "C" {
struct AVFrame;
}

namespace cascade {
namespace media {

// Digits per number drawn in the picture.
inline constexpr int kPatternDigits = 9;

// Draws frame `frame_number` into a YUV420P frame (at least 160x96). The
// second number is the send time in milliseconds modulo 10^9.
void DrawTestPattern(AVFrame* frame, int64_t frame_number,
                     absl::Time send_time);

struct PatternNumbers {
  int64_t frame_number = 0;
  int64_t send_time_ms = 0;  // modulo 10^9
};

// Reads the two numbers back from a decoded picture; nullopt when a digit
// does not match the font (not the test pattern, or badly damaged).
std::optional<PatternNumbers> ReadPatternNumbers(const AVFrame* frame);

// A sine tone as 16-bit mono samples, phase-continuous across calls.
class ToneGenerator {
 public:
  ToneGenerator(double frequency_hz, int sample_rate, double amplitude = 0.3);
  void Fill(absl::Span<int16_t> samples);

 private:
  double phase_step_;
  double amplitude_;
  double phase_ = 0;
};

}  // namespace media
}  // namespace cascade

#endif  // CASCADE_TOOLS_MEDIA_TEST_PATTERN_H_
