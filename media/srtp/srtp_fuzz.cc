// Fuzzes SrtpReceiver::Unprotect with runs of packets into one fresh
// receiver: never reads or writes outside its buffers (ASan), and what it
// accepts is the packet's own header with a payload shorter by the key id
// and tag.
#include <cstring>
#include <vector>

#include "media/rtp/fuzz_check.h"
#include "media/rtp/rtp.h"
#include "media/srtp/fuzz_seeds.h"
#include "media/srtp/srtp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cascade::srtp;
  static const std::vector<StreamKey> keys = FuzzKeys();
  auto receiver = SrtpReceiver::Create(kFuzzSsrc, keys);
  FUZZ_CHECK(receiver.ok());
  std::vector<uint8_t> out;
  for (absl::Span<const uint8_t> packet : SplitPackets({data, size})) {
    out.assign(packet.size(), 0);
    size_t plain = 0;
    if ((*receiver)->Unprotect(packet, absl::MakeSpan(out), &plain) !=
        SrtpError::kOk) {
      continue;
    }
    FUZZ_CHECK(plain + 1 + kTagSize <= packet.size());
    cascade::rtp::RtpView view;
    FUZZ_CHECK(cascade::rtp::ParseRtp(absl::MakeConstSpan(out.data(), plain),
                                      &view) == cascade::rtp::RtpError::kOk);
    FUZZ_CHECK(view.ssrc == kFuzzSsrc);
    FUZZ_CHECK(std::memcmp(out.data(), packet.data(), view.header_size()) == 0);
  }
  return 0;
}
