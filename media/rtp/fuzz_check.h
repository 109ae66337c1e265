// Invariant checks for the fuzz targets: they abort (so libFuzzer and the
// corpus replay both report the input) instead of relying on gtest.
#ifndef CASCADE_MEDIA_RTP_FUZZ_CHECK_H_
#define CASCADE_MEDIA_RTP_FUZZ_CHECK_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/types/span.h"

#define FUZZ_CHECK(condition)                                          \
  do {                                                                 \
    if (!(condition)) {                                                \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, \
                   __LINE__, #condition);                              \
      std::abort();                                                    \
    }                                                                  \
  } while (0)

namespace cascade::rtp {

// True when `inner` lies within `outer` (an empty span anywhere inside or
// at the end counts).
inline bool Within(absl::Span<const uint8_t> inner,
                   absl::Span<const uint8_t> outer) {
  if (inner.empty()) return true;
  return inner.data() >= outer.data() &&
         inner.data() + inner.size() <= outer.data() + outer.size();
}

}  // namespace cascade::rtp

#endif  // CASCADE_MEDIA_RTP_FUZZ_CHECK_H_
