// RTP sequence number arithmetic: 16-bit serial numbers that wrap, and an
// unwrapper to a 64-bit extended sequence for rings and gap detection.
#ifndef CASCADE_MEDIA_RTP_SEQ_H_
#define CASCADE_MEDIA_RTP_SEQ_H_

#include <cstdint>

namespace cascade::rtp {

// Signed distance a - b on the 16-bit circle, in [-32768, 32767]. Positive
// means a comes after b.
constexpr int32_t SeqDistance(uint16_t a, uint16_t b) {
  return static_cast<int16_t>(static_cast<uint16_t>(a - b));
}

// True when a comes strictly after b (RFC 1982 style). Two numbers exactly
// half the circle apart are neither newer nor older than each other, which
// keeps the order asymmetric.
constexpr bool SeqNewer(uint16_t a, uint16_t b) {
  return SeqDistance(a, b) > 0;
}

// True when a comes strictly before b.
constexpr bool SeqOlder(uint16_t a, uint16_t b) { return SeqNewer(b, a); }

// Orders sequence numbers by wrap-aware age, for std::sort over a window
// narrower than half the circle.
struct SeqLess {
  constexpr bool operator()(uint16_t a, uint16_t b) const {
    return SeqOlder(a, b);
  }
};

// Extends 16-bit sequence numbers to 64 bits by counting wraps, like the
// cycle counter of RFC 3550 appendix A.1. Each number is placed at the
// extended value nearest to the newest one seen so far, so reordered packets
// map to the values before it and a forward jump of less than half the circle
// advances it. The first number seen is its own extended value (a packet
// reordered before it gets a negative one). A jump of half the circle or more
// reads as going back, so a source that restarts its sequence at an
// unrelated number needs a fresh unwrapper (assign SeqUnwrapper()).
class SeqUnwrapper {
 public:
  // Extends seq and, when it is the newest so far, remembers it.
  int64_t Unwrap(uint16_t seq) {
    const int64_t extended = Peek(seq);
    if (!started_ || extended > newest_) {
      newest_ = extended;
      started_ = true;
    }
    return extended;
  }

  // Extends seq without remembering it.
  int64_t Peek(uint16_t seq) const {
    if (!started_) return seq;
    return newest_ + SeqDistance(seq, static_cast<uint16_t>(newest_ & 0xffff));
  }

  bool started() const { return started_; }
  // The newest extended value returned so far (0 before the first Unwrap).
  int64_t newest() const { return newest_; }

 private:
  bool started_ = false;
  int64_t newest_ = 0;
};

}  // namespace cascade::rtp

#endif  // CASCADE_MEDIA_RTP_SEQ_H_
