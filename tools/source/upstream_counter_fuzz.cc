// Fuzzes what the center does with RTP that comes back to it: any datagram
// is counted under its SSRC or refused, never more streams than the bound,
// and the figures add up.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tools/source/upstream_counter.h"

// Aborts, so libFuzzer and the corpus replay both report the input
// (media/rtp's FUZZ_CHECK is private to the media plane's package).
#define CHECK_OR_ABORT(condition)                                           \
  do {                                                                      \
    if (!(condition)) {                                                     \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #condition);                                             \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cascade::source::UpstreamCounter;
  UpstreamCounter counter;
  const absl::Span<const uint8_t> packet(data, size);
  const absl::Time arrival = absl::FromUnixSeconds(1700000000);
  int64_t counted = 0;
  // Twice: a new stream, then a known one.
  for (int i = 0; i < 2; ++i) {
    const UpstreamCounter::Result result =
        counter.OnRtp(packet, arrival + absl::Milliseconds(i));
    CHECK_OR_ABORT(result != UpstreamCounter::Result::kTooManyStreams);
    if (result == UpstreamCounter::Result::kCounted) ++counted;
  }
  CHECK_OR_ABORT(counted == 0 || counted == 2);
  CHECK_OR_ABORT(counter.streams().size() == (counted > 0 ? 1u : 0u));
  for (const auto& [ssrc, stream] : counter.streams()) {
    CHECK_OR_ABORT(stream.packets == counted);
    CHECK_OR_ABORT(stream.bytes == counted * static_cast<int64_t>(size));
    CHECK_OR_ABORT(stream.first_arrival == arrival);
    CHECK_OR_ABORT(static_cast<int64_t>(stream.latency.count()) +
                       stream.without_send_time ==
                   stream.packets);
  }
  return 0;
}
