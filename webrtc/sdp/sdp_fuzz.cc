// Fuzzes ParseSdp and, when an offer parses, BuildAnswer in both roles:
// nothing crashes or reads out of bounds (ASan), refusals carry the codes
// answer.h documents, and every answer parses back, small and consistent
// with the offer.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "webrtc/sdp/answer.h"
#include "webrtc/sdp/sdp.h"

#define FUZZ_CHECK(condition)                                          \
  do {                                                                 \
    if (!(condition)) {                                                \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, \
                   __LINE__, #condition);                              \
      std::abort();                                                    \
    }                                                                  \
  } while (0)

namespace {

using namespace cascade::sdp;

// Far above what a relay's answer holds (two media, 16 candidates, every
// other section refused in a few short lines).
constexpr size_t kMaxAnswerBytes = 16 * 1024;

AnswerOptions Options(RelayRole role) {
  AnswerOptions o;
  o.role = role;
  o.ice_ufrag = "fuzz";
  o.ice_pwd = "fuzzfuzzfuzzfuzzfuzzfuzz";
  o.fingerprint =
      "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:"
      "44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
  o.candidates = {"192.0.2.1:5000", "[2001:db8::1]:5000"};
  o.msid_stream_id = "s";
  o.cname = "c";
  o.video = {1, "v"};
  o.audio = {2, "a"};
  return o;
}

bool OfferHas(const SessionDescription& offer, const AcceptedMedia& media) {
  const MediaSection* m = offer.FindMid(media.mid);
  return m != nullptr && m->FindCodec(media.payload_type) != nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<SessionDescription> offer = ParseSdp(text);
  if (!offer.ok()) {
    FUZZ_CHECK(offer.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(size <= kMaxSdpBytes);
  FUZZ_CHECK(offer->media.size() <= kMaxMediaSections);
  for (RelayRole role : {RelayRole::kSend, RelayRole::kReceive}) {
    absl::StatusOr<Answer> answer = BuildAnswer(*offer, Options(role));
    if (!answer.ok()) {
      FUZZ_CHECK(answer.status().code() == absl::StatusCode::kInvalidArgument ||
                 answer.status().code() ==
                     absl::StatusCode::kFailedPrecondition);
      continue;
    }
    FUZZ_CHECK(answer->video.has_value() || answer->audio.has_value());
    FUZZ_CHECK(answer->sdp.size() <= kMaxAnswerBytes);
    FUZZ_CHECK(!answer->video || OfferHas(*offer, *answer->video));
    FUZZ_CHECK(!answer->audio || OfferHas(*offer, *answer->audio));
    absl::StatusOr<SessionDescription> parsed = ParseSdp(answer->sdp);
    FUZZ_CHECK(parsed.ok());
    FUZZ_CHECK(parsed->ice_lite);
    FUZZ_CHECK(parsed->media.size() == offer->media.size());
  }
  return 0;
}
