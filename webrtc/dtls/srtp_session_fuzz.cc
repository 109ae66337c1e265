// Fuzzes SrtpSession's UnprotectRtp and UnprotectRtcp with runs of packets
// into one fresh session (fuzz_seeds.h has the input format): never reads or
// writes outside the packet (ASan), and what it accepts is the packet less
// exactly its tag (and SRTCP index).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "webrtc/dtls/fuzz_seeds.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cascade::dtls::SrtpFuzzResult;
  using cascade::dtls::SrtpSessionError;
  for (const SrtpFuzzResult& result :
       cascade::dtls::RunSrtpSessionInput({data, size})) {
    if (result.error == SrtpSessionError::kOk &&
        result.plain + result.overhead != result.size) {
      std::abort();
    }
  }
  return 0;
}
